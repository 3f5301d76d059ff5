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

from giantstep.data import Sampler
from giantstep.model import Student
from giantstep.targets import Teacher
from giantstep.train import NO_SHIFT, LabelShift, label_shift


@dataclass(frozen=True)
class ReadoutErrors:
    """Mean squared errors of the ridge readout on its training set and on the test set."""

    train_error: float
    test_error: float


def _unscaled_features(student: Student, z: torch.Tensor) -> torch.Tensor:
    """``sigma(Z W^T)``, ``(m, p)``: the features times ``sqrt(p)`` (scaled once, on the sums)."""
    return student.activation.apply_(student.preactivations(z))


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


def ridge_readout(student: Student, teacher: Teacher, sampler: Sampler, *, n_train: int,
                  n_test: int, ridge: float, preprocess: str,
                  shift: LabelShift | None = None) -> ReadoutErrors:
    """Fit the ridge readout on ``n_train`` samples, evaluate on ``n_test``.

    Errors are NaN when the ridge system cannot be factorised (non-finite or singular),
    which the caller reports as divergence.

    The readout and test sets do not depend on the step, so errors at different
    ``t`` are measured on the same data.
    """
    p, d = student.W.shape
    if shift is None:  # the caller may pass readout_shift(...), computed once per run
        shift = readout_shift(teacher, sampler, n_train, preprocess)
    gram = torch.zeros(p, p, dtype=torch.float64, device=sampler.device)
    moment = torch.zeros(p, dtype=torch.float64, device=sampler.device)
    energy = 0.0
    for z in sampler.chunks(n_train, d, "readout", progress="readout"):
        features = _unscaled_features(student, z)
        y = teacher.labels(z) - shift(z)
        gram += gram_upper(features).to(torch.float64)
        moment += (y @ features).to(torch.float64)
        energy += float(y.to(torch.float64) @ y.to(torch.float64))
    gram = symmetrize(gram) / p
    moment = moment / math.sqrt(p)
    system = gram + ridge * torch.eye(p, dtype=torch.float64, device=sampler.device)
    factor, info = torch.linalg.cholesky_ex(system)
    if int(info) != 0 or not torch.isfinite(system).all():
        # features too large (diverged weights) or rank-deficient at ridge 0: no readout
        return ReadoutErrors(train_error=math.nan, test_error=math.nan)
    w = torch.cholesky_solve(moment[:, None], factor)[:, 0]
    train_sse = energy - 2 * float(w @ moment) + float(w @ gram @ w)

    w_compute = (w / math.sqrt(p)).to(sampler.dtype)
    test_sse = 0.0
    for z in sampler.chunks(n_test, d, "test"):
        prediction = _unscaled_features(student, z) @ w_compute + shift(z)
        test_sse += float(((teacher.labels(z) - prediction).to(torch.float64) ** 2).sum())
    return ReadoutErrors(train_error=max(train_sse, 0.0) / n_train, test_error=test_sse / n_test)
