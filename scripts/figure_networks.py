"""Rule figure_networks: the paper's Figure 3A, each change period's clusters on the template."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib
import numpy as np

from ecgap.figures import binary_union, period_sample_label, plot_networks, save_figure
from ecgap.io import read_json, write_json
from ecgap.report import network_summary
from ecgap.snake import run


def main(smk):
    periods = smk.params.periods
    networks = {period: binary_union([nib.load(p) for p in smk.input[period]])
                for period in periods}
    samples = {period: period_sample_label(
        [read_json(p) for p in smk.input[f"{period}_sidecars"]], smk.params.groups)
        for period in periods}
    save_figure(plot_networks(networks, smk.params.cut_coords, periods, samples),
                smk.output.figure, smk.params.dpi)
    masks = [np.asarray(v.dataobj).astype(bool) for v in networks.values() if v is not None]
    voxels = {k: int(np.asarray(v.dataobj).astype(bool).sum()) if v is not None else 0
              for k, v in networks.items()}
    # Voxels in the networks of two or more periods (with two periods: in both).
    overlap = int((np.sum(masks, axis=0) >= 2).sum()) if len(masks) >= 2 else 0
    any_img = next((v for v in networks.values() if v is not None), None)
    voxel_mm3 = float(abs(np.linalg.det(any_img.affine[:3, :3]))) if any_img is not None else 0
    write_json({**network_summary(voxels, overlap, voxel_mm3, periods), "samples": samples},
               smk.output.summary)


run(snakemake, main)  # noqa: F821
