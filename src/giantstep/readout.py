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
    """The upper block triangle of ``F^T F`` for ``F: (..., m, p)``, ``(..., p, p)`` (zeros below).

    ``blocks`` column blocks: ``blocks (blocks + 1) / 2`` of the ``blocks^2`` block
    products (62.5 % of the flops for 4), as BLAS ``syrk`` would; see :func:`symmetrize`.
    """
    *seeds, _, p = features.shape
    out = torch.zeros(*seeds, p, p, dtype=features.dtype, device=features.device)
    edges = [round(k * p / blocks) for k in range(blocks + 1)]
    for start, stop in zip(edges[:-1], edges[1:]):
        out[..., start:stop, start:] = features[..., start:stop].mT @ features[..., start:]
    return out


def symmetrize(upper: torch.Tensor) -> torch.Tensor:
    """The symmetric matrices ``(..., p, p)`` whose upper triangles are those of ``upper``."""
    return torch.triu(upper) + torch.triu(upper, 1).mT


def readout_shift(teacher: Teacher, sampler: Sampler, n_train: int, preprocess: str) -> LabelShift:
    """The preprocessing shift of the readout set; the same at every ``t``, so compute it once."""
    if preprocess == "remove_linear":
        return label_shift(teacher, sampler, n_train, "readout", 0)
    return NO_SHIFT


def ridge_readouts(weights: torch.Tensor, activation: Activation, teacher: Teacher, sampler: Sampler, *,
                   n_train: int, n_test: int, ridge: float, shift: LabelShift,
                   second_layer: torch.Tensor | None = None) -> list:
    """The ridge readouts of ``K`` first layers ``weights: (K, p, d)`` (``W_0 ... W_T``), fused:
    a list of ``K`` :class:`ReadoutErrors`.

    Each chunk ``z: (m, d)`` of the readout set (then of the test set) is drawn once for up to
    ``FUSED_COLUMNS / p`` layers; their features come from one product ``z @ [W_0; ...]^T: (m, K p)``,
    the labels and the shift once per chunk, and the ``K`` Grams ``(p, p)`` and moments are
    accumulated side by side, then solved one by one. The same numbers as ``K`` separate readouts
    (the readout and test sets do not depend on the step), up to float32 rounding of the product.
    Memory: the chunk's features, ``m K p`` numbers per pass. With ``second_layer`` (``a: (p,)``)
    the test pass also gives the network's own error ``f = features @ a / sqrt(p)`` of each layer.

    With a seed axis (``weights: (S, K, p, d)``, a sampler of ``S`` seeds, ``second_layer: (S, p)``)
    every product carries it, and the result is a list of ``S`` such lists.
    """
    per_pass = max(1, FUSED_COLUMNS // weights.shape[-2])
    errors = [_fused_pass(weights[..., first:first + per_pass, :, :], activation, teacher, sampler,
                          n_train=n_train, n_test=n_test, ridge=ridge, shift=shift, second_layer=second_layer)
              for first in range(0, weights.shape[-3], per_pass)]
    train, test, network = (torch.cat(columns, dim=-1) for columns in zip(*errors))
    return _records(train, test, network)


def _records(train: torch.Tensor, test: torch.Tensor, network: torch.Tensor) -> list:
    """:class:`ReadoutErrors` of each layer from the errors ``(..., K)``, nested as the leading axes."""
    if train.dim() > 1:
        return [_records(*rows) for rows in zip(train, test, network)]
    return [ReadoutErrors(*(float(value) for value in errors)) for errors in zip(train, test, network)]


def _fused_pass(weights: torch.Tensor, activation: Activation, teacher: Teacher, sampler: Sampler, *,
                n_train: int, n_test: int, ridge: float, shift: LabelShift,
                second_layer: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`ridge_readouts` of the layers ``weights: (..., K, p, d)`` in one pass over each set:
    the training, test and network errors, each ``(..., K)`` (float64, on the CPU; NaN where the
    ridge system cannot be factorised)."""
    *seeds, K, p, d = weights.shape
    stacked = weights.reshape(*seeds, K * p, d)
    grams = torch.zeros(*seeds, K, p, p, dtype=torch.float64, device=sampler.device)
    moments = torch.zeros(*seeds, K * p, dtype=torch.float64, device=sampler.device)
    energy = torch.zeros(seeds, dtype=torch.float64, device=sampler.device)
    features = products = None  # reused from chunk to chunk (_reused)
    for z in sampler.chunks(n_train, d, "readout", progress="readout"):
        features = _reused(features, (*z.shape[:-1], K * p), z)  # (..., m, K p)
        features = activation.apply_(torch.matmul(z, stacked.mT, out=features))
        y = teacher.labels(z) - shift(z)
        for k in range(K):
            grams[..., k, :, :] += gram_upper(features[..., k * p:(k + 1) * p]).to(torch.float64)
        moments += (y[..., None, :] @ features).squeeze(-2).to(torch.float64)
        energy += y.to(torch.float64).square().sum(-1)
    grams, moments = symmetrize(grams) / p, moments.view(*seeds, K, p) / math.sqrt(p)
    solutions = [_solve(gram, moment, ridge, float(sse))
                 for gram, moment, sse in zip(grams.view(-1, p, p), moments.view(-1, p),
                                              energy[..., None].expand(*seeds, K).reshape(-1))]
    w_compute = (torch.stack([w for w, _ in solutions]) / math.sqrt(p)).to(sampler.dtype).view(*seeds, K, p)
    train_error = torch.tensor([max(sse, 0.0) / n_train if math.isfinite(sse) else math.nan
                                for _, sse in solutions], dtype=torch.float64).view(*seeds, K)
    test_sse = torch.zeros(*seeds, K, dtype=torch.float64, device=sampler.device)
    network_sse = torch.zeros(*seeds, K, dtype=torch.float64, device=sampler.device)
    for z in sampler.chunks(n_test, d, "test"):
        features = _reused(features, (*z.shape[:-1], K * p), z)
        features = activation.apply_(torch.matmul(z, stacked.mT, out=features))
        layers = features.unflatten(-1, (K, p))  # (..., m, K, p)
        products = _reused(products, layers.shape, z)
        y = teacher.labels(z)
        predictions = torch.mul(layers, w_compute[..., None, :, :], out=products).sum(-1)  # (..., m, K)
        residual = (y - shift(z))[..., None] - predictions
        test_sse += residual.to(torch.float64).square().sum(-2)
        if second_layer is not None:
            own = torch.mul(layers, (second_layer / math.sqrt(p))[..., None, None, :], out=products).sum(-1)
            network_sse += (y[..., None] - own).to(torch.float64).square().sum(-2)
    test_error = torch.where(train_error.isfinite(), test_sse.cpu() / n_test, math.nan)
    network_error = network_sse.cpu() / (2 * n_test) if second_layer is not None else torch.full_like(
        test_error, math.nan)
    return train_error, test_error, network_error


def _reused(buffer: torch.Tensor | None, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """``buffer`` when it has ``shape``, else a new tensor of that shape, dtype and device as
    ``like``: the chunks of a pass write their large intermediates into the same memory, for a
    fresh tensor per chunk costs its page faults every time (measured at ``m = 4096``,
    ``K p = 3584``, ``d = 128`` on one thread: ``z @ W^T`` 56 ms into a new tensor, 34 ms into a
    reused one)."""
    if buffer is None or buffer.shape != shape:
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return buffer


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
