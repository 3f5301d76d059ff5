"""Gaussian expectations by Gauss–Hermite quadrature (and Monte Carlo beyond ``r = 4``).

A *rule* is a pair ``(points, weights)``: ``points: (N, r)``, ``weights: (N,)`` summing to 1,
so that ``E[f(z)], z ~ N(0, I_r)`` is ``weights @ f(points)``. Everything is float64 on the CPU.

Node count. :data:`NODES_PER_DIM` ``= 20`` probabilists' Gauss–Hermite nodes per dimension.
An ``n``-node rule is exact for polynomials of degree ``<= 2n - 1`` in each coordinate, so 20
nodes integrate exactly every product the theory needs for polynomial targets: ``g*^2`` and
``E[g* | z_U]^2`` (the error floors) for ``g*`` of degree ``<= 19`` per coordinate, and
``g* He_k`` for ``deg g* + k <= 39`` -- far beyond the expression language (``He0..He9``, the
paper's targets have degree <= 4). Non-polynomial integrands (a ``tanh`` target, the smoothed
activation derivatives of the population gradient) are not exact but converge fast because
they are smooth; 20 nodes give them about 6 digits, and the nodes are symmetric, so every zero
that comes from parity (``E[odd] = 0``) is exact to rounding. The tensor grid has ``20^r``
points: 8000 for ``r = 3`` and 160 000 for ``r = 4`` (a few MB), which keeps ``r = 4``
affordable; beyond that the grid explodes and :func:`monte_carlo_rule` is used instead.
"""

from __future__ import annotations

import functools

import torch
from numpy.polynomial.hermite_e import hermegauss

NODES_PER_DIM = 20
MAX_QUADRATURE_R = 4
MONTE_CARLO_SAMPLES = 400_000
MONTE_CARLO_SEED = 0

Rule = tuple[torch.Tensor, torch.Tensor]


@functools.lru_cache(maxsize=16)
def gauss_hermite(n: int = NODES_PER_DIM) -> Rule:
    """1-D rule for ``N(0, 1)``: nodes ``(n, 1)`` and weights ``(n,)`` summing to 1 (cached)."""
    nodes, weights = hermegauss(n)
    weights = weights / weights.sum()
    return torch.from_numpy(nodes).unsqueeze(1), torch.from_numpy(weights)


@functools.lru_cache(maxsize=16)
def tensor_rule(r: int, n: int = NODES_PER_DIM) -> Rule:
    """Tensor-product rule for ``N(0, I_r)``: points ``(n^r, r)``, weights ``(n^r,)``.

    Points are ordered with the first coordinate slowest, so reshaping a function's values to
    ``(n^k, n^(r-k))`` separates the first ``k`` coordinates from the others. ``r = 0`` gives
    the one-point rule. Cached: treat the returned tensors as read-only.
    """
    nodes, weights = gauss_hermite(n)
    digits = torch.arange(n**r)[:, None] // n ** torch.arange(r - 1, -1, -1) % n  # (n^r, r)
    return nodes[:, 0][digits], weights[digits].prod(dim=1)


def monte_carlo_rule(r: int, samples: int = MONTE_CARLO_SAMPLES) -> Rule:
    """Fixed-seed Monte Carlo 'rule': ``samples`` Gaussian points with equal weights."""
    generator = torch.Generator().manual_seed(MONTE_CARLO_SEED)
    points = torch.randn(samples, r, generator=generator, dtype=torch.float64)
    return points, torch.full((samples,), 1.0 / samples, dtype=torch.float64)
