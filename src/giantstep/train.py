"""Giant full-batch gradient steps on the first layer ``W`` (PAPER.md §3).

One step on a fresh batch of ``n`` samples, with ``a`` fixed:

    W <- W + eta * (1/n) sum_nu (y_nu - f(z_nu)) * ((a/sqrt(p)) ⊙ sigma'(W z_nu)) z_nu^T

The sum is accumulated over chunks of samples, so memory is ``O(chunk*d + p*d)``
whatever ``n`` is. With ``preprocess="remove_linear"`` the labels are replaced
by ``y - mean(y) - z·b``, ``b = (1/n) sum_nu y_nu z_nu``, estimated in a first
pass over the same batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from giantstep.data import Sampler
from giantstep.errors import DivergenceError
from giantstep.model import Student
from giantstep.targets import Teacher


def learning_rate(rule: str, scale: float, *, n: int, d: int, p: int) -> float:
    """``eta`` for a rule of PAPER.md §3: ``c``, ``c p``, ``c p sqrt(n/d)`` or ``c sqrt(n p)``."""
    factor = {
        "constant": 1.0,
        "p": p,
        "p_sqrt_n_over_d": p * math.sqrt(n / d),
        "sqrt_np": math.sqrt(n * p),
    }[rule]
    return scale * factor


@dataclass(frozen=True)
class LabelShift:
    """The part of the labels removed by preprocessing: ``mean + z·b`` (``b: (d,)``)."""

    mean: float
    b: torch.Tensor | None

    def __call__(self, z: torch.Tensor) -> torch.Tensor | float:
        """The shift for inputs ``z: (m, d)``: ``(m,)``, or the scalar 0 without preprocessing."""
        return self.mean if self.b is None else self.mean + z @ self.b


NO_SHIFT = LabelShift(0.0, None)


def label_shift(teacher: Teacher, sampler: Sampler, n: int, purpose: str, step: int) -> LabelShift:
    """Empirical ``mean(y)`` and ``b = (1/n) sum y z`` over the ``n`` samples of ``(purpose, step)``."""
    d = teacher.w_star.shape[1]
    total, moment = 0.0, torch.zeros(d, dtype=torch.float64, device=sampler.device)
    for z in sampler.chunks(n, d, purpose, step):
        y = teacher.labels(z)
        total += float(y.sum(dtype=torch.float64))
        moment += (y @ z).to(torch.float64)
    return LabelShift(total / n, (moment / n).to(sampler.dtype))


def gradient(student: Student, teacher: Teacher, sampler: Sampler, n: int, step: int,
             shift: LabelShift) -> torch.Tensor:
    """``(1/n) sum_nu (y_nu - f(z_nu)) ((a/sqrt(p)) ⊙ sigma'(W z_nu)) z_nu^T``: ``(p, d)``.

    Minus the gradient of ``L = (1/2n) sum (y - f)^2`` with respect to ``W``.
    Per-chunk products are summed in float64.
    """
    p, d = student.W.shape
    total = torch.zeros(p, d, dtype=torch.float64, device=sampler.device)
    for z in sampler.chunks(n, d, "train", step, progress=f"step {step}"):
        pre = student.preactivations(z)
        coefficients = student.activation.derivative(pre)
        residual = teacher.labels(z) - shift(z) - student.output(pre, overwrite=True)
        total += (coefficients.mul_(residual[:, None]).T @ z).to(torch.float64)
    # the factor a_i / sqrt(p) of row i, once for the whole sum
    return total * (student.a.to(torch.float64) / (n * math.sqrt(p)))[:, None]


def giant_step(student: Student, teacher: Teacher, sampler: Sampler, *, n: int, eta: float,
               step: int, preprocess: str, normalize: bool) -> None:
    """Take step number ``step`` (1-based) in place on ``student.W``.

    Raises :class:`DivergenceError` if the gradient or the new weights are not finite.
    """
    shift = label_shift(teacher, sampler, n, "train", step) if preprocess == "remove_linear" else NO_SHIFT
    update = gradient(student, teacher, sampler, n, step, shift)
    if not torch.isfinite(update).all():
        raise DivergenceError(step, "gradient")
    W = student.W.to(torch.float64) + eta * update
    if normalize:
        W = W / W.norm(dim=1, keepdim=True)
    W = W.to(student.W.dtype)  # checked after the cast: float32 can overflow where float64 did not
    if not torch.isfinite(W).all():
        raise DivergenceError(step, "weights")
    student.W = W
