"""Ridge readout on the student's features, and its train and test errors (docs/method.md §3).

Features ``F = sigma(Z W^T) / sqrt(p)`` of a fresh training set; the second layer is

    w = argmin_w  sum_nu (y_nu - F_nu · w)^2 + lambda ||w||^2 = (F^T F + lambda I)^{-1} F^T y,

a *sum* over samples as in the authors' notebook. ``F^T F: (p, p)`` and ``F^T y: (p,)`` are
accumulated over chunks in float64 and solved by Cholesky. The training error follows
from the same sums (``||y - F w||^2 = y^T y - 2 w·F^T y + w^T F^T F w``), and the test
error (mean squared error against the clean target) is streamed over a fresh test set.
With preprocessing the readout fits ``y - mean - z·b`` and adds the shift back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from giantstep.activations import Activation
from giantstep.config import FUSED_COLUMNS
from giantstep.data import Sampler
from giantstep.model import Student
from giantstep.targets import Teacher
from giantstep.train import NO_SHIFT, LabelShift, label_shift


@dataclass(frozen=True)
class ReadoutErrors:
    """Mean squared errors of the ridge readout on its training set and on the test set, and the
    network's own error on the test set with its fixed second layer: ``(1/2) mean (y - f)^2``
    (the batch-reuse follow-up's ``gen_error``; NaN when no second layer was given)."""

    train_error: float
    test_error: float
    network_error: float = math.nan


def gram_upper(features: torch.Tensor, blocks: int = 4) -> torch.Tensor:
    """The upper block triangle of ``F^T F`` for ``F: (m, p)``, ``(p, p)`` (zeros below).

    ``blocks`` column blocks: ``blocks (blocks + 1) / 2`` of the ``blocks^2`` block
    products (62.5 % of the flops for 4), as BLAS ``syrk`` would; see :func:`symmetrize`.
    """
    p = features.shape[1]
    out = torch.zeros(p, p, dtype=features.dtype, device=features.device)
    edges = [round(k * p / blocks) for k in range(blocks + 1)]
    for start, stop in zip(edges[:-1], edges[1:]):
        out[start:stop, start:] = features[:, start:stop].T @ features[:, start:]
    return out


def symmetrize(upper: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix whose upper triangle is that of ``upper``."""
    return torch.triu(upper) + torch.triu(upper, 1).T


def readout_shift(teacher: Teacher, sampler: Sampler, n_train: int, preprocess: str) -> LabelShift:
    """The preprocessing shift of the readout set; the same at every ``t``, so compute it once."""
    if preprocess == "remove_linear":
        return label_shift(teacher, sampler, n_train, "readout", 0)
    return NO_SHIFT


def ridge_readouts(weights: torch.Tensor, activation: Activation, teacher: Teacher, sampler: Sampler, *,
                   n_train: int, n_test: int, ridge: float, shift: LabelShift,
                   second_layer: torch.Tensor | None = None) -> list[ReadoutErrors]:
    """The ridge readouts of ``K`` first layers ``weights: (K, p, d)`` (``W_0 ... W_T``), fused.

    Each chunk ``z: (m, d)`` of the readout set (then of the test set) is drawn once for up to
    ``FUSED_COLUMNS / p`` layers; their features come from one product ``z @ [W_0; ...]^T: (m, K p)``,
    the labels and the shift once per chunk, and the ``K`` Grams ``(p, p)`` and moments are
    accumulated side by side, then solved one by one. The same numbers as ``K`` separate readouts
    (the readout and test sets do not depend on the step), up to float32 rounding of the product.
    Memory: the chunk's features, ``m K p`` numbers per pass. With ``second_layer`` (``a: (p,)``)
    the test pass also gives the network's own error ``f = features @ a / sqrt(p)`` of each layer.
    """
    per_pass = max(1, FUSED_COLUMNS // weights.shape[1])
    return [errors for first in range(0, weights.shape[0], per_pass)
            for errors in _fused_pass(weights[first:first + per_pass], activation, teacher, sampler,
                                      n_train=n_train, n_test=n_test, ridge=ridge, shift=shift,
                                      second_layer=second_layer)]


def _fused_pass(weights: torch.Tensor, activation: Activation, teacher: Teacher, sampler: Sampler, *,
                n_train: int, n_test: int, ridge: float, shift: LabelShift,
                second_layer: torch.Tensor | None) -> list[ReadoutErrors]:
    """:func:`ridge_readouts` of the layers ``weights: (K, p, d)`` in one pass over each set."""
    K, p, d = weights.shape
    stacked = weights.reshape(K * p, d)
    grams = torch.zeros(K, p, p, dtype=torch.float64, device=sampler.device)
    moments = torch.zeros(K * p, dtype=torch.float64, device=sampler.device)
    energy = 0.0
    for z in sampler.chunks(n_train, d, "readout", progress="readout"):
        features = activation.apply_(z @ stacked.T)  # (m, K p)
        y = teacher.labels(z) - shift(z)
        for k in range(K):
            grams[k] += gram_upper(features[:, k * p:(k + 1) * p]).to(torch.float64)
        moments += (y @ features).to(torch.float64)
        energy += float(y.to(torch.float64) @ y.to(torch.float64))
    solutions = [_solve(symmetrize(grams[k]) / p, moments[k * p:(k + 1) * p] / math.sqrt(p), ridge, energy)
                 for k in range(K)]
    w_compute = (torch.stack([w for w, _ in solutions]) / math.sqrt(p)).to(sampler.dtype)  # (K, p)
    test_sse = torch.zeros(K, dtype=torch.float64, device=sampler.device)
    network_sse = torch.zeros(K, dtype=torch.float64, device=sampler.device)
    for z in sampler.chunks(n_test, d, "test"):
        features = activation.apply_(z @ stacked.T).reshape(-1, K, p)
        y = teacher.labels(z)
        residual = (y - shift(z))[:, None] - (features * w_compute).sum(-1)
        test_sse += (residual.to(torch.float64) ** 2).sum(0)
        if second_layer is not None:
            network = y[:, None] - (features * (second_layer / math.sqrt(p))).sum(-1)
            network_sse += (network.to(torch.float64) ** 2).sum(0)
    network_error = network_sse / (2 * n_test) if second_layer is not None else torch.full((K,), math.nan)
    return [ReadoutErrors(train_error=max(train_sse, 0.0) / n_train, test_error=float(sse) / n_test,
                          network_error=float(own))
            if math.isfinite(train_sse) else ReadoutErrors(math.nan, math.nan, float(own))
            for (_, train_sse), sse, own in zip(solutions, test_sse, network_error)]


def _solve(gram: torch.Tensor, moment: torch.Tensor, ridge: float,
           energy: float) -> tuple[torch.Tensor, float]:
    """The ridge solution ``w: (p,)`` of ``(F^T F + ridge I) w = F^T y`` (scaled features) and the
    training sum of squares; zeros and NaN when the system cannot be factorised (non-finite or
    singular: diverged weights, or rank-deficient at ridge 0), which the caller reports as
    divergence."""
    system = gram + ridge * torch.eye(gram.shape[0], dtype=torch.float64, device=gram.device)
    factor, info = torch.linalg.cholesky_ex(system)
    if int(info) != 0 or not torch.isfinite(system).all():
        return torch.zeros_like(moment), math.nan
    w = torch.cholesky_solve(moment[:, None], factor)[:, 0]
    return w, energy - 2 * float(w @ moment) + float(w @ gram @ w)


def ridge_readout(student: Student, teacher: Teacher, sampler: Sampler, *, n_train: int,
                  n_test: int, ridge: float, preprocess: str,
                  shift: LabelShift | None = None) -> ReadoutErrors:
    """The ridge readout of one student: fit on ``n_train`` samples, evaluate on ``n_test``
    (:func:`ridge_readouts` of its one layer). Errors are NaN when the ridge system cannot be
    factorised (non-finite or singular)."""
    if shift is None:
        shift = readout_shift(teacher, sampler, n_train, preprocess)
    return ridge_readouts(student.W[None], student.activation, teacher, sampler, n_train=n_train,
                          n_test=n_test, ridge=ridge, shift=shift)[0]
