"""Rule simulate_truth: per-subject imaging gains, planted effect maps and regions."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_tsv, save_nifti, write_tsv
from ecgap.simulate_images import ImagingParams, regions_table, subject_gains, truth_images
from ecgap.snake import run


def main(smk):
    params = ImagingParams(**smk.params.imaging)
    subjects = read_tsv(smk.input.subjects)
    write_tsv(subject_gains(subjects, smk.params.affect_label, params, smk.params.seed),
              smk.output.gains)
    write_tsv(regions_table(), smk.output.regions)
    images = truth_images(params, smk.params.grid_mm)
    for path in smk.output.maps:
        name = path.split("_desc-")[1].split("_")[0]
        save_nifti(images[name], path)
    save_nifti(images["regions"], smk.output.labels)
    save_nifti(images["support"], smk.output.support)


run(snakemake, main)  # noqa: F821
