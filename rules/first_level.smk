# Preprocessing (confounds, motion QC) per run and the subject x session GLMs.


rule preprocess_run:
    input:
        bold=run_file("bold"),
        mask=run_file("mask"),
        confounds=run_file("confounds"),
        confounds_json=run_file("confounds_json"),
        checked=INGEST_RUN,
    output:
        confounds=PREPROCESSED_CONFOUNDS,
        qc=RUN_QC,
    params:
        run=get_run_entities,
        confounds=config["preprocess"]["confounds"],
        fd_threshold=config["preprocess"]["fd_threshold"],
        std_dvars_threshold=config["preprocess"]["std_dvars_threshold"],
        scrub_min_segment=config["preprocess"]["scrub_min_segment"],
        max_scrubbed_fraction=config["preprocess"]["max_scrubbed_fraction"],
        max_mean_fd=config["preprocess"]["max_mean_fd"],
        library=library_version("preprocess_run.py"),
    log:
        f"{RESULTS}/logs/preprocess_run/{{run_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess_run/{{run_id}}.tsv"
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
        run_outputs(RUN_QC),
    output:
        runs=f"{RESULTS}/qc/runs.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
    params:
        library=library_version("qc_runs.py"),
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
        bold=session_run_files("bold"),
        mask=session_run_files("mask"),
        events=session_run_files("events"),
        confounds=session_run_files(pattern=PREPROCESSED_CONFOUNDS),
        checked=session_run_files(pattern=INGEST_RUN),
        qc=session_run_files(pattern=RUN_QC),
    output:
        **first_level_map_outputs(),
        design=FIRST_LEVEL_DESIGN,
        sidecar=f"{FIRST_LEVEL}_statmap.json",
        **first_level_report_outputs(),
    params:
        # The cache's provenance hash ignores wildcards: name the run in the params, or
        # every subject's run would share one cache entry.
        run=cached_run_label,
        runs=session_run_ids,
        glm={k: config["first_level"][k] for k in ("smoothing_fwhm", "hrf_model",
                                                   "drift_model", "high_pass",
                                                   "noise_model")},
        parametric=config["first_level"]["parametric_modulation"],
        contrasts=FIRST_LEVEL_CONTRASTS,
        model=DESIGN.as_dict("conditions", "nuisance", "contrasts", "ratings"),
        library=library_version("first_level.py"),
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
