"""The ecgap permutation engine against nilearn's permuted_ols / non_parametric_inference."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiMasker
from nilearn.mass_univariate import permuted_ols as nilearn_permuted_ols
from scipy import ndimage

from ecgap import permutation
from ecgap.second_level import (Inference, cluster_table, contrast_vector, group_design,
                                load_aal3, partition_design, permutation_maps)

SHAPE = (14, 15, 12)
N = 19
KEYS_CLOSE = ["t", "logp_max_t", "h0_max_t", "mass", "h0_max_mass", "logp_max_mass"]
KEYS_EXACT = ["h0_max_size", "size", "logp_max_size"]


def _smooth_data(seed=0, n=N, effect=0.6):
    """Smooth noise in a box mask, float32 like NiftiMasker output, effect in 9 maps."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(SHAPE, bool)
    mask[1:13, 1:14, 1:11] = True
    vols = np.stack([ndimage.gaussian_filter(rng.normal(size=SHAPE), 1.2) for _ in range(n)])
    vols[:9, 4:8, 4:8, 3:6] += effect * vols.std()
    return vols[:, mask].astype(np.float32), mask, rng


def _designs(rng):
    ones = np.ones(N)
    group = np.r_[np.ones(9), -np.ones(N - 9)] / 2
    return {
        "one-sample": (ones, None, False),
        "one-sample + covariate": (ones, rng.normal(size=(N, 1)), False),
        "two-sample + covariates": (group, np.c_[ones, rng.normal(size=(N, 2))], False),
        "regression": (rng.normal(size=N), rng.normal(size=(N, 2)), True),
    }


# Every design in one process; the split of the permutations over two jobs (which
# follows nilearn's per-job seeds whatever the design) with the richest design.
@pytest.mark.parametrize("name, n_jobs", [("one-sample", 1), ("one-sample + covariate", 1),
                                          ("two-sample + covariates", 1), ("regression", 1),
                                          ("two-sample + covariates", 2)])
def test_engine_reproduces_nilearn_null_distributions(name, n_jobs):
    y, mask, rng = _smooth_data()
    tested, confounds, intercept = _designs(rng)[name]
    masker = NiftiMasker(nib.Nifti1Image(mask.astype(np.uint8), np.eye(4))).fit()
    nilearn_confounds = confounds
    if name == "two-sample + covariates":
        # nilearn would sign-flip this two-sample test for its constant confound column;
        # ecgap permutes it with that column as the model intercept.
        nilearn_confounds, intercept = confounds[:, 1:], True
    expected = nilearn_permuted_ols(tested, y, confounding_vars=nilearn_confounds,
                                    model_intercept=intercept, n_perm=60,
                                    two_sided_test=False, random_state=5, n_jobs=n_jobs,
                                    masker=masker, threshold=0.01)
    got = permutation.permuted_ols(tested, y, confounds, mask, n_perm=60, threshold_p=0.01,
                                   seed=5, n_jobs=n_jobs, model_intercept=intercept,
                                   threads=2, memory_mb=0.5)  # several batches
    for key in KEYS_CLOSE:
        np.testing.assert_allclose(np.ravel(got[key]), np.ravel(expected[key]), rtol=1e-6,
                                   atol=1e-6, err_msg=key)
    for key in KEYS_EXACT:
        np.testing.assert_array_equal(np.ravel(got[key]), np.ravel(expected[key]), err_msg=key)
    assert got["h0_max_size"].max() > 0  # the null did contain clusters


def _partitioned(n, covariates, weights, seed=0):
    rng = np.random.default_rng(seed)
    n_affect = n // 2
    subjects = pd.DataFrame({"subject": [f"{i:02d}" for i in range(n)],
                             "role": ["affect"] * n_affect + ["memory"] * (n - n_affect),
                             "age": rng.normal(24, 4, n), "bdi": rng.gamma(1, 3, n)})
    design = group_design(subjects, covariates, ["affect", "memory"])
    return partition_design(design, contrast_vector(design, weights)).to_numpy()


@pytest.mark.parametrize("covariates", [[], ["age"], ["age", "bdi"]])
def test_scheme_never_switches_with_sample_size(covariates):
    for n in range(5, 61):
        two_sample = _partitioned(n, covariates, {"affect": 1.0, "memory": -1.0}, seed=n)
        one_group = _partitioned(n, covariates, {"affect": 1.0}, seed=n)
        # the tested column of a one-group mean is the group indicator: permuted too
        assert not permutation.exchangeability(two_sample[:, :1], two_sample[:, 1:]).sign_flip
        assert not permutation.exchangeability(one_group[:, :1], one_group[:, 1:]).sign_flip


