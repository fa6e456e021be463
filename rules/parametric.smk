# Brain-behaviour (parametric) analyses: change maps regressed on a behavioural score
# within one group, with the group level's permutation inference.


rule brain_behaviour:
    input:
        maps=get_bb_change_maps,
        participants=f"{RESULTS}/ingest/participants.tsv",
        ratings=f"{RESULTS}/ingest/ratings.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
        mask=GROUP_MASK,
    output:
        design=f"{BRAIN_BEHAVIOUR}_design.tsv",
        design_figure=report(f"{BRAIN_BEHAVIOUR}_design.png", caption="../report/design.rst",
                             category="Brain-behaviour", subcategory="{bb}",
                             labels={"analysis": "{bb}", "figure": "design"}),
        maps=group_map_outputs("brain_behaviour", SLOPE_CONTRAST_NAMES),
        cluster_labels=cluster_label_outputs("brain_behaviour", SLOPE_CONTRAST_NAMES),
        clusters=f"{RESULTS}/brain_behaviour/{{bb}}/clusters.tsv",
        sidecar=f"{BRAIN_BEHAVIOUR}_statmap.json",
    params:
        analysis=lambda wc: BB_ANALYSES[wc.bb],
        group=DESIGN.labels()[DESIGN.brain_behaviour_group],
        role=DESIGN.brain_behaviour_group,
        covariates=BB_COVARIATES,
        subjects=period_subjects(BB_ANALYSES, "bb"),
        lacking_session=period_subjects(BB_ANALYSES, "bb", lacking=True),
        design=DESIGN.as_dict("sessions", "periods", "conditions", "ratings"),
        score=lambda wc: BB_SCORES[wc.bb],
        inference=inference_params(),
        library=library_version("brain_behaviour.py"),
    log:
        f"{RESULTS}/logs/brain_behaviour/{{bb}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/brain_behaviour/{{bb}}.tsv"
    # One thread: a second one saved 7 % of the job's wall time for 70 % more CPU
    # time (demo, 2 cores), and jobs side by side use the cores better.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/brain_behaviour.yaml"
    script:
        "../scripts/brain_behaviour.py"
