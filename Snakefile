# ecgap: longitudinal training fMRI analysis (after Klimecki et al. 2014).
# Wiring only: the analysis lives in the ecgap library under scripts/ecgap/.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


if DATA["source"] == "simulate":

    include: "rules/simulate.smk"

include: "rules/ingest.smk"
include: "rules/behaviour.smk"
include: "rules/first_level.smk"
include: "rules/second_level.smk"
include: "rules/conjunction.smk"
include: "rules/parametric.smk"
include: "rules/roi.smk"
include: "rules/figures.smk"


drop_benchmarks_of_cached_rules()
check_outputs_outside_inputs()


rule all:
    input:
        get_final_outputs(),
    default_target: True


# The run is over: do not wait for Snakemake's next re-planning (profiles/default).
onsuccess:
    cancel_pending_timers()


onerror:
    cancel_pending_timers()
