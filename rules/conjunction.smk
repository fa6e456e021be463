# Conjunctions: voxels voxel-FWE significant in every analysis of a configured set
# (Nichols et al. 2005), and the overlap of the analyses' FWE-significant clusters.


rule conjunction:
    input:
        unpack(get_conjunction_maps),
    output:
        minz=f"{CONJUNCTION}_stat-minz_statmap.nii.gz",
        logp=f"{CONJUNCTION}_stat-logpFWEvoxel_statmap.nii.gz",
        cluster_labels=f"{CONJUNCTION}_desc-clusters_dseg.nii.gz",
        clusters=f"{RESULTS}/conjunctions/{{conjunction}}/clusters.tsv",
        overlap=f"{CONJUNCTION}_stat-minzClusterOverlap_statmap.nii.gz",
        overlap_clusters=f"{RESULTS}/conjunctions/{{conjunction}}/cluster_overlap.tsv",
        verdict=f"{RESULTS}/conjunctions/{{conjunction}}/verdict.txt",
        sidecar=f"{CONJUNCTION}_stat-minz_statmap.json",
    params:
        conjunction=lambda wc: CONJUNCTIONS[wc.conjunction],
        alpha=config["second_level"]["alpha"],
        connectivity=config["second_level"]["connectivity"],
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
