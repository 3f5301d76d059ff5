"""Theory of docs/method.md §4 for a target ``g*`` and a student activation ``sigma``, by quadrature.

Every expectation is over ``z ~ N(0, I_r)`` in teacher coordinates and is computed with the
tensor Gauss–Hermite rules of :mod:`giantstep.theory.quadrature` (20 nodes per dimension, exact for
polynomial targets; see there), in float64 on the CPU.

- Hermite data: ``mu_alpha = E[g*(z) He_alpha(z)]`` for multi-indices ``|alpha| <= K``
  (``g* = sum_alpha mu_alpha He_alpha / alpha!``); ``mu_1``, ``mu_2`` are its order-1 vector
  and order-2 matrix; the linear-kernel error ``E[g*^2] - mu_0^2 - ||mu_1||^2``.
- Leap index per teacher coordinate: the lowest order of a non-zero ``mu_alpha`` involving it.
- One giant step at ``n ~ d^l``: the order-``k`` part moves neurons along the range of the
  tensor ``mu_k`` (its contraction with a neuron's random teacher projection) and is seen only
  if ``sigma``'s ``k``-th Hermite coefficient ``c_k = E[sigma(xi) He_k(xi)]`` is non-zero.
  Without preprocessing a visible non-zero ``mu_1`` dominates (span(mu_1) only); with it (mean
  and linear part removed) the orders ``2..l`` count.
- Staircase over steps at ``n ~ d``. Generic: ``U_{t+1} = U_t + span{v ⊥ U_t : E[g* <v,z> |
  z_U] != 0}``. Activation-aware: a neuron that has learned ``alpha in U_t`` and has norm ``s``
  outside the teacher subspace has preactivation ``alpha·z + s xi`` (unlearned teacher
  directions contribute O(1/sqrt d)), so its population gradient is ``E[g*(z) h(alpha·z) z]``
  with ``h(x) = E_xi sigma'(x + s xi)``; the new directions are the components orthogonal to
  ``U_t`` of these gradients over a few generic ``alpha in U_t`` (norms :data:`ALPHA_NORMS`,
  :data:`ALPHA_DIRECTIONS` random directions each, fixed seed, ``s = 1`` as at
  initialisation). ReLU gives ``h = Phi(x/s) = 1/2 + odd``, hence only constant or odd ``h``.
- Error floor of a subspace ``U``: ``E[(g* - E[g* | z_U])^2]``.

Ranks and zeros use the relative tolerance :data:`ZERO_TOL` (singular values or coefficients
below ``ZERO_TOL`` times the natural scale count as zero). True zeros come from parity or
from exact polynomial integration and sit at rounding level (1e-15); genuine couplings of the
paper's targets are above 1e-2, so the decision does not depend on the tolerance's value.

A *link* below is a :class:`~giantstep.targets.Target` or any callable ``z: (..., r) ->
(...)`` with an attribute ``r``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from giantstep.activations import Activation, get_activation
from giantstep.errors import ConfigError
from giantstep.hermite_polys import hermite_he
from giantstep.schema import Preprocess
from giantstep.targets import shown
from giantstep.theory.quadrature import (
    MAX_QUADRATURE_R,
    MONTE_CARLO_SAMPLES,
    NODES_PER_DIM,
    gauss_hermite,
    monte_carlo_rule,
    tensor_rule,
)

ZERO_TOL = 1e-6
MAX_ORDER = 4
ALPHA_NORMS = (0.5, 1.0, 2.0)
ALPHA_DIRECTIONS = 4
ALPHA_SEED = 0
SMOOTHING_NODES = 60  # 1-D rule for h(x) = E_xi sigma'(x + s xi) (exact for he1..he9)
SIGMA_NODES = 100  # 1-D rule for c_k = E[sigma(xi) He_k(xi)] (ReLU's kink: only zeros matter)
MAX_THEORY_ORDER = 9  # order-K tensors have r^K entries: K = 10 takes seconds at r = 4, K = 12 a minute
MAX_THEORY_STEPS = 10_000  # the staircase keeps one subspace per step
_CHUNK = 1 << 21  # grid points x neurons per batch of population_gradient


class Link(Protocol):
    r: int

    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class WithoutLinearPart:
    """The preprocessed link ``g*(z) - mu_0 - <mu_1, z>`` (``train.preprocess=remove_linear``)."""

    link: Link
    mean: float
    mu1: torch.Tensor

    @property
    def r(self) -> int:
        return self.link.r

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.link(z) - self.mean - z @ self.mu1


# ---------------------------------------------------------------------------- Hermite data


def _as_activation(activation: str | Activation) -> Activation:
    return get_activation(activation) if isinstance(activation, str) else activation


def _rms(link: Link) -> float:
    """``sqrt(E[g*^2])`` by quadrature, the scale of every tolerance."""
    points, weights = tensor_rule(link.r)
    return math.sqrt(float(weights @ link(points) ** 2))


def gaussian_moments(link: Link) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """``(E[g*], E[g*^2], mu_1 = E[g* z]: (r,), mu_2 = E[g* (z z^T - I)]: (r, r))``.

    Tensor Gauss–Hermite for ``r <= 4``, fixed-seed Monte Carlo beyond (see quadrature).
    """
    r = link.r
    points, weights = tensor_rule(r) if r <= MAX_QUADRATURE_R else monte_carlo_rule(r)
    values = link(points)
    weighted = weights * values
    mean = float(weighted.sum())
    mu2 = points.T @ (weighted[:, None] * points) - mean * torch.eye(r, dtype=torch.float64)
    return mean, float(weighted @ values), weighted @ points, mu2


def linear_kernel_error(link: Link) -> float:
    """``E[g*^2] - mu_0^2 - ||mu_1||^2``: the error of the best linear predictor."""
    mean, second, mu1, _ = gaussian_moments(link)
    return second - mean**2 - float(mu1 @ mu1)


def hermite_coefficients(link: Link, max_order: int = MAX_ORDER) -> dict[tuple[int, ...], float]:
    """``mu_alpha = E[g*(z) prod_j He_{alpha_j}(z_j)]`` for every ``alpha in N^r`` with
    ``|alpha| <= max_order``, ordered by ``|alpha|`` (``r <= 4``).

    The weighted values on the tensor grid, shape ``(n,) * r``, are contracted axis by axis
    with the matrix ``He_k(node_i)``, which gives every ``mu_alpha`` with ``alpha_j <= K``.
    """
    r = link.r
    points, weights = tensor_rule(r)
    nodes = gauss_hermite()[0][:, 0]
    he = torch.stack([hermite_he(k, nodes) for k in range(max_order + 1)])  # (K+1, n)
    mu = (weights * link(points)).reshape((len(nodes),) * r)
    for _ in range(r):  # contract the leading grid axis, append an order axis
        mu = torch.tensordot(mu, he, dims=([0], [1]))
    alphas = [a for a in itertools.product(range(max_order + 1), repeat=r) if sum(a) <= max_order]
    alphas.sort(key=lambda a: (sum(a), [-k for k in a]))
    return {a: float(mu[a]) for a in alphas}


def mu_tensor(coefficients: dict[tuple[int, ...], float], order: int, r: int) -> torch.Tensor:
    """The order-``k`` Hermite tensor ``mu_k = E[g* nabla^k He(z)]``, shape ``(r,) * k``:
    entry ``[i_1..i_k]`` is ``mu_alpha`` with ``alpha_j = #{m : i_m = j}``."""
    entries = [
        coefficients[tuple(index.count(j) for j in range(r))]
        for index in itertools.product(range(r), repeat=order)
    ]
    return torch.tensor(entries, dtype=torch.float64).reshape((r,) * order)


