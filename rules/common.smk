# Helpers, validated sample sheets and input functions shared by all rules.

import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from ecgap.bids import (RUN_FILE_KEYS, Layout, canonical_run_paths, check_exclusions, fmriprep_root,
                        outputs_inside_inputs, run_id, study_runs)
from ecgap.config import check_analyses, validate_config
from ecgap.design import (FIRST_LEVEL_STATS, GROUP_STATS,
                          SLOPE_CONTRASTS, first_level_output_name)
from ecgap.ingest import read_participants
from ecgap.io import InputError
from ecgap.snake import cancel_pending_timers
from ecgap.paper import applies_to as paper_applies_to
from ecgap.provenance import library_digest
from ecgap.names import change_map_names, derivative_path, truth_names
from ecgap import __version__ as ECGAP_VERSION
from snakemake import __version__ as SNAKEMAKE_VERSION
from ecgap.simulate_behaviour import missing_memory_subjects, study_from_config

def stop_on_input_error(check, *args):
    """Run a parse-time check; a problem with the user's data or config ends the run
    with its message (every line names a file or config key), not a traceback."""
    try:
        return check(*args)
    except InputError as err:
        print(f"ecgap input error: {err}", file=sys.stderr)
        sys.exit(1)


stop_on_input_error(validate_config, config,
                    Path(workflow.basedir) / "config/schema/config.schema.yaml")
DESIGN = stop_on_input_error(check_analyses, config)

DATA = config["data"]
SIM = config["simulate"]
SESSIONS = list(DESIGN.sessions)
RESULTS = "results"
SIM_ROOT = f"{RESULTS}/simulated"
#: The simulation grid (brain mask, grey- and white-matter probability), written once by
#: simulate_truth and read by every simulate_run job.
SIMULATION_GRID = {
    "mask": f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-brain_mask.nii.gz",
    "gm": f"{SIM_ROOT}/truth/space-{DATA['space']}_label-GM_probseg.nii.gz",
    "wm": f"{SIM_ROOT}/truth/space-{DATA['space']}_label-WM_probseg.nii.gz",
}
# Every simulated run's HRF-convolved task regressors (one table, made by one job).
SIMULATED_REGRESSORS = f"{SIM_ROOT}/truth/task-{DATA['task']}_desc-regressors_timeseries.tsv"

wildcard_constraints:
    subject="[a-zA-Z0-9]+",
    session="[a-zA-Z0-9]+",


def _layout():
    if DATA["source"] == "simulate":
        return Layout(Path(f"{SIM_ROOT}/bids"), Path(f"{SIM_ROOT}/derivatives/fmriprep"),
                      DATA["task"], DATA["space"])
    if not DATA["bids_dir"]:
        raise InputError("config key data.bids_dir", "required when data.source is 'bids'")
    return Layout(Path(DATA["bids_dir"]), fmriprep_root(DATA["bids_dir"], DATA["fmriprep_dir"]),
                  DATA["task"], DATA["space"])


LAYOUT = stop_on_input_error(_layout)
EXCLUDED_SUBJECTS = {e["subject"]: e["reason"] for e in DATA["exclude_subjects"]}

if DATA["source"] == "simulate":
    STUDY = study_from_config(config)
    SUBJECTS = [s for s in STUDY.subjects if s not in EXCLUDED_SUBJECTS]
    RUNS = {run_id(s, ses, None, DATA["task"]): {"subject": s, "session": ses, "run": None,
                                   **canonical_run_paths(LAYOUT, s, ses)}
            for s in SUBJECTS for ses in SESSIONS}
    MEMORY_FILES = [LAYOUT.beh_file(s, ses, DESIGN.score_task)
                    for s in SUBJECTS if f"sub-{s}" not in missing_memory_subjects(STUDY)
                    for ses in SESSIONS] if DESIGN.scores else []
