"""The theory layer: what the paper predicts for a target and a student activation.

- :mod:`giantstep.theory.population`: Hermite coefficients, leap indices, the one-step and
  activation-aware staircase subspaces, error floors and population gradients (docs/method.md §4);
- :mod:`giantstep.theory.quadrature`: the Gauss–Hermite rules and the Monte Carlo fallback they use;
- :mod:`giantstep.theory.cli`: ``giantstep-theory``, the same numbers from the command line.

It depends on the problem definition at the package root (targets, activations, Hermite
polynomials), never on the engine's training code or on the reproduction layer.
"""