def leap_index(coefficients: dict[tuple[int, ...], float], r: int, scale: float) -> list[int | None]:
    """Per teacher coordinate ``j``: the lowest ``|alpha|`` with ``alpha_j > 0`` and
    ``|mu_alpha| > ZERO_TOL * scale`` (``None`` if none up to the computed order)."""
    return [
        min((sum(a) for a, v in coefficients.items() if a[j] and abs(v) > ZERO_TOL * scale), default=None)
        for j in range(r)
    ]


def activation_hermite(activation: str | Activation, max_order: int = MAX_ORDER) -> list[float]:
    """``c_k = E[sigma(xi) He_k(xi)]``, ``xi ~ N(0, 1)``, for ``k = 0..max_order``."""
    sigma = _as_activation(activation).sigma
    nodes, weights = gauss_hermite(SIGMA_NODES)
    values = weights * sigma(nodes[:, 0])
    return [float(values @ hermite_he(k, nodes[:, 0])) for k in range(max_order + 1)]


def _visible(c: list[float]) -> list[bool]:
    """Which orders the student sees: ``|c_k|`` above tolerance relative to ``max |c|``."""
    scale = max(abs(v) for v in c)
    return [abs(v) > ZERO_TOL * scale for v in c]


# ---------------------------------------------------------------------------- one giant step


