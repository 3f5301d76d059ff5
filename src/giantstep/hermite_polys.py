"""Probabilists' Hermite polynomials ``He_k`` evaluated by their three-term recurrence.

``He_0 = 1``, ``He_1 = x``, ``He_{k+1} = x He_k - k He_{k-1}``; orthogonal under
``N(0, 1)`` with ``E[He_j He_k] = k! delta_jk``.
"""

from __future__ import annotations

import torch


def hermite_he(k: int, x: torch.Tensor) -> torch.Tensor:
    """``He_k(x)`` elementwise, for an integer ``k >= 0``."""
    if k < 0:
        raise ValueError(f"Hermite order must be >= 0, got {k}")
    previous, current = torch.ones_like(x), x
    if k == 0:
        return previous
    for j in range(1, k):
        previous, current = current, x * current - j * previous
    return current
