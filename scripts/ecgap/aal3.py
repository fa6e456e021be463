"""Readable names of the AAL3 atlas regions (Rolls et al. 2020) for figures and text.

AAL3 codes such as ``Cingulate_Mid_R`` become "right middle cingulate".
"""

from __future__ import annotations

SIDES = {"L": "left", "R": "right"}

#: AAL3 region code (without the hemisphere) -> words.
REGION_WORDS = {
    "ACC_pre": "pregenual anterior cingulate", "ACC_sub": "subgenual anterior cingulate",
    "ACC_sup": "supracallosal anterior cingulate", "Amygdala": "amygdala",
    "Angular": "angular gyrus", "Calcarine": "calcarine cortex", "Caudate": "caudate",
    "Cingulate_Ant": "anterior cingulate", "Cingulate_Mid": "middle cingulate",
    "Cingulate_Post": "posterior cingulate", "Cuneus": "cuneus",
    "Frontal_Inf_Oper": "inferior frontal gyrus, opercular part",
    "Frontal_Inf_Orb_2": "inferior frontal gyrus, orbital part",
    "Frontal_Inf_Tri": "inferior frontal gyrus, triangular part",
    "Frontal_Med_Orb": "medial orbital frontal gyrus", "Frontal_Mid_2": "middle frontal gyrus",
    "Frontal_Sup_2": "superior frontal gyrus",
    "Frontal_Sup_Medial": "medial superior frontal gyrus",
    "Fusiform": "fusiform gyrus", "Heschl": "Heschl's gyrus", "Hippocampus": "hippocampus",
    "Insula": "insula", "LC": "locus coeruleus", "Lingual": "lingual gyrus",
    "N_Acc": "nucleus accumbens", "OFCant": "anterior orbitofrontal cortex",
    "OFClat": "lateral orbitofrontal cortex", "OFCmed": "medial orbitofrontal cortex",
    "OFCpost": "posterior orbitofrontal cortex", "Occipital_Inf": "inferior occipital gyrus",
    "Occipital_Mid": "middle occipital gyrus", "Occipital_Sup": "superior occipital gyrus",
    "Olfactory": "olfactory cortex", "Pallidum": "pallidum",
    "ParaHippocampal": "parahippocampal gyrus", "Paracentral_Lobule": "paracentral lobule",
    "Parietal_Inf": "inferior parietal lobule", "Parietal_Sup": "superior parietal lobule",
    "Postcentral": "postcentral gyrus", "Precentral": "precentral gyrus",
    "Precuneus": "precuneus", "Putamen": "putamen", "Raphe_D": "dorsal raphe",
    "Raphe_M": "median raphe", "Rectus": "gyrus rectus", "Red_N": "red nucleus",
    "Rolandic_Oper": "Rolandic operculum", "SN_pc": "substantia nigra, pars compacta",
    "SN_pr": "substantia nigra, pars reticulata", "Supp_Motor_Area": "supplementary motor area",
    "SupraMarginal": "supramarginal gyrus", "Temporal_Inf": "inferior temporal gyrus",
    "Temporal_Mid": "middle temporal gyrus", "Temporal_Pole_Mid": "middle temporal pole",
    "Temporal_Pole_Sup": "superior temporal pole", "Temporal_Sup": "superior temporal gyrus",
    "Thalamus": "thalamus", "VTA": "ventral tegmental area",
}
#: Prefixes whose rest is a subdivision code kept as written (thalamic nuclei, lobules).
SUBDIVIDED = {"Thal": "thalamus", "Cerebellum": "cerebellum", "Vermis": "vermis"}


def readable_region(code: str) -> str:
    """Words for an AAL3 code ("right middle cingulate"); anything else (e.g. "no label")
    is returned unchanged.

    >>> readable_region("Cingulate_Mid_R"), readable_region("Thal_VPL_L")
    ('right middle cingulate', 'left thalamus (VPL)')
    >>> readable_region("Vermis_4_5"), readable_region("near Thal_PuM_R")
    ('vermis (4/5)', 'near right thalamus (PuM)')
    """
    if code.startswith("near "):  # a peak outside the atlas, named by the nearest label
        return "near " + readable_region(code[len("near "):])
    base, _, side = code.rpartition("_")
    if side not in SIDES:
        base, side = code, ""
    prefix, _, rest = base.partition("_")
    if base in REGION_WORDS:
        words = REGION_WORDS[base]
    elif prefix in SUBDIVIDED and rest:
        words = f"{SUBDIVIDED[prefix]} ({rest.replace('_', '/')})"
    else:
        return code
    return f"{SIDES[side]} {words}" if side else words


def region_with_peak(code: str, x: float, y: float, z: float) -> str:
    """"right middle cingulate (2, 18, 40)": a readable peak label with its MNI mm."""
    return f"{readable_region(code)} ({x:.0f}, {y:.0f}, {z:.0f})"