def _row_basis(rows: torch.Tensor, scale: float) -> torch.Tensor:
    """Orthonormal basis ``(k, r)`` of the row space of ``rows: (m, r)``, singular values above
    ``ZERO_TOL * scale``; each vector's first non-negligible entry made positive."""
    if rows.numel() == 0:
        return rows.new_zeros(0, rows.shape[-1])
    _, singular, vh = torch.linalg.svd(rows, full_matrices=False)
    basis = vh[singular > ZERO_TOL * scale]
    first = (basis.abs() > 1e-6).to(torch.int8).argmax(dim=1, keepdim=True)
    return basis * torch.sign(basis.gather(1, first))


def one_step_dims(
    coefficients: dict[tuple[int, ...], float],
    r: int,
    scale: float,
    visible: list[bool] | None = None,
) -> list[dict[str, int]]:
    """Directions learned by one giant step at ``n ~ d^l`` for ``l = 1..K``.

    ``visible[k]`` says whether the student sees order ``k`` (``None``: every order, the
    generic prediction). Returns per ``l``: ``{"l", "dims", "dims_preprocessed"}``.
    """
    max_order = max(sum(a) for a in coefficients)
    visible = visible or [True] * (max_order + 1)
    ranges = [
        _row_basis(mu_tensor(coefficients, k, r).reshape(r, -1).T, scale) if k else None
        for k in range(max_order + 1)
    ]  # range of the unfolding r x r^(k-1) of mu_k
    linear = len(ranges[1]) if visible[1] else 0
    out = []
    for l in range(1, max_order + 1):
        seen = [ranges[k] for k in range(2, l + 1) if visible[k]]
        preprocessed = len(_row_basis(torch.cat(seen), scale)) if seen else 0
        out.append({"l": l, "dims": linear or preprocessed, "dims_preprocessed": preprocessed})
    return out


# ---------------------------------------------------------------------------- conditional parts


def _complement(basis: torch.Tensor) -> torch.Tensor:
    """Orthonormal rows ``(r - k, r)`` spanning the orthogonal complement of ``basis: (k, r)``."""
    k, r = basis.shape
    q, _ = torch.linalg.qr(torch.cat([basis.T, torch.eye(r, dtype=basis.dtype)], dim=1))
    return q[:, k:r].T


