"""Rule conjunction: minimum statistic over analyses that are each FWE-significant."""

import logging
import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.conjunction import minimum_statistic, verdict
from ecgap.io import save_nifti, write_json, write_text, write_tsv
from ecgap.second_level import cluster_table, load_aal3
from ecgap.snake import run


def main(smk):
    spec = smk.params.conjunction
    overlap = minimum_statistic([nib.load(p) for p in smk.input.z],
                                [nib.load(p) for p in smk.input.fwe])
    # Every voxel left is significant in all analyses; clusters are its connected parts.
    table, labels = cluster_table(overlap, overlap, None, None, 0.0, load_aal3())
    table = table.rename(columns={"peak_t": "peak_min_z"}).drop(columns=["peak_zscore"])
    table.insert(0, "contrast", spec["contrast"])
    table["significant"] = True
    line = verdict(spec["name"], spec["analyses"], spec["contrast"], table)
    logging.info(line)
    save_nifti(overlap, smk.output.overlap)
    save_nifti(labels, smk.output.cluster_labels)
    write_tsv(table, smk.output.clusters)
    write_text(line + "\n", smk.output.verdict)
    write_json({"Conjunction": spec, "Statistic": "minimum z over the analyses, where "
                "every analysis is cluster-FWE significant", "Null": "conjunction null "
                "(Nichols et al. 2005)", "Verdict": line,
                "OverlapVoxels": int(table["size_voxels"].sum()) if len(table) else 0},
               smk.output.sidecar)


run(snakemake, main)  # noqa: F821