else:
    # Real data: validate the layout now, so that every missing session or file is
    # reported before any job runs.
    def _real_study():
        participants = read_participants(LAYOUT.bids_dir / "participants.tsv",
                                         DESIGN.labels(), DATA["covariates"])
        check_exclusions(EXCLUDED_SUBJECTS, participants["subject"])
        subjects = [s for s in participants["subject"] if s not in EXCLUDED_SUBJECTS]
        return subjects, study_runs(LAYOUT, subjects, SESSIONS, DATA["resolution"])

    SUBJECTS, RUNS = stop_on_input_error(_real_study)
    MEMORY_FILES = [p for s in SUBJECTS for ses in SESSIONS
                    if (p := LAYOUT.beh_file(s, ses, DESIGN.score_task)).is_file()
                    ] if DESIGN.scores else []

#: The runs of each subject and session (several when the task has run- entities).
SESSION_RUNS = {}
for _run, _info in RUNS.items():
    SESSION_RUNS.setdefault((_info["subject"], _info["session"]), []).append(_run)
#: Sessions a subject lacks (real data only): it is kept for the change periods it has.
MISSING_SESSIONS = [key for key in ((s, ses) for s in SUBJECTS for ses in SESSIONS)
                    if key not in SESSION_RUNS]
for _subject, _session in MISSING_SESSIONS:
    print(f"ecgap: sub-{_subject} has no session {_session!r}; it is kept for the change "
          "periods it has", file=sys.stderr)
#: The subjects with both sessions of each change period.
DELTA_SUBJECTS = {delta: [s for s in SUBJECTS
                          if all((s, ses) in SESSION_RUNS
                                 for ses in DESIGN.period_sessions(delta))]
                  for delta in DESIGN.period_names}
RUN_IDS = list(RUNS)

wildcard_constraints:
    run_id="|".join(RUN_IDS),

# Per-run files: the ingest check, the GLM's confounds and the motion QC.
INGEST_RUN = f"{RESULTS}/ingest/runs/{{run_id}}.tsv"
PREPROCESSED_CONFOUNDS = f"{RESULTS}/preprocess/{{run_id}}_desc-confounds_timeseries.tsv"
RUN_QC = f"{RESULTS}/qc/runs/{{run_id}}_qc.json"


def get_run_entities(wildcards):
    """subject, session and run (number or None) of the run in the wildcards."""
    return {k: RUNS[wildcards.run_id][k] for k in ("subject", "session", "run")}


FIRST_LEVEL = (f"{RESULTS}/first_level/sub-{{subject}}/ses-{{session}}/"
               f"sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_space-{DATA['space']}")
FIRST_LEVEL_DESIGN = f"{FIRST_LEVEL}_design.tsv"
FIRST_LEVEL_EFFECT = derivative_path(FIRST_LEVEL, "statmap", contrast="{contrast}", stat="effect")
FIRST_LEVEL_CONTRASTS = list(DESIGN.first_level_contrasts(
    config["first_level"]["parametric_modulation"]))


def first_level_map_outputs():
    """The effect, variance and z maps of every contrast of one run, one named output
    each ("HE_effect", ...): the output cache needs every file of a cached rule named."""
    return {first_level_output_name(contrast, stat):
            derivative_path(FIRST_LEVEL, "statmap", contrast=contrast, stat=stat)
            for contrast in FIRST_LEVEL_CONTRASTS for stat in FIRST_LEVEL_STATS}


def first_level_report_outputs():
    """The optional nilearn GLM report of a run (config first_level.reports)."""
    return {"report": f"{FIRST_LEVEL}_report.html"} if config["first_level"]["reports"] else {}


def cache_eligible(name):
    """The cache: directive of the deterministic, expensive rules (simulate_run,
    first_level): on when --cache is given, for all eligible rules or the ones it names."""
    chosen = workflow.workflow_settings.cache
    return chosen is not None and (not chosen or name in chosen)


def cached_run_label(wildcards):
    """The run a cached job belongs to, as a param: Snakemake's cache hashes the script,
    the params and the upstream jobs but not the wildcards."""
    return f"sub-{wildcards.subject}_ses-{wildcards.session}"


def library_version(script):
    """Every rule's ``library`` param: a digest of the ecgap modules its script runs, so
    that editing or upgrading that code reruns the rule (Snakemake watches the script
    alone) and the output cache never hands back maps made by other code."""
    scripts = Path(workflow.basedir) / "scripts"
    return library_digest(scripts / script, package=scripts / "ecgap")


