"""Rule figure_behaviour: the paper's Figure 2A (ratings) and 2B (memory scores)."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.figures import memory_summary, plot_memory, plot_ratings, rating_summary, save_figure
from ecgap.design import Design
from ecgap.io import read_tsv, write_json
from ecgap.report import manova_sentence
from ecgap.snake import run


def main(smk):
    p = smk.params
    ratings = read_tsv(smk.input.ratings, dtype={"subject": str})
    memory = read_tsv(smk.input.memory, dtype={"subject": str})
    design = Design.from_dict(p.design)
    save_figure(plot_ratings(rating_summary(ratings, design), design, p.groups),
                smk.output.ratings, p.dpi)
    save_figure(plot_memory(memory_summary(memory, design.scores), design.sessions, p.groups),
                smk.output.memory, p.dpi)
    paper = read_tsv(smk.input.paper_comparison)
    write_json({
        "sovt_manova": manova_sentence(read_tsv(smk.input.manova), "SoVT MANOVA"),
        "memory_manova": manova_sentence(read_tsv(smk.input.memory_manova), "Memory MANOVA"),
        "paper_agreement": (f"{int(paper['agree'].astype(bool).sum())} of {len(paper)} of "
                            "the paper's behavioural statistics agree in significance"
                            if len(paper) else "the design is not the paper's: no "
                            "comparison with its statistics"),
        "n_subjects": int(ratings["subject"].nunique()),
    }, smk.output.summary)


run(snakemake, main)  # noqa: F821
