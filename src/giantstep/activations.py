"""Student activations ``sigma`` with their derivatives ``sigma'``.

Names: ``relu``, ``tanh``, ``erf``, and the Hermite polynomials ``he1..he9``
(``sigma = He_k``, ``sigma' = k He_{k-1}``). ReLU's derivative is taken as 0 at 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from giantstep.errors import ConfigError
from giantstep.hermite_polys import hermite_he

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``sigma`` and its derivative ``derivative = sigma'``.

    ``derivative_of_sigma_``, where ``sigma'`` is a function of ``sigma`` (ReLU: ``sigma > 0``;
    tanh: ``1 - sigma^2``), turns the features ``sigma(x)`` into ``sigma'(x)`` in place: the
    gradient then needs no second pass over the preactivations and no buffer of its own (in a
    giant step at ``d = 128`` a fresh ``(m, p)`` derivative took longer than the product).
    """

    name: str
    sigma: Fn
    derivative: Fn
    sigma_: Fn | None = None  # in place, where torch has one (saves an (m, p) buffer)
    derivative_of_sigma_: Fn | None = None

    def apply_(self, x: torch.Tensor) -> torch.Tensor:
        """``sigma(x)``, overwriting ``x`` when an in-place form exists."""
        return self.sigma_(x) if self.sigma_ is not None else self.sigma(x)


def _relu_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.gt(x, 0, out=torch.empty_like(x))  # straight into x's dtype: no bool copy


def _tanh_derivative(x: torch.Tensor) -> torch.Tensor:
    return _tanh_derivative_of_sigma_(torch.tanh(x))


def _tanh_derivative_of_sigma_(t: torch.Tensor) -> torch.Tensor:
    return t.square_().neg_().add_(1.0)  # 1 - t^2, bit for bit


def _erf_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.mul(x, x).neg_().exp_().mul_(2.0 / math.sqrt(math.pi))  # in one buffer


_FIXED = {
    # relu(x) > 0 exactly where x > 0 (and NaN compares false either way)
    "relu": Activation("relu", torch.relu, _relu_derivative, torch.relu_, lambda r: r.gt_(0)),
    "tanh": Activation("tanh", torch.tanh, _tanh_derivative, torch.tanh_, _tanh_derivative_of_sigma_),
    "erf": Activation("erf", torch.erf, _erf_derivative, torch.erf_),
}
_HERMITE = re.compile(r"he([1-9])")


def _hermite_activation(k: int) -> Activation:
    return Activation(
        f"he{k}",
        lambda x: hermite_he(k, x),
        lambda x: k * hermite_he(k - 1, x),
    )


def get_activation(name: str) -> Activation:
    """The activation called ``name``; one-line :class:`ConfigError` if unknown."""
    if name in _FIXED:
        return _FIXED[name]
    match = _HERMITE.fullmatch(str(name))
    if match:
        return _hermite_activation(int(match.group(1)))
    raise ConfigError(
        f"unknown student.activation '{name}' (known: relu, tanh, erf, he1..he9)"
    )
