"""Giant full-batch gradient steps on the first layer ``W`` (docs/method.md §2).

One step on a batch of ``n`` samples, with ``a`` fixed:

    W <- W + eta * (1/n) sum_nu (y_nu - f(z_nu)) * ((a/sqrt(p)) ⊙ sigma'(W z_nu)) z_nu^T

The sum is accumulated over chunks of samples, so memory is ``O(chunk*d + p*d)``
whatever ``n`` is. With ``preprocess="remove_linear"`` the labels are replaced
by ``y - mean(y) - z·b``, ``b = (1/n) sum_nu y_nu z_nu``, estimated in a first
pass over the same batch.

The batch of step ``t`` is a fresh one by default; with ``train.resample_every`` a batch serves
several consecutive steps (:func:`batch_index`): it is the same sample set of the sampler,
drawn again, so reusing it costs no memory.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import torch

from giantstep.data import Sampler
from giantstep.errors import DivergenceError
from giantstep.model import Student
from giantstep.rules import LR_RULES
from giantstep.targets import Teacher


def learning_rate(rule: str, scale: float, *, n: int, d: int, p: int) -> float:
    """``eta = scale * factor(n, d, p)`` for a rule of :data:`giantstep.rules.LR_RULES`
    (docs/method.md §2: ``c``, ``c p``, ``c p sqrt(n/d)``, ``c sqrt(n p)`` or ``c n/d``)."""
    return scale * LR_RULES[rule].factor(n, d, p)


def batch_index(step: int, resample_every: int) -> int:
    """The batch that step ``step`` (1-based) trains on: batches ``1, 2, ...`` each serve
    ``resample_every`` consecutive steps, and ``resample_every = 0`` means one batch for all steps.
    With ``resample_every = 1`` the batch is the step, as it always was (same samples, same seeds)."""
    return 1 if resample_every == 0 else (step - 1) // resample_every + 1


@dataclass(frozen=True)
class LabelShift:
    """The part of the labels removed by preprocessing: ``mean + z·b`` (``mean: (...)``,
    ``b: (..., d)``; a seed axis first when several seeds run together)."""

    mean: torch.Tensor | float
    b: torch.Tensor | None

    def __call__(self, z: torch.Tensor) -> torch.Tensor | float:
        """The shift for inputs ``z: (..., m, d)``: ``(..., m)``, or the scalar 0 without
        preprocessing."""
        return self.mean if self.b is None else self.mean[..., None] + (z @ self.b[..., None]).squeeze(-1)


NO_SHIFT = LabelShift(0.0, None)


def label_shift(teacher: Teacher, sampler: Sampler, n: int, purpose: str, step: int) -> LabelShift:
    """Empirical ``mean(y)`` and ``b = (1/n) sum y z`` over the ``n`` samples of ``(purpose, step)``
    (per seed, with a seed axis first when the sampler has several)."""
    d = teacher.w_star.shape[-1]
    total, moment = 0.0, 0.0
    for z in sampler.chunks(n, d, purpose, step):
        y = teacher.labels(z)
        total = total + y.sum(-1, dtype=torch.float64)
        moment = moment + (y[..., None, :] @ z).squeeze(-2).to(torch.float64)
    return LabelShift((total / n).to(sampler.dtype), (moment / n).to(sampler.dtype))


def group_bounds(n: int, groups: int) -> torch.Tensor:
    """First sample index of each of ``groups`` contiguous groups of ``n`` samples, and ``n``:
    ``(groups + 1,)``. Group ``g`` holds samples ``bounds[g] <= nu < bounds[g+1]``, sizes
    differing by at most one; the groups depend on ``n`` only, not on the chunks."""
    return torch.div(torch.arange(groups + 1) * n, groups, rounding_mode="floor")


def gradient(student: Student, teacher: Teacher, sampler: Sampler, n: int, batch: int,
             shift: LabelShift, groups: int = 1,
             label: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1/n) sum_nu (y_nu - f(z_nu)) ((a/sqrt(p)) ⊙ sigma'(W z_nu)) z_nu^T``: ``(p, d)``,
    and its per-group parts in teacher coordinates, ``(groups, p, r)``, over the ``n`` samples of
    the training set ``batch`` (:func:`batch_index`); ``label`` names its progress bar (default
    ``batch <batch>``; a giant step shows ``step <t>``).

    The first is minus the gradient of ``L = (1/2n) sum (y - f)^2`` with respect to ``W``.
    The second splits the same sum over ``groups`` contiguous groups of samples
    (:func:`group_bounds`) and projects each part on the teacher basis ``Q = W*^T``, so that
    ``parts.sum(0) == gradient @ Q`` up to rounding; it costs ``r/d`` of the gradient's flops
    and lets :class:`giantstep.metrics.TeacherNoise` estimate the sampling noise of the
    update along the teacher. Per-chunk products are summed in float64. With a seed axis
    (``W: (S, p, d)``, a sampler of ``S`` seeds) both carry it first: ``(S, p, d)``,
    ``(S, groups, p, r)``.
    """
    *seeds, p, d = student.W.shape
    r = teacher.w_star.shape[-2]
    total = torch.zeros(*seeds, p, d, dtype=torch.float64, device=sampler.device)
    parts = torch.zeros(*seeds, groups, p, r, dtype=torch.float64, device=sampler.device)
    bounds = group_bounds(n, groups).tolist()
    first = 0
    for z in sampler.chunks(n, d, "train", batch, progress=label or f"batch {batch}"):
        along_teacher = teacher.coordinates(z)  # (..., m, r): for the labels and for the parts
        output, coefficients = student.output_and_derivative(student.preactivations(z))
        coefficients.mul_((teacher.target(along_teacher) - shift(z) - output)[..., None])
        total += (coefficients.mT @ z).to(torch.float64)
        last = first + z.shape[-2]
        for g in range(bisect_right(bounds, first) - 1, bisect_left(bounds, last)):
            start, stop = max(bounds[g], first) - first, min(bounds[g + 1], last) - first
            parts[..., g, :, :] += (coefficients[..., start:stop, :].mT
                                    @ along_teacher[..., start:stop, :]).to(torch.float64)
        first = last
    # the factor a_i / sqrt(p) of row i, once for the whole sum
    scale = (student.a.to(torch.float64) / (n * math.sqrt(p)))[..., None]
    return total * scale, parts * scale[..., None, :, :]


