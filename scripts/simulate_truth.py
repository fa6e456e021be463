"""Rule simulate_truth: per-subject imaging gains, planted effect maps and regions."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.design import Design
from ecgap.io import read_tsv, save_nifti, write_tsv
from ecgap.names import entities_of
from ecgap.simulate_images import ImagingParams, regions_table, subject_gains, truth_images
from ecgap.simulate_study import GRID_IMAGES, write_grid
from ecgap.snake import run


def main(smk):
    params, design = ImagingParams(**smk.params.imaging), Design.from_dict(smk.params.design)
    subjects = read_tsv(smk.input.subjects)
    write_tsv(subject_gains(subjects, design, params, smk.params.seed), smk.output.gains)
    regions = regions_table(params)
    write_tsv(regions, smk.output.regions)
    # One label table for both label images: a region's label is the same in each.
    write_tsv(regions[["index", "name"]], smk.output.support_table)
    images = truth_images(params, smk.params.grid_mm, design.condition_names)
    for path in smk.output.maps:
        save_nifti(images[entities_of(path)["desc"]], path)
    save_nifti(images["regions"], smk.output.labels)
    save_nifti(images["support"], smk.output.support)
    write_grid(smk.params.grid_mm, {key: smk.output[key] for key in GRID_IMAGES})


run(snakemake, main)  # noqa: F821
