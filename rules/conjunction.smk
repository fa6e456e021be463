# Conjunctions: voxels voxel-FWE significant in every analysis of a configured set
# (Nichols et al. 2005), and the overlap of the analyses' FWE-significant clusters.


rule conjunction:
    input:
        unpack(get_conjunction_maps),
    output:
        minz=stage_map("conjunctions", None, "minz"),
        logp=stage_map("conjunctions", None, "logpFWEvoxel"),
        cluster_labels=f"{CONJUNCTION}_dseg.nii.gz",
        cluster_label_table=f"{CONJUNCTION}_dseg.tsv",
        clusters=f"{RESULTS}/conjunctions/{{conjunction}}/clusters.tsv",
        overlap=stage_map("conjunctions", None, "minzClusterOverlap"),
        overlap_clusters=f"{RESULTS}/conjunctions/{{conjunction}}/cluster_overlap.tsv",
        verdict=f"{RESULTS}/conjunctions/{{conjunction}}/verdict.txt",
        sidecar=f"{CONJUNCTION}_statmap.json",
    params:
        conjunction=lambda wc: CONJUNCTIONS[wc.conjunction],
        alpha=config["second_level"]["alpha"],
        connectivity=config["second_level"]["connectivity"],
        library=library_version("conjunction.py"),
    log:
        f"{RESULTS}/logs/conjunction/{{conjunction}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/conjunction/{{conjunction}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/second_level.yaml"
    script:
        "../scripts/conjunction.py"