def giant_step(student: Student, teacher: Teacher, sampler: Sampler, *, n: int, eta: float,
               step: int, batch: int, preprocess: str, normalize: bool, groups: int = 1) -> torch.Tensor:
    """Take step number ``step`` (1-based) in place on ``student.W``, on batch ``batch``
    (:func:`batch_index`); a reused batch has the same preprocessing shift, its own.

    Returns the update's per-group parts in teacher coordinates, ``eta`` times the parts of
    :func:`gradient`: ``(groups, p, r)`` (``(S, groups, p, r)`` with a seed axis). Raises
    :class:`DivergenceError` if the gradient or the new weights are not finite (in any seed).
    """
    shift = label_shift(teacher, sampler, n, "train", batch) if preprocess == "remove_linear" else NO_SHIFT
    update, parts = gradient(student, teacher, sampler, n, batch, shift, groups, label=f"step {step}")
    if not torch.isfinite(update).all():
        raise DivergenceError(step, "gradient")
    W = student.W.to(torch.float64) + eta * update
    if normalize:
        W = W / W.norm(dim=-1, keepdim=True)
    W = W.to(student.W.dtype)  # checked after the cast: float32 can overflow where float64 did not
    if not torch.isfinite(W).all():
        raise DivergenceError(step, "weights")
    student.W = W
    return eta * parts