def check_outputs_outside_inputs():
    """Stop before any job if a rule's output, log or benchmark could land in the user's
    data: Snakemake deletes a job's existing outputs before running it."""
    stop_on_input_error(_check_outputs_outside_inputs)


def _check_outputs_outside_inputs():
    if DATA["source"] != "bids":
        return
    written = [(r.name, str(f)) for r in workflow.rules
               for f in [*r.output, *r.log, *([r.benchmark] if r.benchmark else [])]]
    problems = outputs_inside_inputs(written, [LAYOUT.bids_dir, LAYOUT.fmriprep_dir],
                                     Path.cwd(), RESULTS)
    if problems:
        raise InputError("config keys data.bids_dir, data.fmriprep_dir", "; ".join(problems))


def drop_benchmarks_of_cached_rules():
    """Snakemake refuses to cache a rule that writes a benchmark file (a job taken from the
    cache has no timing to write), so under --cache the cached rules write none; their logs
    still record the jobs that ran. Without --cache every rule keeps its benchmark."""
    for cached in workflow.rules:
        if cached.cache is not None and cached.cache.output:
            cached._benchmark = None  # the state of a benchmark-less rule


ANALYSES = {a["name"]: a for a in config["second_level"]["analyses"]}
GROUP_MASK = (f"{RESULTS}/second_level/task-{DATA['task']}_space-{DATA['space']}"
              "_desc-group_mask.nii.gz")
STAGE_KEYS = {"second_level": "analysis", "conjunctions": "conjunction",
              "brain_behaviour": "bb"}


def stage_prefix(stage):
    """Folder of one analysis of a group-level stage and the leading entities of its
    files; the analysis' name (a wildcard) is the files' desc- entity."""
    return f"{RESULTS}/{stage}/{{{STAGE_KEYS[stage]}}}/task-{DATA['task']}_space-{DATA['space']}"


def stage_map(stage, contrast, stat=None, suffix="statmap", ext=".nii.gz", name=None):
    """One map (or label image) of one group-level analysis, with the analysis' name as
    wildcard or, given ``name``, filled in."""
    key = STAGE_KEYS[stage]
    path = derivative_path(stage_prefix(stage), suffix, ext, contrast=contrast, stat=stat,
                           desc=f"{{{key}}}")
    return path if name is None else path.replace(f"{{{key}}}", name)


def analysis_stem(stage, name=None):
    """The stem of one group-level analysis' own files (design, sidecar): its prefix and
    its name as desc-, the name a wildcard or, given ``name``, filled in."""
    key = STAGE_KEYS[stage]
    stem = f"{stage_prefix(stage)}_desc-{{{key}}}"
    return stem if name is None else stem.replace(f"{{{key}}}", name)


SECOND_LEVEL = analysis_stem("second_level")
CHANGE_MAP = derivative_path(f"{RESULTS}/second_level/changes/sub-{{subject}}/sub-{{subject}}"
                             f"_task-{DATA['task']}_space-{DATA['space']}", "statmap",
                             contrast="{contrast}", stat="effect", desc="{delta}")
CHANGE_CONTRASTS = DESIGN.contrast_names

wildcard_constraints:
    analysis="|".join(ANALYSES),


def change_map_outputs():
    """The four change maps (one per contrast) of one subject and change period."""
    return expand(CHANGE_MAP.replace("{subject}", "{{subject}}").replace("{delta}", "{{delta}}"),
                  contrast=CHANGE_CONTRASTS)


def get_subject_effect_maps(wildcards):
    """The subject's first-level effect maps in the two sessions of the change period,
    keyed contrast_session."""
    return {f"{c}_{ses}": FIRST_LEVEL_EFFECT.format(subject=wildcards.subject, session=ses,
                                                     contrast=c)
            for c in CHANGE_CONTRASTS for ses in DESIGN.period_sessions(wildcards.delta)}


def delta_subjects(spec):
    """The subjects with both sessions of an analysis' change period, and those without."""
    have = DELTA_SUBJECTS[spec["delta"]]
    return have, [s for s in SUBJECTS if s not in have]


def get_analysis(wildcards):
    return ANALYSES[wildcards.analysis]


