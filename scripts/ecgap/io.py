"""Input errors and atomic writers.

Every writer here writes to a temporary file beside the target and renames it into
place, so a job that fails half-way never leaves a file that Snakemake (or a user)
could mistake for a finished output.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import nibabel as nib
import numpy as np
import pandas as pd


class InputError(ValueError):
    """A problem with the user's data or config, with the file (or key) it concerns."""

    def __init__(self, where: str | os.PathLike[str], problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path that is renamed to ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_tsv(df: pd.DataFrame, target: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write a BIDS-style TSV (tab-separated, ``n/a`` for missing values) atomically."""
    kwargs.setdefault("index", False)
    with atomic_path(target) as tmp:
        df.to_csv(tmp, sep="\t", na_rep="n/a", **kwargs)


def write_json(obj: Any, target: str | os.PathLike[str]) -> None:
    """Write pretty, key-sorted JSON atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_text(text: str, target: str | os.PathLike[str]) -> None:
    """Write a text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def save_nifti(img: Any, target: str | os.PathLike[str], dtype: Any = None) -> None:
    """Save a nibabel image atomically (keeps the ``.nii.gz`` suffix for compression).

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The image to write.
    target : path
        Its file name (``.nii.gz`` or ``.nii``).
    dtype : numpy dtype, optional
        Store the data as this type, with nibabel's scaling for integer types (the
        simulator writes int16 BOLD series, as fMRIPrep does). By default continuous
        (floating-point) data are stored as float32 without scaling and integer or boolean
        data (masks, label images) keep an integer type: nibabel would otherwise store a
        map built on a uint8 mask's header as uint8 with a scale factor.
    """
    suffix = ".nii.gz" if str(target).endswith(".nii.gz") else ".nii"
    out = storage_image(img) if dtype is None else _as_dtype(img, dtype)
    with atomic_path(target, suffix=suffix) as tmp:
        out.to_filename(str(tmp))


def storage_image(img: Any) -> nib.Nifti1Image:
    """``img`` with the on-disk type its content calls for (see :func:`save_nifti`)."""
    data = np.asanyarray(img.dataobj)
    if np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float32, copy=False)
    elif data.dtype == bool:
        data = data.astype(np.uint8)
    header = img.header.copy()
    header.set_data_dtype(data.dtype)
    out = nib.Nifti1Image(data, img.affine, header)
    out.header.set_slope_inter(None, None)  # no scaling: the stored values are the values
    return out


def _as_dtype(img: Any, dtype: Any) -> nib.Nifti1Image:
    out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header.copy())
    out.set_data_dtype(dtype)
    return out


def read_tsv(path: str | os.PathLike[str], **kwargs: Any) -> pd.DataFrame:
    """Read a BIDS TSV, mapping ``n/a`` to NaN; a missing or unparsable file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable tab-separated table ({err})") from err


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON sidecar; a missing or malformed file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(path, f"malformed JSON ({err})") from err


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
