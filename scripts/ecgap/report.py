"""Words and numbers for the HTML report: finding sentences and HTML tables.

The lazy caption objects (:class:`~ecgap.captions.Findings`) live in
:mod:`ecgap.captions`, which imports only the standard library.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ecgap.aal3 import readable_region
from ecgap.io import write_text

TABLE_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 13px; margin: 8px; }
h3 { font-size: 14px; margin: 4px 0 8px 0; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; }
td.text, th.text { text-align: left; }
p.note { color: #555; }
"""


def fmt_p(p: float) -> str:
    """APA-style p: '.012', '< .001'."""
    if pd.isna(p):
        return "n/a"
    return "< .001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def p_relation(p: float) -> str:
    """'= .012' or '< .001', to follow 'p'."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def cluster_sentence(clusters: pd.DataFrame, contrast: str, label: str,
                     stat: str = "peak_zscore") -> str:
    """'affect > memory: 2 FWE-significant clusters: right insula (38, 18, 0; z = 4.10;
    14 voxels; p = .001), ...' or '...: no FWE-significant cluster'."""
    sig = clusters[(clusters["contrast"] == contrast) & clusters["significant"].astype(bool)]
    if sig.empty:
        return f"{label}: no FWE-significant cluster"
    parts = []
    for row in sig.sort_values("size_voxels", ascending=False).itertuples():
        p = getattr(row, "p_fwe_size", float("nan"))
        p_text = "" if pd.isna(p) else f"; p(FWE) {p_relation(p)}"
        parts.append(f"{readable_region(row.peak_label)} ({row.peak_x:.0f}, {row.peak_y:.0f}, "
                     f"{row.peak_z:.0f}; "
                     f"z = {getattr(row, stat):.2f}; {int(row.size_voxels)} voxels{p_text})")
    noun = "cluster" if len(sig) == 1 else "clusters"
    return f"{label}: {len(sig)} FWE-significant {noun}: " + ", ".join(parts)


def table_html(table: pd.DataFrame, title: str, note: str = "", digits: int = 3) -> str:
    """A small self-contained HTML page showing ``table`` (for the Snakemake report)."""
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(
                lambda v: "n/a" if pd.isna(v) else f"{v:.{digits}g}" if abs(v) < 1e-3
                else f"{v:.{digits}f}")
    if shown.empty:
        body = "<p>(no rows)</p>"
    else:
        body = shown.to_html(index=False, na_rep="n/a", border=0, escape=True)
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{TABLE_CSS}</style></head><body><h3>{html.escape(title)}</h3>"
            f"{body}{note_html}</body></html>\n")


def write_table_html(table: pd.DataFrame, path: str | Path, title: str, note: str = "") -> None:
    """Write :func:`table_html` atomically."""
    write_text(table_html(table, title, note), path)


def group_summary(clusters: pd.DataFrame, sidecar: Mapping[str, Any],
                  contrast_labels: Mapping[str, str]) -> dict[str, Any]:
    """Numbers and one sentence per contrast for a group or brain-behaviour analysis."""
    return {
        "n": sidecar.get("N"),
        "n_per_group": sidecar.get("NPerGroup", {}),
        "dropped": sidecar.get("DroppedByQC", []),
        "df": sidecar.get("DegreesOfFreedom"),
        "permutations": sidecar.get("Permutations"),
        "cluster_forming_p": sidecar.get("ClusterFormingP"),
        "cluster_forming_t": sidecar.get("ClusterFormingT"),
        "n_significant": {c: int((clusters["contrast"].eq(c)
                                  & clusters["significant"].astype(bool)).sum())
                          for c in contrast_labels},
        "sentences": {c: cluster_sentence(clusters, c, label)
                      for c, label in contrast_labels.items()},
    }


def network_summary(voxels: Mapping[str, int], overlap: int, voxel_mm3: float,
                    words: Mapping[str, str]) -> dict:
    """Figure 3A's numbers: significant voxels per change period (named by ``words``)
    and their overlap."""
    parts = [f"{words[p]}: {n} voxels ({n * voxel_mm3 / 1000:.1f} cm3)"
             for p, n in voxels.items()]
    return {"voxels": dict(voxels), "overlap_voxels": int(overlap),
            "sentence": "; ".join(parts) + f"; overlap: {overlap} voxels"}



def manova_sentence(table: pd.DataFrame, name: str) -> str:
    """'SoVT MANOVA: video F(3, 47) = 8.18, p < .001; ...' from a manova.tsv table."""
    parts = [f"{row.effect} F({row.df1}, {row.df2}) = {row.F:.2f}, p {p_relation(row.p)}"
             for row in table.itertuples()]
    return f"{name}: " + ("; ".join(parts) or "not run (the design has no such measures)")


def qc_summary(runs: pd.DataFrame) -> dict[str, Any]:
    """QC numbers: excluded runs and their reasons, median FD and tSNR."""
    excluded = runs[runs["excluded"].astype(bool)]
    reasons = [f"sub-{r.subject} {r.session} ({r.reason})" for r in excluded.itertuples()]
    sentence = (f"{len(excluded)} of {len(runs)} runs excluded"
                + (": " + "; ".join(reasons) if reasons else "")
                + f". Median mean FD {runs['mean_fd'].median():.2f} mm, "
                  f"median tSNR {runs['tsnr'].median():.0f}.")
    return {"n_runs": len(runs), "n_excluded": len(excluded), "sentence": sentence}


def headline_findings(summaries: Mapping[str, Mapping[str, Any]], analyses: list[str],
                      conjunctions: list[str], brain_behaviour: list[str]) -> dict[str, Any]:
    """The front page's findings, one line each, from the figure rules' JSON summaries
    (keyed by path: ``.../<stage>/<name>/figures/summary.json`` or ``figures/<x>.json``)."""
    def find(stage: str, name: str) -> Mapping[str, Any]:
        return next(v for k, v in summaries.items()
                    if Path(k).parts[-4:-2] == (stage, name))

    def named(suffix: str) -> Mapping[str, Any]:
        return next(v for k, v in summaries.items() if k.endswith(suffix))

    behaviour, networks, qc = (named("behaviour_summary.json"), named("networks_summary.json"),
                               named("qc_summary.json"))
    group = [f"{name} ({find('second_level', name)['n']} subjects): "
             + "; ".join(find("second_level", name)["sentences"].values()) for name in analyses]
    parametric = [f"{name}: " + "; ".join(find("brain_behaviour", name)["sentences"].values())
                  for name in brain_behaviour]
    return {
        "behaviour": [behaviour["sovt_manova"], behaviour["memory_manova"],
                      behaviour["paper_agreement"]],
        "networks": networks["sentence"],
        "group": group,
        "conjunctions": [find("conjunctions", name)["verdict"] for name in conjunctions],
        "cluster_overlaps": [find("conjunctions", name)["cluster_overlap"]
                             for name in conjunctions],
        "brain_behaviour": parametric,
        "qc": qc["sentence"],
    }