def get_analysis_change_maps(wildcards):
    """Every subject's change map for one analysis (QC exclusions are applied in the job)."""
    a = ANALYSES[wildcards.analysis]
    return expand(CHANGE_MAP, subject=delta_subjects(a)[0], contrast=a["contrast"],
                  delta=a["delta"])


def period_subjects(analyses, wildcard, lacking=False):
    """Params function: the subjects an analysis (of ``analyses``, named by ``wildcard``)
    can use, both sessions of its change period present; with ``lacking`` those without."""
    def get(wildcards):
        return delta_subjects(analyses[getattr(wildcards, wildcard)])[int(lacking)]
    return get


def get_run_masks(wildcards):
    """Every run's brain mask, in RUN_IDS order (group_mask keeps those passing QC)."""
    return [str(RUNS[r]["mask"]) for r in RUN_IDS]


#: Every group contrast (maps and clusters), the t ones (figures, ROI values, truth
#: recovery), and the maps each writes (an F contrast has no effect or variance map).
GROUP_CONTRAST_NAMES = [c.name for c in DESIGN.group_contrasts]
T_CONTRAST_NAMES = [c.name for c in DESIGN.group_contrasts if c.kind == "t"]
GROUP_CONTRAST_STATS = {c.name: c.stats for c in DESIGN.group_contrasts}
SLOPE_CONTRAST_NAMES = list(SLOPE_CONTRASTS)
ANALYSIS_CONTRASTS = [(a, c) for a in ANALYSES for c in T_CONTRAST_NAMES]


def group_map_outputs(stage, contrasts):
    """Effect, variance, t, z, FWE p and FWE-thresholded t maps of each contrast of one
    group-level analysis."""
    return [stage_map(stage, c, stat) for c in contrasts
            for stat in GROUP_CONTRAST_STATS.get(c, GROUP_STATS)]


def cluster_label_outputs(stage, contrasts):
    """Per contrast, the cluster label image (ids as in clusters.tsv) and its label table."""
    return [stage_map(stage, c, suffix="dseg", ext=ext) for c in contrasts
            for ext in (".nii.gz", ".tsv")]


def fwe_cluster_maps():
    """Every analysis' FWE-cluster t maps, in ANALYSIS_CONTRASTS order."""
    return [stage_map("second_level", c, "tFWEcluster", name=a) for a, c in ANALYSIS_CONTRASTS]


# ------------------------------------------------------------ conjunctions, brain-behaviour

CONJUNCTIONS = {c["name"]: c for c in config["second_level"]["conjunctions"]}
CONJUNCTION = analysis_stem("conjunctions")

BB = config["brain_behaviour"]
BB_ANALYSES = {b["name"]: b for b in BB["analyses"]}
#: Each brain-behaviour analysis' score (for params) and in words (e.g. 'empathy delta1
#: (all videos)').
BB_SCORES = {b["name"]: b["score"] for b in DESIGN.as_dict("brain_behaviour")["brain_behaviour"]}
BB_SCORE_LABELS = {b.name: DESIGN.score_label(b.score) for b in DESIGN.brain_behaviour}
BB_COVARIATES = DATA["covariates"] if BB["covariates"] is None else BB["covariates"]
BRAIN_BEHAVIOUR = analysis_stem("brain_behaviour")
INFERENCE_KEYS = ("n_permutations", "cluster_forming_p", "alpha", "seed", "engine",
                  "connectivity")


wildcard_constraints:
    conjunction="|".join(CONJUNCTIONS) or "no-conjunction",
    bb="|".join(BB_ANALYSES) or "no-analysis",


def inference_params():
    """The permutation-inference settings every group-level rule passes to its script."""
    return {k: config["second_level"][k] for k in INFERENCE_KEYS}


def get_analysis_inference(wildcards):
    """One group analysis' inference settings: the shared ones, with the analysis' own
    cluster-forming threshold when it sets one (so editing it reruns that analysis only)."""
    analysis = ANALYSES[wildcards.analysis]
    return {**inference_params(),
            **{k: analysis[k] for k in ("cluster_forming_p",) if k in analysis}}


