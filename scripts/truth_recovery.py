"""Rule truth_recovery (simulated data only): FWE-significant clusters vs planted truth."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.design import Design
from ecgap.io import read_tsv, write_tsv
from ecgap.names import entities_of
from ecgap.recovery import recovery_tables
from ecgap.snake import run


def main(smk):
    maps = {tuple(key): path for key, path in zip(smk.params.map_keys, smk.input.maps)}
    truth = {entities_of(path)["desc"]: nib.load(path) for path in smk.input.truth}
    summary, regions = recovery_tables(maps, smk.params.analyses, truth,
                                       nib.load(smk.input.core), nib.load(smk.input.support),
                                       read_tsv(smk.input.regions),
                                       Design.from_dict(smk.params.design),
                                       smk.params.changes, smk.params.connectivity)
    for row in summary.itertuples():
        logging.info("%s %s: planted regions %s, detected %s; %d significant voxels, "
                     "precision %.2f, %d of %d clusters off target", row.analysis,
                     row.contrast, row.expected_regions or "none",
                     row.detected_regions or "none", row.significant_voxels, row.precision,
                     row.off_target_clusters, row.clusters)
    write_tsv(summary, smk.output.summary)
    write_tsv(regions, smk.output.regions)


run(snakemake, main)  # noqa: F821