@pytest.mark.parametrize("covariates", [[], ["age", "bdi"]])
def test_one_sample_test_after_partitioning_equals_the_exact_column(covariates):
    """A true effect: the partitioned (constant only to ~1e-15) intercept is sign-flipped
    and gives the same FWE p as an exact column of ones with the covariates."""
    y, mask, rng = _smooth_data(seed=4, effect=0.0)
    y = y + np.float32(0.8 * y.std())  # a mean effect everywhere
    covs = rng.normal(size=(N, 2))[:, :len(covariates)]
    covs = covs - covs.mean(axis=0)
    design = pd.DataFrame(np.c_[np.ones(N), covs],
                          columns=["intercept"] + [f"c{i}" for i in range(covs.shape[1])])
    partitioned = partition_design(design, contrast_vector(design, {"intercept": 1.0}))
    values = partitioned.to_numpy()
    assert np.ptp(values[:, 0]) > 0 or not covariates  # not exactly constant
    run = dict(mask=mask, n_perm=200, threshold_p=0.01, seed=7)
    got = permutation.permuted_ols(values[:, 0], y, values[:, 1:] if covariates else None,
                                   **run)
    exact = permutation.permuted_ols(np.ones(N), y, covs if covariates else None, **run)
    assert permutation.prepare_design(values[:, :1], y, values[:, 1:]).sign_flip
    np.testing.assert_allclose(got["logp_max_t"], exact["logp_max_t"], atol=1e-9)
    np.testing.assert_allclose(got["t"], exact["t"], rtol=1e-6)
    assert got["logp_max_t"].max() == pytest.approx(-np.log10(1 / 201))


def test_max_cluster_measures_match_ndimage_labels():
    rng = np.random.default_rng(1)
    mask = rng.random(SHAPE) > 0.15
    t = np.stack([ndimage.gaussian_filter(rng.normal(size=SHAPE), 1.0)[mask] * 3
                  for _ in range(7)])
    sizes, masses = permutation.max_cluster_measures(t, 1.0, permutation.neighbour_pairs(mask))
    for row, size, mass in zip(t, sizes, masses):
        volume = np.zeros(SHAPE)
        volume[mask] = row
        labels, n = ndimage.label(volume > 1.0)  # 6-connected by default
        assert n > 1
        counts = np.bincount(labels.ravel())[1:]
        sums = ndimage.sum(volume - 1.0, labels, index=np.arange(1, n + 1))
        assert size == counts.max()
        assert mass == pytest.approx(np.max(sums), rel=1e-10)


def test_threads_and_batches_do_not_change_the_result():
    y, mask, rng = _smooth_data(seed=2)
    tested, confounds, _ = _designs(rng)["two-sample + covariates"]
    runs = [permutation.permuted_ols(tested, y, confounds, mask, 50, 0.01, seed=3,
                                     threads=threads, memory_mb=memory)
            for threads, memory in [(1, 1000.0), (2, 0.3)]]
    for key in KEYS_CLOSE:  # BLAS rounding differs with the batch shape, nothing more
        np.testing.assert_allclose(runs[0][key], runs[1][key], rtol=1e-12, err_msg=key)
    for key in KEYS_EXACT:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)


def test_batch_size_is_bounded_by_memory():
    assert permutation.batch_size_for(53, 60_000, 3, memory_mb=3) < \
        permutation.batch_size_for(53, 60_000, 3, memory_mb=1000) == permutation.MAX_BATCH
    assert permutation.batch_size_for(53, 60_000, 3, memory_mb=0.001) == 1


def _group_images(seed=0):
    y, mask, rng = _smooth_data(seed=seed, n=18)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-28, -30, -20]
    maps = []
    for row in y:
        vol = np.zeros(SHAPE, np.float32)
        vol[mask] = row
        maps.append(nib.Nifti1Image(vol, affine))
    subjects = pd.DataFrame({"subject": [f"{i:02d}" for i in range(18)],
                             "role": ["affect"] * 9 + ["memory"] * 9,
                             "age": rng.normal(24, 4, 18), "bdi": rng.gamma(1, 3, 18)})
    return maps, subjects, nib.Nifti1Image(mask.astype(np.uint8), affine)


