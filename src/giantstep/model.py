"""The two-layer student ``f(z) = (1/sqrt(p)) sum_i a_i sigma(<w_i, z>)``.

``W: (p, d)`` is trained by the giant steps, ``a: (p,)`` stays at its
initialisation. Conventions of the authors' notebooks:

- ``W0 = randn(p, d)/sqrt(d)`` (``init="gaussian"``) or rows on the unit sphere (``"sphere"``);
- ``a0 = s/sqrt(p)``, ``s`` Rademacher (``second_layer="rademacher"``), or ``randn(p)/sqrt(p)``;

and those of the batch-reuse follow-up (docs/method.md "Beyond the paper: batch reuse"):

- ``init="orthogonal"``: orthonormal rows, orthogonal to the teacher subspace (zero overlap);
- ``second_layer="alternating"``: ``a0 = (+1, -1, +1, ...)``, not divided by ``sqrt(p)``, so that
  ``f = p^{-1/2} sum_i (±1) sigma(<w_i, z>)`` is the follow-up's output;
- symmetric pairing: neuron ``i + p/2`` copies ``w_i`` with ``a_{i+p/2} = -a_i``, so ``f = 0``
  exactly at initialisation (the output is computed pair by pair for that reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from giantstep.activations import Activation


@dataclass
class Student:
    """Weights ``W: (p, d)``, second layer ``a: (p,)`` and the activation.

    The seeds of a cell can train as one student with a seed axis first: ``W: (S, p, d)``,
    ``a: (S, p)``, inputs ``z: (S, m, d)`` (:func:`stacked`); every method works on either.
    """

    W: torch.Tensor
    a: torch.Tensor
    activation: Activation
    symmetric: bool

    @property
    def p(self) -> int:
        return self.W.shape[-2]

    def preactivations(self, z: torch.Tensor) -> torch.Tensor:
        """``<w_i, z_nu>`` for ``z: (..., m, d)``; returns ``(..., m, p)``.

        With symmetric pairing each half is its own product, so that coinciding pairs
        get bit-identical preactivations (one product may round columns differently),
        written into its half of the result (no copy).
        """
        if self.symmetric:
            half = self.p // 2
            out = torch.empty(*z.shape[:-1], self.p, dtype=z.dtype, device=z.device)
            torch.matmul(z, self.W[..., :half, :].mT, out=out[..., :half])
            torch.matmul(z, self.W[..., half:, :].mT, out=out[..., half:])
            return out
        return z @ self.W.mT

    def output_and_derivative(self, preactivations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``f(z_nu): (..., m)`` and ``sigma'(<w_i, z_nu>): (..., m, p)`` from the preactivations,
        which they overwrite (no ``(m, p)`` buffer of their own where the activation has an
        in-place form and a derivative of ``sigma``: ReLU, tanh)."""
        activation = self.activation
        if activation.derivative_of_sigma_ is None:
            derivative = activation.derivative(preactivations)
            return self._output_of(activation.apply_(preactivations)), derivative
        features = activation.apply_(preactivations)
        return self._output_of(features), activation.derivative_of_sigma_(features)

    def _output_of(self, features: torch.Tensor) -> torch.Tensor:
        """``f = features @ a / sqrt(p)``, ``(..., m)``, from the features ``(..., m, p)``.

        With symmetric pairing the two halves are subtracted before the sum, so
        the output is exactly zero while the pairs coincide.
        """
        a = self.a
        if self.symmetric:
            half = self.p // 2
            features, a = features[..., :half] - features[..., half:], a[..., :half]
        return (features @ a[..., None]).squeeze(-1) / math.sqrt(self.p)


def stacked(students: list[Student]) -> Student:
    """One student with a seed axis first (``W: (S, p, d)``, ``a: (S, p)``) from ``S`` students
    of the same shapes, activation and pairing."""
    first = students[0]
    return Student(W=torch.stack([student.W for student in students]),
                   a=torch.stack([student.a for student in students]),
                   activation=first.activation, symmetric=first.symmetric)


def init_student(
    d: int,
    p: int,
    *,
    activation: Activation,
    init: str,
    second_layer: str,
    symmetric: bool,
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype,
    w_star: torch.Tensor | None = None,
) -> Student:
    """Draw ``W0`` and ``a0`` (float64 on the CPU, then cast) from ``generator``; ``init="orthogonal"``
    needs the teacher directions ``w_star: (r, d)``."""
    rows = p // 2 if symmetric else p
    W = torch.randn(rows, d, generator=generator, dtype=torch.float64)
    if init == "sphere":
        W = W / W.norm(dim=1, keepdim=True)
    elif init == "orthogonal":
        W = orthogonal_rows(W, w_star)
    else:
        W = W / math.sqrt(d)
    if second_layer == "rademacher":
        a = torch.randint(0, 2, (rows,), generator=generator).to(torch.float64) * 2 - 1
    elif second_layer == "alternating":
        a = 1 - 2 * (torch.arange(rows) % 2).to(torch.float64)
    else:
        a = torch.randn(rows, generator=generator, dtype=torch.float64)
    if second_layer != "alternating":
        a = a / math.sqrt(p)
    if symmetric:
        W, a = torch.cat([W, W]), torch.cat([a, -a])
    return Student(
        W=W.to(device=device, dtype=dtype),
        a=a.to(device=device, dtype=dtype),
        activation=activation,
        symmetric=symmetric,
    )


def orthogonal_rows(gaussian: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """Orthonormal rows ``(rows, d)`` spanning the part of ``gaussian: (rows, d)`` orthogonal to
    ``w_star: (r, d)`` (orthonormal rows): a uniformly random such frame, overlap exactly zero.

    The projection is applied twice (Gram–Schmidt's re-orthogonalisation) so that the overlap
    is zero to float64 rounding; the QR signs are fixed so the frame depends on ``gaussian`` only.
    """
    teacher = w_star.to(device="cpu", dtype=torch.float64)
    for _ in range(2):
        gaussian = gaussian - (gaussian @ teacher.T) @ teacher
    q, upper = torch.linalg.qr(gaussian.T)
    return (q * torch.sign(torch.diagonal(upper))).T
