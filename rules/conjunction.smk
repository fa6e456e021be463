# Conjunctions: voxels FWE-significant in every analysis of a configured set.


rule conjunction:
    input:
        unpack(get_conjunction_maps),
    output:
        overlap=f"{CONJUNCTION}_stat-minz_statmap.nii.gz",
        cluster_labels=f"{CONJUNCTION}_desc-clusters_dseg.nii.gz",
        clusters=f"{RESULTS}/conjunctions/{{conjunction}}/clusters.tsv",
        verdict=f"{RESULTS}/conjunctions/{{conjunction}}/verdict.txt",
        sidecar=f"{CONJUNCTION}_stat-minz_statmap.json",
    params:
        conjunction=lambda wc: CONJUNCTIONS[wc.conjunction],
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