def test_both_engines_give_the_same_maps_and_cluster_tables():
    maps, subjects, mask = _group_images()
    design = group_design(subjects, ["age", "bdi"], ["affect", "memory"])
    contrast = contrast_vector(design, {"affect": 1.0, "memory": -1.0})
    base = dict(n_permutations=40, cluster_forming_p=0.01, seed=2)
    ours = permutation_maps(maps, design, contrast, mask, Inference(engine="ecgap", n_jobs=2,
                                                                    **base))
    theirs = permutation_maps(maps, design, contrast, mask, Inference(engine="nilearn",
                                                                      n_jobs=1, **base))
    for key in ours:
        np.testing.assert_allclose(ours[key].get_fdata(), theirs[key].get_fdata(),
                                   rtol=1e-6, atol=1e-6, err_msg=key)
    atlas = load_aal3()
    tables = [cluster_table(m["t"], m["t"], m["logp_max_size"], m["logp_max_mass"], 2.6,
                            atlas)[0] for m in (ours, theirs)]
    assert len(tables[0]) > 0
    pd.testing.assert_frame_equal(tables[0], tables[1], rtol=1e-6)


def test_unknown_engine_is_rejected():
    maps, subjects, mask = _group_images()
    design = group_design(subjects, [], ["affect", "memory"])
    contrast = contrast_vector(design, {"affect": 1.0})
    with pytest.raises(ValueError, match="engine"):
        permutation_maps(maps, design, contrast, mask, Inference(engine="fsl"))


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_cluster_measures_and_tables_use_one_connectivity(connectivity):
    rng = np.random.default_rng(3)
    mask = rng.random(SHAPE) > 0.1
    t = np.stack([ndimage.gaussian_filter(rng.normal(size=SHAPE), 0.8)[mask] * 4
                  for _ in range(5)])
    structure = permutation.cluster_structure(connectivity)
    assert structure.sum() == connectivity + 1
    sizes, _ = permutation.max_cluster_measures(
        t, 1.0, permutation.neighbour_pairs(mask, connectivity))
    for row, size in zip(t, sizes):
        volume = np.zeros(SHAPE)
        volume[mask] = row
        labels, _ = ndimage.label(volume > 1.0, structure)
        assert size == np.bincount(labels.ravel())[1:].max()
    # the cluster table labels the observed map with the same neighbours
    volume = np.zeros(SHAPE, np.float32)
    volume[mask] = t[0]
    img = nib.Nifti1Image(volume, np.diag([4.0, 4.0, 4.0, 1.0]))
    table, label_img = cluster_table(img, img, None, None, 1.0, load_aal3(), connectivity)
    assert table["size_voxels"].max() == sizes[0]
    assert (np.diff(table["peak_t"]) <= 0).all()  # numbered by descending peak


def test_cluster_table_matches_nilearns_at_six_neighbours():
    from nilearn.reporting import get_clusters_table
    maps, _, _ = _group_images(seed=5)
    img = maps[0]
    table, labels = cluster_table(img, img, None, None, 0.3, load_aal3())
    theirs, label_maps = get_clusters_table(img, 0.3, two_sided=False,
                                            return_label_maps=True)
    peaks = theirs[theirs["Cluster ID"].astype(str).str.fullmatch(r"\d+")]
    assert len(table) == len(peaks) > 2
    np.testing.assert_array_equal(np.asarray(labels.dataobj), np.asarray(label_maps[0].dataobj))
    np.testing.assert_allclose(table[["peak_x", "peak_y", "peak_z", "peak_t"]].to_numpy(float),
                               peaks[["X", "Y", "Z", "Peak Stat"]].to_numpy(float), rtol=1e-6)


def test_nilearn_engine_refuses_other_connectivity():
    maps, subjects, mask = _group_images()
    design = group_design(subjects, [], ["affect", "memory"])
    contrast = contrast_vector(design, {"affect": 1.0, "memory": -1.0})
    with pytest.raises(ValueError, match="6-connected"):
        permutation_maps(maps, design, contrast, mask,
                         Inference(engine="nilearn", connectivity=18, n_permutations=10))


# ------------------------------------------------------------------ F contrasts