def _on_split_grid(link: Link, basis: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``g*`` on the tensor grid of the frame ``(basis, complement)``: ``z = x_U B + x_perp C``.

    Returns ``values (n^k, n^(r-k))``, ``w_U (n^k,)``, ``w_perp (n^(r-k),)``,
    ``x_perp (n^(r-k), r-k)`` and ``complement C (r-k, r)``.
    """
    k, r = basis.shape
    complement = _complement(basis)
    x, _ = tensor_rule(r)
    values = link(x @ torch.cat([basis, complement])).reshape(NODES_PER_DIM**k, -1)
    x_perp, w_perp = tensor_rule(r - k)
    return values, tensor_rule(k)[1], w_perp, x_perp, complement


def error_floor(link: Link, basis: torch.Tensor) -> float:
    """``E[(g* - E[g* | z_U])^2]`` for ``U`` spanned by the orthonormal rows ``basis: (k, r)``."""
    values, w_u, w_perp, _, _ = _on_split_grid(link, basis)
    conditional_mean = values @ w_perp  # (n^k,)
    return float(w_u @ (values**2 @ w_perp - conditional_mean**2))


def _generic_directions(link: Link, basis: torch.Tensor, scale: float) -> torch.Tensor:
    """New directions ``v ⊥ U`` with ``E[g* <v, z> | z_U] != 0`` (any ``h``), rows ``(k', r)``.

    The vector function ``E[g* z_perp | z_U]`` is evaluated at the ``z_U`` nodes (weighted by
    ``sqrt(w_U)``); for polynomial targets the span of these values is the span of the function.
    """
    values, w_u, w_perp, x_perp, complement = _on_split_grid(link, basis)
    conditional = (values * w_perp) @ x_perp  # (n^k, r-k)
    return _row_basis(w_u.sqrt()[:, None] * conditional @ complement, scale)


# ---------------------------------------------------------------------------- population gradient


def smoothed_derivative(
    activation: str | Activation, x: torch.Tensor, s: torch.Tensor | float
) -> torch.Tensor:
    """``h(x) = E_xi sigma'(x + s xi)``, ``xi ~ N(0, 1)``, elementwise (``x``, ``s`` broadcast).

    ReLU in closed form, ``Phi(x / s)`` (a step at ``s = 0``); other activations by a
    ``SMOOTHING_NODES``-point Gauss–Hermite rule in ``xi``.
    """
    activation = _as_activation(activation)
    s = torch.as_tensor(s, dtype=x.dtype)
    if activation.name == "relu":
        return 0.5 * (1.0 + torch.erf(x / (math.sqrt(2.0) * s.clamp_min(1e-300))))
    nodes, weights = gauss_hermite(SMOOTHING_NODES)
    return activation.derivative(x[..., None] + s[..., None] * nodes[:, 0]) @ weights


def _householder_frames(directions: torch.Tensor) -> torch.Tensor:
    """Orthogonal ``R: (m, r, r)`` with ``R e_1 = directions / |directions|`` (symmetric
    reflections; any reflection when the direction is 0)."""
    r = directions.shape[1]
    unit = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-300)
    v = torch.eye(r, dtype=directions.dtype)[0] - unit  # (m, r)
    squared = (v * v).sum(dim=1)
    factor = torch.where(squared > 1e-24, 2.0 / squared.clamp_min(1e-300), 0.0)
    return torch.eye(r, dtype=directions.dtype) - factor[:, None, None] * v[:, :, None] * v[:, None, :]


def population_gradient(
    link: Link,
    activation: str | Activation,
    projections: torch.Tensor,
    norms_out: torch.Tensor,
) -> torch.Tensor:
    """``E[g*(z) sigma'(<alpha_i, z> + s_i xi) z]`` in teacher coordinates, shape ``(m, r)``.

    ``projections: (m, r)`` are the neurons' teacher projections ``alpha_i = W* w_i``,
    ``norms_out: (m,)`` their norms ``s_i`` outside the teacher subspace (``xi ~ N(0, 1)``
    independent of ``z``). Each neuron is integrated on the tensor grid of a frame whose first
    axis is ``alpha_i``, so that ``sigma'`` (smoothed over ``xi``) varies along one grid axis
    and the other axes are integrated exactly for polynomial targets. Accuracy: about 1e-6
    for ``s_i`` of order 1; for ReLU as ``s_i -> 0`` the smoothed step sharpens into a jump
    and the error grows to about 1e-2 (still fine for drawing a direction).
    """
    projections = projections.to(torch.float64)
    norms_out = torch.as_tensor(norms_out, dtype=torch.float64)
    m, r = projections.shape
    x, weights = tensor_rule(r)
    nodes = gauss_hermite()[0][:, 0]
    frames = _householder_frames(projections)
    h = smoothed_derivative(
        activation, projections.norm(dim=1)[:, None] * nodes, norms_out[:, None]
    ).repeat_interleave(len(x) // len(nodes), dim=1)  # (m, n^r): x's first axis is slowest
    chunk = max(1, _CHUNK // len(x))
    out = []
    for start in range(0, m, chunk):
        z = torch.einsum("mij,pj->mpi", frames[start : start + chunk], x)  # (chunk, n^r, r)
        out.append(torch.einsum("p,mp,mpi->mi", weights, link(z) * h[start : start + chunk], z))
    return torch.cat(out) if out else projections.new_zeros(0, r)


def _aware_directions(link: Link, activation: Activation, basis: torch.Tensor, scale: float) -> torch.Tensor:
    """New directions ``⊥ U`` in the population gradients of neurons at generic ``alpha in U``."""
    k, r = basis.shape
    generator = torch.Generator().manual_seed(ALPHA_SEED)
    directions = torch.randn(ALPHA_DIRECTIONS if k else 1, k, generator=generator, dtype=torch.float64)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-300)
    alphas = torch.cat([norm * directions for norm in ALPHA_NORMS]) @ basis  # (m, r); 0 if k = 0
    gradients = population_gradient(link, activation, alphas, torch.ones(len(alphas)))
    nodes, weights = gauss_hermite()
    h = smoothed_derivative(activation, alphas.norm(dim=1)[:, None] * nodes[:, 0], 1.0)
    h_rms = float((h**2 @ weights).sqrt().max())
    return _row_basis(gradients - gradients @ basis.T @ basis, scale * h_rms)


def staircase_subspaces(
    link: Link, steps: int, activation: str | Activation | None = None
) -> list[torch.Tensor]:
    """Learned subspaces ``U_0 = {0}, U_1, .., U_steps`` at ``n ~ d`` per step.

    Each ``U_t`` is an orthonormal basis ``(dim U_t, r)`` in teacher coordinates, its first
    rows those of ``U_{t-1}``. ``activation=None``: the generic recursion; otherwise the
    activation-aware one (population gradients with the actual ``sigma``).
    """
    scale = _rms(link)
    basis = torch.zeros(0, link.r, dtype=torch.float64)
    subspaces = [basis]
    for _ in range(steps):
        if len(subspaces) > 1 and len(subspaces[-2]) == len(basis) or len(basis) == link.r:
            new = basis[:0]  # a fixed point: the recursion is deterministic
        elif activation is None:
            new = _generic_directions(link, basis, scale)
        else:
            new = _aware_directions(link, _as_activation(activation), basis, scale)
        basis = torch.cat([basis, new])
        subspaces.append(basis)
    return subspaces


# ---------------------------------------------------------------------------- summary


def _rounded(values: Any) -> Any:
    """Plain Python floats (lists nested like ``values``), rounded to 12 decimals."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if isinstance(values, list):
        return [_rounded(v) for v in values]
    return round(float(values), 12) + 0.0  # + 0.0 turns -0.0 into 0.0


STAIRCASE_KEYS = ("predicted_dims", "subspaces", "floors")


def _staircase_report(link: Link, steps: int, activation: str | None) -> dict[str, list]:
    subspaces = staircase_subspaces(link, steps, activation)
    floors = {len(u): _rounded(error_floor(link, u)) for u in subspaces}  # U_t are nested
    return dict(
        zip(
            STAIRCASE_KEYS,
            (
                [len(u) for u in subspaces],
                [_rounded(u) for u in subspaces],
                [floors[len(u)] for u in subspaces],
            ),
        )
    )


def check_theory_request(steps: int, max_order: int) -> None:
    """Refuse, in one line, a number of steps or an order the theory would not finish."""
    if not 0 <= steps <= MAX_THEORY_STEPS:
        raise ConfigError(f"train.steps={steps} is out of the theory's range 0..{MAX_THEORY_STEPS}: "
                          "use fewer steps")
    if not 1 <= max_order <= MAX_THEORY_ORDER:
        raise ConfigError(f"theory.max_order={max_order} is out of range 1..{MAX_THEORY_ORDER} "
                          "(the order-K tensors have r^K entries): use a lower order")


def _finite(values: Any) -> bool:
    """Whether every number in ``values`` (nested dicts and lists; None allowed) is finite."""
    if isinstance(values, dict):
        return all(_finite(v) for v in values.values())
    if isinstance(values, list):
        return all(_finite(v) for v in values)
    return not isinstance(values, float) or math.isfinite(values)


def theory_summary(
    target: Link,
    activation: str,
    steps: int,
    preprocess: str = "none",
    max_order: int = MAX_ORDER,
) -> dict[str, Any]:
    """Everything the plots and tables need, as a JSON-serialisable dict (see module doc).

    Keys: ``target``, ``expr``, ``r``, ``activation``, ``steps``, ``preprocess``, ``method``
    (``gauss_hermite`` or ``monte_carlo``), ``quadrature_nodes`` (per dimension), ``note``;
    ``mean``, ``variance``, ``mu1`` (r), ``mu2`` (r x r), ``linear_kernel_error``,
    ``sigma_hermite`` (``c_0..c_K``), ``step1_slope`` (``mu1[1]/mu1[0]``, null when ``r < 2``
    or ``mu1[0] = 0``); ``hermite`` (``[alpha, mu_alpha]`` for the non-zero ``|alpha| <= K``),
    ``leap_index`` (per coordinate, null if none up to K), ``one_step`` (per ``l = 1..K``:
    dims at ``n ~ d^l``, with and without preprocessing, aware and generic),
    ``predicted_dims``/``_generic`` (``t = 0..steps``), ``subspaces``/``_generic`` (per ``t``:
    basis vectors in teacher coordinates), ``floors``/``_generic`` (per ``t``: error floor of
    ``U_t``). With ``preprocess="remove_linear"`` the staircase and the floors are those of
    ``g* - mu_0 - <mu_1, z>`` (the linear part is added back at prediction). For ``r > 4``
    the moments are Monte Carlo and every key from ``hermite`` on is null (``note`` says so).

    Raises a one-line :class:`ConfigError` for a request out of range
    (:func:`check_theory_request`) and for a target that is not finite on the quadrature grid
    (``sqrt(z1+7)`` is NaN at the node -7.6), where the theory has no finite answer.
    """
    check_theory_request(steps, max_order)
    known = Preprocess.__members__  # the options of train.preprocess, named once in the schema
    if preprocess not in known:
        raise ConfigError(f"unknown train.preprocess '{preprocess}' (known: {', '.join(known)})")
    try:
        result = _summary(target, activation, steps, preprocess, max_order)
    except torch.linalg.LinAlgError:  # an SVD of NaN: the moments were not finite
        result = None
    if result is None or not _finite(result):
        expr = shown(str(getattr(target, "expr", None) or getattr(target, "name", "the target")))
        edge = float(gauss_hermite()[0].abs().max())
        raise ConfigError(f"the theory of target.expr '{expr}' is not finite: the target must be finite "
                          f"for |z_j| <= {edge:.1f} (the quadrature nodes); bound it, e.g. sqrt(abs(...))")
    return result


def _summary(target: Link, activation: str, steps: int, preprocess: str, max_order: int) -> dict[str, Any]:
    """The summary of :func:`theory_summary`, without its guards."""
    sigma = _as_activation(activation)
    r = target.r
    quadrature = r <= MAX_QUADRATURE_R
    mean, second, mu1, mu2 = gaussian_moments(target)
    scale = math.sqrt(second)
    summary: dict[str, Any] = {
        "target": getattr(target, "name", "custom"),
        "expr": getattr(target, "expr", None),
        "r": r,
        "activation": sigma.name,
        "steps": steps,
        "preprocess": preprocess,
        "method": "gauss_hermite" if quadrature else "monte_carlo",
        "quadrature_nodes": NODES_PER_DIM if quadrature else None,
        "note": None
        if quadrature
        else (
            f"r = {r} > {MAX_QUADRATURE_R}: Monte Carlo moments ({MONTE_CARLO_SAMPLES} samples, "
            "fixed seed); no Hermite orders above 2, leap or staircase predictions"
        ),
        "mean": _rounded(mean),
        "variance": _rounded(second - mean**2),
        "mu1": _rounded(mu1),
        "mu2": _rounded(mu2),
        "linear_kernel_error": _rounded(linear_kernel_error(target)),
        "sigma_hermite": _rounded(activation_hermite(sigma, max_order)),
        "step1_slope": (_rounded(mu1[1] / mu1[0]) if r >= 2 and abs(mu1[0]) > ZERO_TOL * scale else None),
    }
    predictions = ["hermite", "leap_index", "one_step"] + [
        key + suffix for key in STAIRCASE_KEYS for suffix in ("", "_generic")
    ]
    if not quadrature:
        return summary | dict.fromkeys(predictions)
    coefficients = hermite_coefficients(target, max_order)
    aware = one_step_dims(coefficients, r, scale, _visible(summary["sigma_hermite"]))
    generic = one_step_dims(coefficients, r, scale)
    link = target if preprocess == "none" else WithoutLinearPart(target, mean, mu1)
    staircase = _staircase_report(link, steps, sigma.name)
    staircase_generic = _staircase_report(link, steps, None)
    return summary | {
        "hermite": [[list(a), _rounded(v)] for a, v in coefficients.items() if abs(v) > ZERO_TOL * scale],
        "leap_index": leap_index(coefficients, r, scale),
        "one_step": [
            {
                "l": a["l"],
                "aware": a["dims"],
                "aware_preprocessed": a["dims_preprocessed"],
                "generic": g["dims"],
                "generic_preprocessed": g["dims_preprocessed"],
            }
            for a, g in zip(aware, generic)
        ],
        **staircase,
        **{key + "_generic": value for key, value in staircase_generic.items()},
    }
