"""The simulation grid and the planted regions (MNI coordinates in mm)."""

from __future__ import annotations

from functools import lru_cache

import nibabel as nib
import numpy as np
from scipy import ndimage

#: Region sets a planted training change can use (simulate.imaging.changes): the
#: salience network that empathy training changed in the paper (Post1 - Pre) and the
#: reward network that compassion training changed (Post2 - Post1; DESIGN section 3).
SALIENCE_REGIONS = {
    "insula_L": (-38, 20, 0),
    "insula_R": (38, 20, 0),
    "aMCC": (0, 20, 40),
}
REWARD_REGIONS = {
    "mOFC": (0, 46, -14),
    "pgACC": (0, 40, 6),
    "VS_L": (-10, 12, -8),
    "VS_R": (10, 12, -8),
}
REGION_SETS = {"salience": SALIENCE_REGIONS, "reward": REWARD_REGIONS}
#: Broad task-responsive regions for watching and rating videos (HE > LE everywhere here).
TASK_REGIONS = {
    "V1": (0, -88, 4), "LO_L": (-44, -74, -4), "LO_R": (44, -74, -4),
    "FFA_L": (-40, -54, -18), "FFA_R": (40, -54, -18), "STS_L": (-54, -40, 8),
    "STS_R": (54, -40, 8), "AI_L": (-36, 18, 2), "AI_R": (36, 18, 2), "dmPFC": (0, 44, 30),
    "amygdala_L": (-22, -4, -18), "amygdala_R": (22, -4, -18),
}


@lru_cache(maxsize=4)
def simulation_grid(grid_mm: float) -> tuple[nib.Nifti1Image, nib.Nifti1Image, nib.Nifti1Image]:
    """MNI brain mask, grey- and white-matter probability at ``grid_mm``, cropped to the brain.

    Returns (mask, gm, wm) images that share one affine and shape.
    """
    # Imported here: every simulate_run job imports this module but reads the grid that
    # simulate_truth stored, and nilearn's import (about 2 s) would be its largest cost.
    from nilearn import datasets, image

    brain = datasets.load_mni152_brain_mask(resolution=2)
    target = np.diag([grid_mm, grid_mm, grid_mm, 1.0])
    target[:3, 3] = brain.affine[:3, 3]
    mask = image.resample_img(brain, target_affine=target, interpolation="nearest",
                              force_resample=True, copy_header=True)
    mask = image.crop_img(mask, pad=True, rtol=1e-8, copy_header=True)
    gm = image.resample_to_img(datasets.load_mni152_gm_template(resolution=2), mask,
                               interpolation="continuous", force_resample=True,
                               copy_header=True)
    wm = image.resample_to_img(datasets.load_mni152_wm_template(resolution=2), mask,
                               interpolation="continuous", force_resample=True,
                               copy_header=True)
    mask_data = np.asarray(mask.dataobj) > 0
    out = [nib.Nifti1Image(mask_data.astype(np.uint8), mask.affine)]
    for img in (gm, wm):
        out.append(nib.Nifti1Image(np.clip(np.asarray(img.dataobj), 0, 1).astype(np.float32)
                                   * mask_data, mask.affine))
    return out[0], out[1], out[2]


def voxel_coordinates(img: nib.Nifti1Image) -> np.ndarray:
    """MNI coordinates (x, y, z) of every voxel, shape (*img.shape[:3], 3)."""
    ijk = np.indices(img.shape[:3]).reshape(3, -1).T
    xyz = nib.affines.apply_affine(img.affine, ijk)
    return xyz.reshape(*img.shape[:3], 3)


def blob(img: nib.Nifti1Image, centre: tuple[float, float, float], fwhm_mm: float,
         coordinates: np.ndarray | None = None) -> np.ndarray:
    """A Gaussian blob with peak 1 at ``centre`` on the grid of ``img`` (whose
    :func:`voxel_coordinates` may be given, when several blobs share the grid)."""
    sigma = fwhm_mm / np.sqrt(8 * np.log(2))
    xyz = voxel_coordinates(img) if coordinates is None else coordinates
    d2 = ((xyz - np.asarray(centre)) ** 2).sum(axis=-1)
    return np.exp(-d2 / (2 * sigma ** 2))


def region_map(img: nib.Nifti1Image, regions: dict[str, tuple[float, float, float]],
               fwhm_mm: float) -> np.ndarray:
    """Sum of blobs over ``regions``, capped at 1, zero outside the brain mask."""
    xyz = voxel_coordinates(img)  # once per map: it is most of a blob's cost at 3 mm
    total = sum(blob(img, centre, fwhm_mm, xyz) for centre in regions.values())
    return np.minimum(total, 1.0) * (np.asarray(img.dataobj) > 0)


def smooth_field(shape: tuple[int, ...], sigma_vox: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance spatially smooth Gaussian noise."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_vox)
    return field / field.std()