def get_conjunction_maps(wildcards):
    """z, voxel-FWE and FWE-cluster maps of the conjunction's analyses, in the config's
    order."""
    c = CONJUNCTIONS[wildcards.conjunction]

    def paths(stat):
        return [stage_map("second_level", c["contrast"], stat, name=a) for a in c["analyses"]]
    return {"z": paths("z"), "logp_voxel": paths("logpFWEvoxel"),
            "fwe_clusters": paths("tFWEcluster")}


def get_conjunction_sidecars(wildcards):
    """The group-level sidecars of the conjunction's analyses (their n), in config order."""
    return [analysis_stem("second_level", a) + "_statmap.json"
            for a in CONJUNCTIONS[wildcards.conjunction]["analyses"]]


def get_bb_change_maps(wildcards):
    b = BB_ANALYSES[wildcards.bb]
    return expand(CHANGE_MAP, subject=delta_subjects(b)[0], contrast=b["contrast"],
                  delta=b["delta"])



ROI_CONTRASTS = {"second_level": T_CONTRAST_NAMES, "conjunctions": None,
                 "brain_behaviour": SLOPE_CONTRAST_NAMES}


def roi_contrasts(stage, name):
    """The contrasts whose clusters a cluster set has (a conjunction has one)."""
    contrasts = ROI_CONTRASTS[stage]
    return [CONJUNCTIONS[name]["contrast"]] if contrasts is None else contrasts


def get_roi_inputs(wildcards):
    """A cluster set's label images and table, the designs of the subjects it used,
    and every subject's effect map of each condition per session."""
    stage, name = wildcards.stage, wildcards.name
    if stage == "conjunctions":
        designs = [analysis_stem("second_level", a) + "_design.tsv"
                   for a in CONJUNCTIONS[name]["analyses"]]
        labels = [analysis_stem(stage, name) + "_dseg.nii.gz"]
    else:
        designs = [analysis_stem(stage, name) + "_design.tsv"]
        labels = [stage_map(stage, c, suffix="dseg", name=name)
                  for c in roi_contrasts(stage, name)]
    return {
        "labels": labels,
        "clusters": f"{RESULTS}/{wildcards.stage}/{wildcards.name}/clusters.tsv",
        "designs": designs,
        "participants": f"{RESULTS}/ingest/participants.tsv",
        "maps": [FIRST_LEVEL_EFFECT.format(subject=s, session=ses, contrast=c)
                 for s, ses, c in ROI_MAP_KEYS],
    }


ROI_MAP_KEYS = [(s, ses, c) for s in SUBJECTS for ses in SESSIONS for c in DESIGN.condition_names
                if (s, ses) in SESSION_RUNS]


def get_roi_contrasts(wildcards):
    return roi_contrasts(wildcards.stage, wildcards.name)


def run_file(key):
    """Input function: one file (events, bold, mask, ...) of the run in the wildcards."""
    def get(wildcards):
        return str(RUNS[wildcards.run_id][key])
    return get


def get_run_inputs(wildcards):
    """All ingest inputs of one run."""
    return {k: str(RUNS[wildcards.run_id][k]) for k in RUN_FILE_KEYS}


def run_outputs(pattern):
    """Per-run files of every run, from a pattern with a {run_id} wildcard (and the
    run's {subject} and {session})."""
    return [pattern.format(run_id=r, subject=RUNS[r]["subject"], session=RUNS[r]["session"])
            for r in RUN_IDS]


def session_run_files(key=None, pattern=None):
    """Input function: per run of the session in the wildcards, its input file ``key``
    or its file from a per-run ``pattern``."""
    def get(wildcards):
        runs = SESSION_RUNS[(wildcards.subject, wildcards.session)]
        if key is not None:
            return [str(RUNS[r][key]) for r in runs]
        return [pattern.format(run_id=r, subject=wildcards.subject, session=wildcards.session)
                for r in runs]
    return get


def session_run_ids(wildcards):
    return SESSION_RUNS[(wildcards.subject, wildcards.session)]


def get_all_events(wildcards=None):
    return [str(RUNS[r]["events"]) for r in RUN_IDS]


def get_participants_file(wildcards=None):
    return str(LAYOUT.bids_dir / "participants.tsv")


def get_memory_files(wildcards=None):
    return [str(p) for p in MEMORY_FILES]


