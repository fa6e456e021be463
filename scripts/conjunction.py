"""Rule conjunction: minimum-statistic conjunction at voxel FWE, and the cluster overlap."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.conjunction import (cluster_overlap, minimum_statistic, overlap_sentence,
                               peak_conjunction_p, verdict)
from ecgap.io import save_nifti, write_json, write_text, write_tsv
from ecgap.second_level import cluster_table, dseg_table, load_aal3
from ecgap.provenance import software_versions
from ecgap.snake import run


def min_z_clusters(min_z, contrast, atlas, connectivity):
    """Connected parts of a min-z map (every non-zero voxel already passed)."""
    table, labels = cluster_table(min_z, min_z, None, None, 0.0, atlas, connectivity)
    table = table.rename(columns={"peak_t": "peak_min_z"}).drop(
        columns=["peak_zscore", "p_fwe_size", "p_fwe_mass"])
    table.insert(0, "contrast", contrast)
    return table, labels


def main(smk):
    spec, atlas = smk.params.conjunction, load_aal3()
    z_maps = [nib.load(p) for p in smk.input.z]
    min_z, logp = minimum_statistic(z_maps, [nib.load(p) for p in smk.input.logp_voxel],
                                    smk.params.alpha)
    table, labels = min_z_clusters(min_z, spec["contrast"], atlas, smk.params.connectivity)
    table["p_fwe_voxel_conjunction"] = peak_conjunction_p(table, labels, logp)
    table["significant"] = True
    overlap = cluster_overlap(z_maps, [nib.load(p) for p in smk.input.fwe_clusters])
    overlap_table, _ = min_z_clusters(overlap, spec["contrast"], atlas,
                                      smk.params.connectivity)
    line = verdict(spec["name"], spec["analyses"], spec["contrast"], table)
    overlap_line = overlap_sentence(spec["name"], overlap_table)
    logging.info(line)
    logging.info(overlap_line)
    for img, path in ((min_z, smk.output.minz), (logp, smk.output.logp),
                      (labels, smk.output.cluster_labels), (overlap, smk.output.overlap)):
        save_nifti(img, path)
    write_tsv(table, smk.output.clusters)
    write_tsv(dseg_table(table), smk.output.cluster_label_table)
    write_tsv(overlap_table, smk.output.overlap_clusters)
    write_text(line + "\n", smk.output.verdict)
    write_json({"SoftwareVersions": software_versions(),
                "Conjunction": spec, "Statistic": "minimum z over the analyses, where "
                "every analysis is voxel-FWE significant (p < Alpha)", "Alpha":
                smk.params.alpha, "Null": "conjunction null (Nichols et al. 2005); the "
                "conjunction p of a voxel is the largest voxel-FWE p of the analyses",
                "Verdict": line, "ConjunctionVoxels": int(table["size_voxels"].sum()),
                "ClusterOverlap": overlap_line,
                "ClusterOverlapVoxels": int(overlap_table["size_voxels"].sum())},
               smk.output.sidecar)


run(snakemake, main)  # noqa: F821
