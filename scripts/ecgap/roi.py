"""Cluster parameter estimates: each subject's mean effect per session and video type
inside every FWE-significant cluster (the data behind the paper's Figure 3B)."""

from __future__ import annotations

from typing import Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.maskers import NiftiLabelsMasker

ROI_COLUMNS = ["contrast", "cluster_id", "peak_label", "subject", "group", "in_analysis",
               "session", "video_type", "effect"]


def significant_labels(labels: nib.Nifti1Image, cluster_ids: Sequence[int]) -> nib.Nifti1Image:
    """The label image with every cluster not in ``cluster_ids`` set to 0."""
    data = np.asarray(labels.dataobj)
    return nib.Nifti1Image(np.where(np.isin(data, list(cluster_ids)), data, 0).astype(np.int16),
                           labels.affine)


def cluster_means(labels: nib.Nifti1Image, maps: Sequence[nib.Nifti1Image]) -> pd.DataFrame:
    """Mean of each map inside each non-zero label: rows = maps, columns = label ids."""
    masker = NiftiLabelsMasker(labels, strategy="mean")
    values = masker.fit_transform(list(maps))
    ids = [masker.region_ids_[i] for i in range(values.shape[1])]
    return pd.DataFrame(values, columns=[int(i) for i in ids])


def roi_values(labels: Mapping[str, nib.Nifti1Image], clusters: pd.DataFrame,
               effect_maps: Mapping[tuple[str, str, str], str], participants: pd.DataFrame,
               in_analysis: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Per significant cluster of each contrast, every subject's mean effect.

    ``labels`` maps contrast names to cluster label images (ids as in ``clusters``);
    ``effect_maps`` maps (subject, session, video type) to first-level effect maps;
    ``in_analysis`` maps contrast names to the subjects the group model used.
    """
    keys = list(effect_maps)
    maps = [nib.load(effect_maps[k]) for k in keys] if keys else []
    group = participants.set_index("subject")["role"]
    frames = []
    for contrast, label_img in labels.items():
        chosen = clusters[(clusters["contrast"] == contrast) & clusters["significant"]]
        if chosen.empty:
            continue
        means = cluster_means(significant_labels(label_img, chosen["cluster_id"]), maps)
        used = set(in_analysis[contrast])
        for _, cluster in chosen.iterrows():
            cid = int(cluster["cluster_id"])
            frames.append(pd.DataFrame({
                "contrast": contrast, "cluster_id": cid, "peak_label": cluster["peak_label"],
                "subject": [k[0] for k in keys],
                "group": [group.get(k[0], "") for k in keys],
                "in_analysis": [k[0] in used for k in keys],
                "session": [k[1] for k in keys], "video_type": [k[2] for k in keys],
                "effect": means[cid].to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=ROI_COLUMNS)
    return pd.concat(frames, ignore_index=True)[ROI_COLUMNS]
