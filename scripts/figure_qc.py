"""Rule figure_qc: framewise displacement and tSNR per run, and the exclusion tables."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.figures import plot_motion_qc, save_figure
from ecgap.io import read_tsv, write_json
from ecgap.report import qc_summary, write_table_html
from ecgap.snake import run


def main(smk):
    runs = read_tsv(smk.input.runs, dtype={"subject": str, "session": str})
    save_figure(plot_motion_qc(runs, smk.params.sessions, smk.params.fd_limit),
                smk.output.figure, smk.params.dpi)
    summary = qc_summary(runs)
    write_table_html(runs, smk.output.runs_table, "QC per run", note=summary["sentence"])
    write_table_html(read_tsv(smk.input.exclusions, dtype={"subject": str}),
                     smk.output.exclusions_table, "Excluded runs",
                     note="Excluded runs drop the subject from every analysis of a change "
                          "period that needs the run.")
    write_json(summary, smk.output.summary)


run(snakemake, main)  # noqa: F821
