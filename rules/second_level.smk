# Group level: change maps per subject, then one permutation-tested group model per analysis.


rule change_maps:
    input:
        unpack(get_subject_effect_maps),
    output:
        change_map_outputs(),
    params:
        sessions=lambda wc: DESIGN.period_sessions(wc.delta),
        library=library_version("change_maps.py"),
    log:
        f"{RESULTS}/logs/change_maps/sub-{{subject}}_{{delta}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/change_maps/sub-{{subject}}_{{delta}}.tsv"
    wildcard_constraints:
        delta="|".join(DESIGN.period_names),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/change_maps.py"


rule group_mask:
    input:
        masks=get_run_masks,
        qc=f"{RESULTS}/qc/runs.tsv",
    output:
        GROUP_MASK,
    params:
        runs=RUN_IDS,
        task=DATA["task"],
        subjects=[RUNS[r]["subject"] for r in RUN_IDS],
        fraction=config["second_level"]["mask_fraction"],
        library=library_version("group_mask.py"),
    log:
        f"{RESULTS}/logs/group_mask.log",
    benchmark:
        f"{RESULTS}/benchmarks/group_mask.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/group_mask.py"


rule second_level:
    input:
        maps=get_analysis_change_maps,
        participants=f"{RESULTS}/ingest/participants.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
        mask=GROUP_MASK,
    output:
        design=f"{SECOND_LEVEL}_design.tsv",
        design_figure=report(f"{SECOND_LEVEL}_design.png", caption="../report/design.rst",
                             category="Group level", subcategory="{analysis}",
                             labels={"analysis": "{analysis}", "figure": "design"}),
        maps=group_map_outputs("second_level", GROUP_CONTRAST_NAMES),
        clusters=f"{RESULTS}/second_level/{{analysis}}/clusters.tsv",
        cluster_labels=cluster_label_outputs("second_level", GROUP_CONTRAST_NAMES),
        sidecar=f"{SECOND_LEVEL}_statmap.json",
    params:
        analysis=get_analysis,
        subjects=period_subjects(ANALYSES, "analysis"),
        lacking_session=period_subjects(ANALYSES, "analysis", lacking=True),
        sessions=lambda wc: DESIGN.period_sessions(ANALYSES[wc.analysis]["delta"]),
        design=DESIGN.as_dict("groups", "group_contrasts"),
        covariates=DATA["covariates"],
        inference=get_analysis_inference,
        library=library_version("second_level.py"),
    log:
        f"{RESULTS}/logs/second_level/{{analysis}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/second_level/{{analysis}}.tsv"
    # One thread: a second one saved 7 % of the job's wall time for 70 % more CPU
    # time (demo, 2 cores), and jobs side by side use the cores better.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/second_level.py"


rule truth_recovery:
    input:
        maps=fwe_cluster_maps(),
        truth=expand(f"{SIM_ROOT}/truth/space-{DATA['space']}_stat-effect_desc-{{name}}_statmap.nii.gz",
                     name=change_map_names(SIM["imaging"]["changes"], DESIGN.condition_names)),
        core=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-regions_dseg.nii.gz",
        support=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-support_dseg.nii.gz",
        regions=f"{SIM_ROOT}/truth/space-{DATA['space']}_desc-regions_dseg.tsv",
    output:
        summary=f"{RESULTS}/second_level/truth_recovery.tsv",
        regions=f"{RESULTS}/second_level/truth_recovery_regions.tsv",
    params:
        analyses=ANALYSES,
        map_keys=ANALYSIS_CONTRASTS,
        design=DESIGN.as_dict("groups", "sessions", "periods", "conditions", "contrasts",
                              "group_contrasts"),
        changes=SIM["imaging"]["changes"],
        connectivity=config["second_level"]["connectivity"],
        library=library_version("truth_recovery.py"),
    log:
        f"{RESULTS}/logs/truth_recovery.log",
    benchmark:
        f"{RESULTS}/benchmarks/truth_recovery.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/truth_recovery.py"
