# Cluster parameter estimates: every subject's mean HE and LE effect per session inside
# each significant cluster of a group, conjunction or brain-behaviour analysis.


rule roi_values:
    input:
        unpack(get_roi_inputs),
    output:
        f"{RESULTS}/{{stage}}/{{name}}/roi_values.tsv",
    params:
        contrasts=get_roi_contrasts,
        map_keys=ROI_MAP_KEYS,
        library=library_version("roi_values.py"),
    log:
        f"{RESULTS}/logs/roi_values/{{stage}}_{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/roi_values/{{stage}}_{{name}}.tsv"
    wildcard_constraints:
        stage="second_level|conjunctions|brain_behaviour",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/roi_values.py"