def session_index(wildcards):
    return SESSIONS.index(RUNS[wildcards.run_id]["session"] if "run_id" in wildcards.keys()
                          else wildcards.session)


def ingest_tables():
    return expand(f"{RESULTS}/ingest/{{table}}.tsv",
                  table=["runs", "participants", "ratings", "memory"])


def behaviour_tables():
    return expand(f"{RESULTS}/behaviour/{{table}}.tsv",
                  table=["manova", "univariate", "ttests", "correlations", "memory_manova",
                         "memory_ttests", "paper_comparison"])


def first_level_maps(contrasts=tuple(DESIGN.contrast_names)):
    return [FIRST_LEVEL_EFFECT.format(subject=s, session=ses, contrast=c)
            for s, ses in SESSION_RUNS for c in contrasts]


def get_final_outputs():
    qc = [f"{RESULTS}/qc/runs.tsv", f"{RESULTS}/qc/exclusions.tsv"]
    clusters = expand(f"{RESULTS}/second_level/{{analysis}}/clusters.tsv", analysis=ANALYSES)
    truth = [f"{RESULTS}/second_level/truth_recovery.tsv"] if DATA["source"] == "simulate" else []
    conjunctions = expand(f"{RESULTS}/conjunctions/{{name}}/verdict.txt", name=CONJUNCTIONS)
    rois = [f"{RESULTS}/{stage}/{name}/roi_values.tsv"
            for stage, names in (("second_level", ANALYSES), ("conjunctions", CONJUNCTIONS),
                                 ("brain_behaviour", BB_ANALYSES)) for name in names]
    return ([f"{RESULTS}/dataset_description.json"] + ingest_tables() + behaviour_tables()
            + qc + first_level_maps() + clusters + truth + conjunctions + rois
            + report_outputs())


# ------------------------------------------------------------------ figures and report

from ecgap.captions import Findings, report_config

FIG = config["figures"]
FIGURES = f"{RESULTS}/figures"
FIGURE_PARAMS = {"dpi": FIG["dpi"]}
BEHAVIOUR_TABLES = {
    "manova": ("Ratings: repeated-measures MANOVA", "Pillai's trace of the condition "
               "('video'), time and group effects on the ratings (exact F for one "
               "hypothesis row, approximate otherwise: column statistic). F, p: covariates as "
               "configured (uncentred = SPSS's convention, which tests within-subject "
               "effects at age 0 and BDI 0); F_centred, p_centred: the same at the "
               "sample's mean covariates. Effects with group do not depend on it."),
    "univariate": ("Per-rating follow-ups", "The MANOVA's effects per rating: video "
                   "effects are univariate F(1, df); time effects are multivariate F over "
                   "the session differences, not SPSS's sphericity-assumed univariate F "
                   "(column statistic)."),
    "ttests": ("Rating t-tests", "Paired t-tests between sessions within each group and "
               "between video types; Student t-tests between groups. cohen_d is d_av for "
               "paired tests (pingouin), d_s for independent ones; cohen_dz = t / sqrt(n) "
               "for paired tests."),
    "correlations": ("Practice correlations", "Pearson correlations of each trained "
                     "group's rating changes with practice duration."),
    "memory_manova": ("Scores MANOVA", "Time x group on the per-session scores (the "
                      "second task's, e.g. recall)."),
    "memory_ttests": ("Scores t-tests", "Score changes over each change period within "
                      "each group."),
    "paper_comparison": ("Comparison with Klimecki et al. (2014)", "Each behavioural "
                         "statistic the paper reports against ours; agree = same "
                         "significance at .05."),
}
GROUP_CONTRAST_LABELS = {c.name: c.label for c in DESIGN.group_contrasts}
SLOPE_CONTRAST_LABELS = {"positiveSlope": "positive slope", "negativeSlope": "negative slope"}


def figure_paths(stem):
    """One figure in every configured format, PNG first (the report shows the PNG)."""
    return [f"{stem}.png"] + [f"{stem}.{fmt}" for fmt in FIG["formats"]]


def report_figure(stem, caption, category, subcategory=None, labels=None):
    """figure_paths() with the PNG marked for the report."""
    png, *others = figure_paths(stem)
    return [report(png, caption=caption, category=category, subcategory=subcategory,
                   labels=labels)] + others


