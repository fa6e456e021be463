# Figures, report tables and the numbers behind the report's captions. Each figure's PNG
# is marked for the Snakemake report; its caption (report/*.rst) reads the numbers from
# the JSON summary the rule writes (params.findings, read only when the report is built).


rule figure_behaviour:
    input:
        ratings=f"{RESULTS}/ingest/ratings.tsv",
        memory=f"{RESULTS}/ingest/memory.tsv",
        manova=f"{RESULTS}/behaviour/manova.tsv",
        memory_manova=f"{RESULTS}/behaviour/memory_manova.tsv",
        paper_comparison=f"{RESULTS}/behaviour/paper_comparison.tsv",
    output:
        ratings=report_figure(f"{FIGURES}/fig2a_ratings", "../report/fig2a.rst", "Behaviour",
                              "Figures", {"figure": "2A"}),
        memory=report_figure(f"{FIGURES}/fig2b_memory", "../report/fig2b.rst", "Behaviour",
                             "Figures", {"figure": "2B"}),
        summary=f"{FIGURES}/behaviour_summary.json",
    params:
        design=DESIGN.as_dict("sessions", "conditions", "ratings", "scores"),
        groups=DESIGN.labels(),
        findings=Findings(f"{FIGURES}/behaviour_summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_behaviour.py"),
    log:
        f"{RESULTS}/logs/figure_behaviour.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_behaviour.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_behaviour.py"


rule behaviour_table_html:
    input:
        f"{RESULTS}/behaviour/{{table}}.tsv",
    output:
        report(f"{RESULTS}/behaviour/{{table}}.html", caption="../report/table.rst",
               category="Behaviour", subcategory="Tables", labels={"table": "{table}"}),
    params:
        title=lambda wc: BEHAVIOUR_TABLES[wc.table][0],
        description=lambda wc: BEHAVIOUR_TABLES[wc.table][1],
        library=library_version("table_html.py"),
    log:
        f"{RESULTS}/logs/table_html/behaviour_{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/table_html/behaviour_{{table}}.tsv"
    wildcard_constraints:
        table="|".join(BEHAVIOUR_TABLES),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/table_html.py"


rule truth_recovery_html:
    input:
        f"{RESULTS}/second_level/truth_recovery.tsv",
    output:
        report(f"{RESULTS}/second_level/truth_recovery.html", caption="../report/table.rst",
               category="Group level", subcategory="Simulated truth",
               labels={"table": "truth recovery"}),
    params:
        title="Recovery of the planted (simulated) effects",
        description="Per analysis, contrast and planted region: significant voxels, the "
                    "share of the region covered, the Dice overlap of the significant map "
                    "with the planted network, and significant voxels outside every "
                    "planted region.",
        library=library_version("table_html.py"),
    log:
        f"{RESULTS}/logs/table_html/truth_recovery.log",
    benchmark:
        f"{RESULTS}/benchmarks/table_html/truth_recovery.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/table_html.py"


rule figure_networks:
    input:
        **{period: network_maps(period) for period in DESIGN.period_names},
        **{f"{period}_sidecars": network_sidecars(period) for period in DESIGN.period_names},
    output:
        figure=report_figure(f"{FIGURES}/fig3a_networks", "../report/fig3a.rst",
                             "Group level", "Figure 3A", {"figure": "3A"}),
        summary=f"{FIGURES}/networks_summary.json",
    params:
        cut_coords=FIG["network_cut_coords"],
        groups=DESIGN.labels(),
        periods={p.name: p.words() for p in DESIGN.periods},
        findings=Findings(f"{FIGURES}/networks_summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_networks.py"),
    log:
        f"{RESULTS}/logs/figure_networks.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_networks.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_networks.py"


rule figure_group:
    input:
        unpack(get_cluster_set_maps("second_level", T_CONTRAST_NAMES)),
    output:
        maps=contrast_figures(f"{RESULTS}/second_level/{{name}}/figures",
                              T_CONTRAST_NAMES, "../report/group_maps.rst",
                              "Group level", {"analysis": "{name}"}),
        values=report_figure(f"{RESULTS}/second_level/{{name}}/figures/desc-{{name}}_sessions",
                             "../report/fig3b.rst", "Group level", "{name}",
                             {"analysis": "{name}", "figure": "3B"}),
        table=report(f"{RESULTS}/second_level/{{name}}/figures/desc-{{name}}_clusters.html",
                     caption="../report/clusters.rst", category="Group level",
                     subcategory="{name}", labels={"analysis": "{name}", "table": "clusters"}),
        summary=f"{RESULTS}/second_level/{{name}}/figures/summary.json",
    params:
        name="{name}",
        kind="group",
        contrasts=T_CONTRAST_NAMES,
        contrast_labels=GROUP_CONTRAST_LABELS,
        effect=lambda wc: ANALYSES[wc.name]["contrast"],
        weights=lambda wc: DESIGN.contrast_weights(ANALYSES[wc.name]["contrast"]),
        delta=lambda wc: ANALYSES[wc.name]["delta"],
        sessions=SESSIONS,
        groups=DESIGN.labels(),
        findings=lambda wc: Findings(
            f"{RESULTS}/second_level/{wc.name}/figures/summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_cluster_set.py"),
    log:
        f"{RESULTS}/logs/figure_group/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_group/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(ANALYSES),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_cluster_set.py"


