# Preprocessing (confounds, motion QC) and the subject x session GLMs.


rule preprocess_run:
    input:
        bold=run_file("bold"),
        mask=run_file("mask"),
        confounds=run_file("confounds"),
        confounds_json=run_file("confounds_json"),
        checked=f"{RESULTS}/ingest/runs/sub-{{subject}}_ses-{{session}}.tsv",
    output:
        confounds=f"{RESULTS}/preprocess/sub-{{subject}}/ses-{{session}}/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_desc-confounds_timeseries.tsv",
        qc=f"{RESULTS}/qc/runs/sub-{{subject}}_ses-{{session}}_qc.json",
    params:
        confounds=config["preprocess"]["confounds"],
        fd_threshold=config["preprocess"]["fd_threshold"],
        std_dvars_threshold=config["preprocess"]["std_dvars_threshold"],
        scrub_min_segment=config["preprocess"]["scrub_min_segment"],
        max_scrubbed_fraction=config["preprocess"]["max_scrubbed_fraction"],
        max_mean_fd=config["preprocess"]["max_mean_fd"],
    log:
        f"{RESULTS}/logs/preprocess_run/sub-{{subject}}_ses-{{session}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess_run/sub-{{subject}}_ses-{{session}}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        "../envs/first_level.yaml"
    script:
        "../scripts/preprocess_run.py"


rule qc_runs:
    input:
        expand(f"{RESULTS}/qc/runs/sub-{{subject}}_ses-{{session}}_qc.json",
               subject=SUBJECTS, session=SESSIONS),
    output:
        runs=f"{RESULTS}/qc/runs.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
    log:
        f"{RESULTS}/logs/qc_runs.log",
    benchmark:
        f"{RESULTS}/benchmarks/qc_runs.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/first_level.yaml"
    script:
        "../scripts/qc_runs.py"


rule first_level:
    input:
        bold=run_file("bold"),
        mask=run_file("mask"),
        events=run_file("events"),
        confounds=f"{RESULTS}/preprocess/sub-{{subject}}/ses-{{session}}/sub-{{subject}}_ses-{{session}}_task-{DATA['task']}_desc-confounds_timeseries.tsv",
        checked=f"{RESULTS}/ingest/runs/sub-{{subject}}_ses-{{session}}.tsv",
    output:
        **first_level_map_outputs(),
        design=f"{FIRST_LEVEL}_design.tsv",
        design_figure=report(f"{FIRST_LEVEL}_design.png", caption="../report/design.rst",
                             category="First level", subcategory="Design matrices",
                             labels={"subject": "{subject}", "session": "{session}"}),
        sidecar=f"{FIRST_LEVEL}_statmap.json",
        **first_level_report_outputs(),
    params:
        # The cache's provenance hash ignores wildcards: name the run in the params, or
        # every subject's run would share one cache entry.
        run=cached_run_label,
        glm={k: config["first_level"][k] for k in ("smoothing_fwhm", "hrf_model",
                                                   "high_pass", "noise_model")},
        cosine_in_confounds="high_pass" in config["preprocess"]["confounds"]["strategy"],
        parametric=config["first_level"]["parametric_modulation"],
        contrasts=FIRST_LEVEL_CONTRASTS,
        trial_types=DATA["events"],
        ratings=DATA["ratings"],
    log:
        f"{RESULTS}/logs/first_level/sub-{{subject}}_ses-{{session}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/first_level/sub-{{subject}}_ses-{{session}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    cache: cache_eligible("first_level")
    conda:
        "../envs/first_level.yaml"
    script:
        "../scripts/first_level.py"
