# Behaviour: SoVT and memory-task MANOVAs, follow-up tests, comparison with the paper.


rule behaviour_sovt:
    input:
        ratings=f"{RESULTS}/ingest/ratings.tsv",
        participants=f"{RESULTS}/ingest/participants.tsv",
    output:
        manova=f"{RESULTS}/behaviour/manova.tsv",
        univariate=f"{RESULTS}/behaviour/univariate.tsv",
        ttests=f"{RESULTS}/behaviour/ttests.tsv",
        correlations=f"{RESULTS}/behaviour/correlations.tsv",
    params:
        design=DESIGN.as_dict("groups", "sessions", "periods", "conditions", "ratings"),
        covariates=DATA["covariates"],
        center=config["behaviour"]["center_covariates"],
        practice_column=config["behaviour"]["practice_column"],
        library=library_version("behaviour_sovt.py"),
    log:
        f"{RESULTS}/logs/behaviour_sovt.log",
    benchmark:
        f"{RESULTS}/benchmarks/behaviour_sovt.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/behaviour.yaml"
    script:
        "../scripts/behaviour_sovt.py"


rule behaviour_memory:
    input:
        memory=f"{RESULTS}/ingest/memory.tsv",
        participants=f"{RESULTS}/ingest/participants.tsv",
    output:
        manova=f"{RESULTS}/behaviour/memory_manova.tsv",
        ttests=f"{RESULTS}/behaviour/memory_ttests.tsv",
    params:
        design=DESIGN.as_dict("groups", "sessions", "periods", "scores"),
        covariates=DATA["covariates"],
        center=config["behaviour"]["center_covariates"],
        library=library_version("behaviour_memory.py"),
    log:
        f"{RESULTS}/logs/behaviour_memory.log",
    benchmark:
        f"{RESULTS}/benchmarks/behaviour_memory.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/behaviour.yaml"
    script:
        "../scripts/behaviour_memory.py"


rule behaviour_paper:
    input:
        manova=f"{RESULTS}/behaviour/manova.tsv",
        univariate=f"{RESULTS}/behaviour/univariate.tsv",
        ttests=f"{RESULTS}/behaviour/ttests.tsv",
        correlations=f"{RESULTS}/behaviour/correlations.tsv",
        memory_manova=f"{RESULTS}/behaviour/memory_manova.tsv",
        memory_ttests=f"{RESULTS}/behaviour/memory_ttests.tsv",
    output:
        f"{RESULTS}/behaviour/paper_comparison.tsv",
    params:
        alpha=config["behaviour"]["alpha"],
        applies=paper_applies_to(DESIGN),
        library=library_version("behaviour_paper.py"),
    log:
        f"{RESULTS}/logs/behaviour_paper.log",
    benchmark:
        f"{RESULTS}/benchmarks/behaviour_paper.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/behaviour.yaml"
    script:
        "../scripts/behaviour_paper.py"
