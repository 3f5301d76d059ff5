"""giantstep: two-layer networks trained by a few giant gradient steps (Dandi et al., 2023)."""

__version__ = "0.1.0"
