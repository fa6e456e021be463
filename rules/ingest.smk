# Ingest: validate the BIDS data once and index it into tables under results/ingest/.


rule ingest_behaviour:
    input:
        participants=get_participants_file(),
        events=get_all_events(),
        memory=get_memory_files(),
    output:
        participants=f"{RESULTS}/ingest/participants.tsv",
        ratings=f"{RESULTS}/ingest/ratings.tsv",
        memory=f"{RESULTS}/ingest/memory.tsv",
        excluded=f"{RESULTS}/ingest/excluded_subjects.tsv",
    params:
        subjects=SUBJECTS,
        runs=[(RUNS[r]["subject"], RUNS[r]["session"]) for r in RUN_IDS],
        exclude_subjects=DATA["exclude_subjects"],
        sessions=SESSIONS,
        groups=DESIGN.labels(),
        covariates=DATA["covariates"],
        conditions={c.name: c.trial_type for c in DESIGN.conditions},
        ratings={r.name: r.column for r in DESIGN.ratings},
        memory={"scores": list(DESIGN.scores), "task": DESIGN.score_task},
        library=library_version("ingest_behaviour.py"),
    log:
        f"{RESULTS}/logs/ingest_behaviour.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_behaviour.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/ingest.yaml"
    script:
        "../scripts/ingest_behaviour.py"


rule ingest_run:
    input:
        unpack(get_run_inputs),
    output:
        INGEST_RUN,
    params:
        run=get_run_entities,
        tr=DATA["tr"] if DATA["source"] == "bids" else (DATA["tr"] or SIM["tr"]),
        tr_tolerance=DATA["tr_tolerance"],
        check_header_tr=DATA["check_header_tr"],
        conditions=[c.trial_type for c in DESIGN.conditions],
        library=library_version("ingest_run.py"),
    log:
        f"{RESULTS}/logs/ingest_run/{{run_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_run/{{run_id}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../envs/ingest.yaml"
    script:
        "../scripts/ingest_run.py"


rule ingest_runs:
    input:
        run_outputs(INGEST_RUN),
    output:
        f"{RESULTS}/ingest/runs.tsv",
    params:
        library=library_version("ingest_runs.py"),
    log:
        f"{RESULTS}/logs/ingest_runs.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_runs.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/ingest.yaml"
    script:
        "../scripts/ingest_runs.py"


rule dataset_description:
    output:
        f"{RESULTS}/dataset_description.json",
    params:
        version=ECGAP_VERSION,
        snakemake_version=SNAKEMAKE_VERSION,
        sources=[str(LAYOUT.bids_dir), str(LAYOUT.fmriprep_dir)],
        library=library_version("dataset_description.py"),
    log:
        f"{RESULTS}/logs/dataset_description.log",
    benchmark:
        f"{RESULTS}/benchmarks/dataset_description.tsv"
    threads: 1
    resources:
        mem_mb=200,
        runtime=2,
    conda:
        "../envs/provenance.yaml"
    script:
        "../scripts/dataset_description.py"
