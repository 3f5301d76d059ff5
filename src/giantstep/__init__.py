"""giantstep: two-layer networks trained by a few giant gradient steps (Dandi et al., 2023)."""

__version__ = "0.1.0"

# Bump when a change to the engine alters results: the workflow's run digests include it,
# so every run is redone on the next `snakemake` (see README, "Caching").
ENGINE_VERSION = 4
