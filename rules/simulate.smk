# The simulated study: behaviour first, the planted truth and every run's task
# regressors, then one job per run. Included only when
# data.source is 'simulate': with real data these outputs would be the user's files.


rule simulate_behaviour:
    output:
        participants=f"{SIM_ROOT}/bids/participants.tsv",
        description=f"{SIM_ROOT}/bids/dataset_description.json",
        derivatives_description=f"{SIM_ROOT}/derivatives/fmriprep/dataset_description.json",
        events=get_all_events(),
        memory=get_memory_files(),
        truth_subjects=f"{SIM_ROOT}/truth/subjects.tsv",
        truth_runs=f"{SIM_ROOT}/truth/runs.tsv",
        truth=f"{SIM_ROOT}/truth/behaviour.json",
    params:
        data={"task": DATA["task"]},
        design=config["design"],
        simulate={k: SIM[k] for k in ("seed", "group_sizes", "n_missing_memory",
                                      "n_high_motion_runs", "task", "behaviour")},
        link=SIM["imaging"]["link"],
        library=library_version("simulate_behaviour.py"),
    log:
        f"{RESULTS}/logs/simulate_behaviour.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_behaviour.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/simulate.yaml"
    script:
        "../scripts/simulate_behaviour.py"


rule simulate_truth:
    input:
        subjects=f"{SIM_ROOT}/truth/subjects.tsv",
    output:
        gains=f"{SIM_ROOT}/truth/imaging_subjects.tsv",
        regions=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-regions_dseg.tsv",
        support_table=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-support_dseg.tsv",
        maps=expand(f"{SIM_ROOT}/truth/space-{{space}}_stat-effect_desc-{{name}}_statmap.nii.gz",
                    space=DATA["space"],
                    name=truth_names(SIM["imaging"]["changes"], DESIGN.condition_names)),
        labels=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-regions_dseg.nii.gz",
        support=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-support_dseg.nii.gz",
        **SIMULATION_GRID,
    params:
        imaging=SIM["imaging"],
        grid_mm=SIM["grid_mm"],
        seed=SIM["seed"],
        design=DESIGN.as_dict("groups", "steps", "conditions"),
        library=library_version("simulate_truth.py"),
    log:
        f"{RESULTS}/logs/simulate_truth.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_truth.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/simulate.yaml"
    script:
        "../scripts/simulate_truth.py"


rule simulate_regressors:
    input:
        events=get_all_events(),
    output:
        SIMULATED_REGRESSORS,
    params:
        runs=[(RUNS[r]["subject"], RUNS[r]["session"]) for r in RUN_IDS],
        tr=SIM["tr"],
        design=DESIGN.as_dict("conditions", "nuisance"),
        library=library_version("simulate_regressors.py"),
    log:
        f"{RESULTS}/logs/simulate_regressors.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_regressors.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/simulate.yaml"
    script:
        "../scripts/simulate_regressors.py"


rule simulate_run:
    input:
        # ancient: the table is rewritten when a subject is excluded, which changes no
        # run; a run whose regressors change (events, TR) reruns through its own inputs.
        regressors=ancient(SIMULATED_REGRESSORS),
        events=f"{SIM_ROOT}/bids/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_events.tsv",
        gains=f"{SIM_ROOT}/truth/imaging_subjects.tsv",
        runs=f"{SIM_ROOT}/truth/runs.tsv",
        **SIMULATION_GRID,
    output:
        bold=f"{SIM_ROOT}/derivatives/fmriprep/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_space-{DATA['space']}_desc-preproc_bold.nii.gz",
        bold_json=f"{SIM_ROOT}/derivatives/fmriprep/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_space-{DATA['space']}_desc-preproc_bold.json",
        mask=f"{SIM_ROOT}/derivatives/fmriprep/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_space-{DATA['space']}_desc-brain_mask.nii.gz",
        confounds=f"{SIM_ROOT}/derivatives/fmriprep/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_desc-confounds_timeseries.tsv",
        confounds_json=f"{SIM_ROOT}/derivatives/fmriprep/sub-{{subject}}/ses-{{session}}/func/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_desc-confounds_timeseries.json",
    params:
        # The cache's provenance hash ignores wildcards: name the run in the params, or
        # every subject's run would share one cache entry.
        run=cached_run_label,
        simulate={k: SIM[k] for k in ("imaging", "grid_mm", "tr", "seed")},
        task=DATA["task"],
        session_index=session_index,
        design=DESIGN.as_dict("conditions", "nuisance"),
        library=library_version("simulate_run.py"),
    log:
        f"{RESULTS}/logs/simulate_run/sub-{{subject}}_ses-{{session}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_run/sub-{{subject}}_ses-{{session}}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc: int(400 + 8000 * (3.0 / SIM["grid_mm"]) ** 3 / 8),
        runtime=20,
    cache: cache_eligible("simulate_run")
    conda:
        "../envs/simulate.yaml"
    script:
        "../scripts/simulate_run.py"
