"""ecgap: analysis library for longitudinal training fMRI studies (Klimecki et al. 2014).

The Snakemake rule scripts are thin wrappers around the functions in this package;
everything here is importable and testable without Snakemake.
"""

__version__ = "0.2.0"