rule figure_brain_behaviour:
    input:
        unpack(get_cluster_set_maps("brain_behaviour", SLOPE_CONTRAST_NAMES)),
    output:
        maps=contrast_figures(f"{RESULTS}/brain_behaviour/{{name}}/figures",
                              SLOPE_CONTRAST_NAMES, "../report/bb_maps.rst",
                              "Brain-behaviour", {"analysis": "{name}"}),
        values=report_figure(f"{RESULTS}/brain_behaviour/{{name}}/figures/desc-{{name}}_scatter",
                             "../report/bb_scatter.rst", "Brain-behaviour", "{name}",
                             {"analysis": "{name}", "figure": "scatter"}),
        table=report(f"{RESULTS}/brain_behaviour/{{name}}/figures/desc-{{name}}_clusters.html",
                     caption="../report/clusters.rst", category="Brain-behaviour",
                     subcategory="{name}", labels={"analysis": "{name}", "table": "clusters"}),
        summary=f"{RESULTS}/brain_behaviour/{{name}}/figures/summary.json",
    params:
        name="{name}",
        kind="brain_behaviour",
        contrasts=SLOPE_CONTRAST_NAMES,
        contrast_labels=SLOPE_CONTRAST_LABELS,
        effect=lambda wc: BB_ANALYSES[wc.name]["contrast"],
        weights=lambda wc: DESIGN.contrast_weights(BB_ANALYSES[wc.name]["contrast"]),
        delta=lambda wc: BB_ANALYSES[wc.name]["delta"],
        score_label=lambda wc: BB_SCORE_LABELS[wc.name],
        group=DESIGN.brain_behaviour_group,
        periods={p.name: [p.first, p.second] for p in DESIGN.periods},
        groups=DESIGN.labels(),
        findings=lambda wc: Findings(
            f"{RESULTS}/brain_behaviour/{wc.name}/figures/summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_cluster_set.py"),
    log:
        f"{RESULTS}/logs/figure_brain_behaviour/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_brain_behaviour/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(BB_ANALYSES) or "no-analysis",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_cluster_set.py"


rule figure_conjunction:
    input:
        minz=stage_map("conjunctions", None, "minz"),
        clusters=f"{RESULTS}/conjunctions/{{conjunction}}/clusters.tsv",
        sidecar=f"{CONJUNCTION}_statmap.json",
        analysis_sidecars=get_conjunction_sidecars,
    output:
        figure=report_figure(f"{RESULTS}/conjunctions/{{conjunction}}/figures/desc-{{conjunction}}_conjunction",
                             "../report/conjunction.rst", "Conjunctions", "{conjunction}",
                             {"conjunction": "{conjunction}"}),
        table=report(f"{RESULTS}/conjunctions/{{conjunction}}/figures/desc-{{conjunction}}_clusters.html",
                     caption="../report/clusters.rst", category="Conjunctions",
                     subcategory="{conjunction}",
                     labels={"conjunction": "{conjunction}", "table": "clusters"}),
        summary=f"{RESULTS}/conjunctions/{{conjunction}}/figures/summary.json",
    params:
        conjunction=lambda wc: CONJUNCTIONS[wc.conjunction],
        groups=DESIGN.labels(),
        findings=lambda wc: Findings(
            f"{RESULTS}/conjunctions/{wc.conjunction}/figures/summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_conjunction.py"),
    log:
        f"{RESULTS}/logs/figure_conjunction/{{conjunction}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_conjunction/{{conjunction}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_conjunction.py"


rule figure_qc:
    input:
        runs=f"{RESULTS}/qc/runs.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
    output:
        figure=report_figure(f"{FIGURES}/qc_motion", "../report/qc.rst", "QC", "Motion and tSNR",
                             {"figure": "FD and tSNR"}),
        runs_table=report(f"{RESULTS}/qc/runs.html", caption="../report/qc.rst", category="QC",
                          subcategory="Tables", labels={"table": "runs"}),
        exclusions_table=report(f"{RESULTS}/qc/exclusions.html", caption="../report/qc.rst",
                                category="QC", subcategory="Tables",
                                labels={"table": "exclusions"}),
        summary=f"{FIGURES}/qc_summary.json",
    params:
        sessions=SESSIONS,
        fd_limit=config["preprocess"]["max_mean_fd"],
        findings=Findings(f"{FIGURES}/qc_summary.json"),
        **FIGURE_PARAMS,
        library=library_version("figure_qc.py"),
    log:
        f"{RESULTS}/logs/figure_qc.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_qc.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_qc.py"


rule figure_first_level_designs:
    input:
        designs=first_level_designs("tsv"),
    output:
        figures=first_level_design_figures(),
    params:
        **FIGURE_PARAMS,
        library=library_version("figure_first_level_designs.py"),
    log:
        f"{RESULTS}/logs/figure_first_level_designs.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_first_level_designs.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figure_first_level_designs.py"


rule report_findings:
    input:
        summary_files(),
    output:
        f"{RESULTS}/report/findings.json",
    params:
        analyses=list(ANALYSES),
        conjunctions=list(CONJUNCTIONS),
        brain_behaviour=list(BB_ANALYSES),
        library=library_version("report_findings.py"),
    log:
        f"{RESULTS}/logs/report_findings.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_findings.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/report_findings.py"


rule methods:
    input:
        runs=f"{RESULTS}/qc/runs.tsv",
        exclusions=f"{RESULTS}/qc/exclusions.tsv",
        group_sidecars=expand(f"{SECOND_LEVEL}_statmap.json", analysis=ANALYSES),
        bb_sidecars=expand(f"{BRAIN_BEHAVIOUR}_statmap.json", bb=BB_ANALYSES),
    output:
        f"{RESULTS}/methods.md",
    params:
        settings=METHODS_SETTINGS,
        snakemake_version=SNAKEMAKE_VERSION,
        library=library_version("methods.py"),
    log:
        f"{RESULTS}/logs/methods.log",
    benchmark:
        f"{RESULTS}/benchmarks/methods.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/provenance.yaml"
    script:
        "../scripts/methods.py"
