"""Rule figure_conjunction: the overlap map on a glass brain and slices, and its table."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.figures import plot_stat_maps, save_figure
from ecgap.io import read_json, read_tsv, write_json
from ecgap.report import write_table_html
from ecgap.snake import run


def main(smk):
    spec = smk.params.conjunction
    overlap = nib.load(smk.input.overlap)
    # Every non-zero voxel is already significant in all analyses: show them all.
    fig = plot_stat_maps(overlap, overlap, 0.0, f"{spec['name']} (minimum z)")
    save_figure(fig, smk.output.figure, smk.params.dpi)
    sidecar = read_json(smk.input.sidecar)
    write_table_html(read_tsv(smk.input.clusters), smk.output.table,
                     f"{spec['name']}: {' AND '.join(spec['analyses'])} ({spec['contrast']})",
                     note=sidecar["Verdict"])
    write_json({"verdict": sidecar["Verdict"], "overlap_voxels": sidecar["OverlapVoxels"]},
               smk.output.summary)


run(snakemake, main)  # noqa: F821