def _three_groups(n_per_group=7, n_voxels=60, seed=0, effect=0.0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([0, 1, 2], n_per_group)
    x = np.column_stack([(groups == g).astype(float) for g in range(3)]
                        + [rng.normal(0, 1, len(groups))])
    y = rng.standard_normal((len(groups), n_voxels)) + effect * (groups == 0)[:, None]
    return x, y


def _brute_force_f(x, y, rows, contrast):
    """Freedman-Lane by hand: the residualised data's rows permuted, the full model
    refitted, F of the contrast rows, maximum over voxels, per permutation. (The engine
    permutes the design's rows instead: the data permuted by the inverse order.)"""
    from ecgap.second_level import partition_block
    tested, nuisance = partition_block(pd.DataFrame(x), contrast)
    z = nuisance
    resid = y - z @ np.linalg.lstsq(z, y, rcond=None)[0]
    full = np.column_stack([tested, z])
    r, dof = tested.shape[1], len(y) - full.shape[1]
    maxima = []
    for order in rows:
        yp = resid[np.argsort(order)]
        beta = np.linalg.lstsq(full, yp, rcond=None)[0]
        rss = ((yp - full @ beta) ** 2).sum(axis=0)
        reduced = np.linalg.lstsq(z, yp, rcond=None)[0]
        rss0 = ((yp - z @ reduced) ** 2).sum(axis=0)
        maxima.append(np.max(((rss0 - rss) / r) / (rss / dof)))
    return np.array(maxima)


def test_f_null_equals_a_brute_force_freedman_lane_loop():
    from ecgap.permutation import permutation_rows, permuted_f
    from ecgap.second_level import partition_block

    x, y = _three_groups()
    contrast = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, -1.0, 0.0]])
    tested, nuisance = partition_block(pd.DataFrame(x), contrast)
    mask = np.zeros((6, 10, 1), bool)
    mask[:] = True
    out = permuted_f(tested, y, nuisance, mask, n_perm=40, threshold_p=0.05, seed=3)
    rows = np.concatenate(permutation_rows(len(y), 40, 3, 1, False))
    np.testing.assert_allclose(out["h0_max_t"], _brute_force_f(x, y, rows, contrast),
                               rtol=1e-8)
    # the observed F is the ordinary least-squares F of the contrast
    observed = _brute_force_f(x, y, np.arange(len(y))[None], contrast)
    assert out["F"].max() == pytest.approx(observed[0], rel=1e-8)


def test_f_of_one_row_is_t_squared_and_two_sided():
    from ecgap.permutation import permuted_f, permuted_ols
    from ecgap.second_level import partition_block, partition_design

    x, y = _three_groups(effect=0.8, seed=2)
    contrast = np.array([1.0, -1.0, 0.0, 0.0])
    mask = np.ones((6, 10, 1), bool)
    tested, nuisance = partition_block(pd.DataFrame(x), contrast)
    f = permuted_f(tested, y, nuisance, mask, n_perm=60, threshold_p=0.01, seed=5)
    parts = partition_design(pd.DataFrame(x), contrast).to_numpy()
    t = permuted_ols(parts[:, 0], y, parts[:, 1:], mask, n_perm=60, threshold_p=0.01, seed=5)
    np.testing.assert_allclose(f["F"], t["t"] ** 2, rtol=1e-8)
    # same permutations: the F null is the two-sided max |t| null, squared
    from ecgap.permutation import permutation_rows, prepare_design, t_scores
    rows = np.concatenate(permutation_rows(len(y), 60, 5, 1, False))
    design = prepare_design(parts[:, 0], y, parts[:, 1:])
    np.testing.assert_allclose(f["h0_max_t"], np.nanmax(t_scores(design, rows) ** 2, axis=1),
                               rtol=1e-8)


def test_group_level_f_map_equals_nilearns_parametric_f():
    import nibabel as nib
    from nilearn.glm.second_level import SecondLevelModel

    from ecgap.second_level import Inference, analyse_contrasts

    x, y = _three_groups(n_voxels=6 * 10, effect=1.0, seed=4)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    maps = [nib.Nifti1Image(row.reshape(6, 10, 1).astype(np.float32), affine) for row in y]
    mask = nib.Nifti1Image(np.ones((6, 10, 1), np.uint8), affine)
    design = pd.DataFrame(x, columns=["a", "b", "c", "age"])
    contrast = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, -1.0, 0.0]])
    results = analyse_contrasts(maps, design, {"groupsF": contrast}, mask,
                                Inference(n_permutations=50, cluster_forming_p=0.05),
                                atlas=(mask, {}))
    model = SecondLevelModel(mask_img=mask).fit(maps, design_matrix=design)
    expected = model.compute_contrast(contrast, second_level_stat_type="F",
                                      output_type="stat")
    np.testing.assert_allclose(np.asarray(results["groupsF"].images["F"].dataobj),
                               np.asarray(expected.dataobj), rtol=1e-4)
    assert set(results["groupsF"].images) == {"F", "z", "logpFWEvoxel", "logpFWEsize",
                                              "logpFWEmass", "FFWEcluster"}
