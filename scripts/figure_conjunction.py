"""Rule figure_conjunction: the conjunction map on a glass brain and slices, and its table."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.figures import plot_conjunction, sample_label, save_figure
from ecgap.io import read_json, read_tsv, write_json
from ecgap.report import write_table_html
from ecgap.snake import run


def main(smk):
    spec = smk.params.conjunction
    sidecar = read_json(smk.input.sidecar)
    fig = plot_conjunction(nib.load(smk.input.minz),
                           f"{spec['name']} ({' AND '.join(spec['analyses'])})",
                           sidecar["Alpha"])
    save_figure(fig, smk.output.figure, smk.params.dpi)
    write_table_html(read_tsv(smk.input.clusters), smk.output.table,
                     f"{spec['name']}: {' AND '.join(spec['analyses'])} ({spec['contrast']})",
                     note=f"{sidecar['Verdict']} {sidecar['ClusterOverlap']}")
    write_json({"verdict": sidecar["Verdict"], "conjunction_voxels":
                sidecar["ConjunctionVoxels"], "cluster_overlap": sidecar["ClusterOverlap"],
                "cluster_overlap_voxels": sidecar["ClusterOverlapVoxels"],
                "samples": {name: sample_label(read_json(path), smk.params.groups) for name, path
                            in zip(spec["analyses"], smk.input.analysis_sidecars)}},
               smk.output.summary)


run(snakemake, main)  # noqa: F821