def contrast_figures(folder, contrasts, caption, category, labels):
    """Per contrast, the maps figure (all formats) of the analysis {name}, PNGs marked
    for the report."""
    return [path for c in contrasts
            for path in report_figure(f"{folder}/contrast-{c}_desc-{{name}}_maps", caption,
                                      category,
                                      subcategory="{name}", labels={**labels, "contrast": c})]


def network_maps(delta):
    """The primary group contrast's FWE-cluster maps (the first trained group > the
    control) of every analysis of one change period."""
    return [stage_map("second_level", DESIGN.primary_contrast, "tFWEcluster", name=a)
            for a, spec in ANALYSES.items() if spec["delta"] == delta]


def network_sidecars(delta):
    """The sidecars (with n per group) of the analyses of one change period."""
    return [f"{analysis_stem('second_level', a)}_statmap.json"
            for a, spec in ANALYSES.items() if spec["delta"] == delta]


def get_cluster_set_maps(stage, contrasts):
    """Input function: z and FWE-cluster maps of each contrast of one analysis."""
    def get(wildcards):
        name = wildcards.name
        prefix = analysis_stem(stage, name)
        return {"t": [stage_map(stage, c, "t", name=name) for c in contrasts],
                "fwe": [stage_map(stage, c, "tFWEcluster", name=name) for c in contrasts],
                "sidecar": f"{prefix}_statmap.json",
                "design": f"{prefix}_design.tsv",
                "clusters": f"{RESULTS}/{stage}/{wildcards.name}/clusters.tsv",
                "roi": f"{RESULTS}/{stage}/{wildcards.name}/roi_values.tsv"}
    return get


def summary_files():
    """Every figure rule's JSON summary (the report's numbers)."""
    return ([f"{FIGURES}/behaviour_summary.json", f"{FIGURES}/networks_summary.json",
             f"{FIGURES}/qc_summary.json"]
            + expand(f"{RESULTS}/second_level/{{name}}/figures/summary.json", name=ANALYSES)
            + expand(f"{RESULTS}/conjunctions/{{name}}/figures/summary.json",
                     name=CONJUNCTIONS)
            + expand(f"{RESULTS}/brain_behaviour/{{name}}/figures/summary.json",
                     name=BB_ANALYSES))


def first_level_design(suffix, subject, session):
    """One session's design table ("tsv") or figure ("png")."""
    return f"{FIRST_LEVEL}_design.{suffix}".format(subject=subject, session=session)


def first_level_designs(suffix):
    """Every modelled session's design table ("tsv") or figure ("png"), in session order."""
    return [first_level_design(suffix, s, ses) for s, ses in SESSION_RUNS]


def first_level_design_figures():
    """first_level_designs("png"), each marked for the report with its subject and session."""
    return [report(first_level_design("png", s, ses),
                   caption="../report/first_level_design.rst", category="First level",
                   subcategory="Design matrices", labels={"subject": s, "session": ses})
            for s, ses in SESSION_RUNS]


def report_outputs():
    """Everything the report shows, built by `snakemake` before `snakemake --report`."""
    tables = expand(f"{RESULTS}/behaviour/{{table}}.html", table=BEHAVIOUR_TABLES)
    truth = ([f"{RESULTS}/second_level/truth_recovery.html"]
             if DATA["source"] == "simulate" else [])
    return (summary_files() + tables + truth + first_level_designs("png")
            + [f"{RESULTS}/report/findings.json",
               f"{RESULTS}/methods.md"])


# The front page's headline numbers and methods text: read when the report is rendered
# (see ecgap.captions: every job unpickles the config, hence a module without heavy imports).
config.update(report_config(RESULTS))
config["report_design"] = DESIGN.summary()
#: The configuration the methods text describes (editing any of it rewrites the text).
METHODS_SETTINGS = {key: config[key] for key in ("data", "preprocess", "first_level",
                                                 "second_level", "brain_behaviour",
                                                 "behaviour")}
METHODS_SETTINGS["simulate"] = SIM if DATA["source"] == "simulate" else None
METHODS_SETTINGS["design"] = DESIGN.as_dict()
