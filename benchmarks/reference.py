"""A plain numpy float64 reference of one point of the single-step learning curve.

Written from docs/method.md §1–§3 in the style of the authors' notebooks: every sample set is
materialised (``Z: (n, d)``, features ``(n, p)``), one full-batch giant step with label
preprocessing, and a ridge readout solved through the ``p x p`` system, at ``t = 0``
(random features) and ``t = 1``, each tested on the same fresh test set. It is the
yardstick of ``benchmarks/run_benchmark.py`` and shares no code with the engine: it draws
its own random numbers (numpy), so its errors agree with the engine's only within the
spread over seeds.

Memory is ``O(n (d + p))`` float64, one ``(n, p)`` buffer at a time: 3.7 GB peak RSS at
``d = 512, p = 1024, n = d^2``; 73 GB at ``n = d^2.5``. Each ``(n, p)`` matrix is computed
into one buffer and transformed in place, so the yardstick is fair, not a straw man: the
same code with out-of-place temporaries took 63 s and 5.8 GB instead of about 30 s and 3.7 GB.

Run one point: ``python benchmarks/reference.py --d 512 --p 1024 --kappa 2 --seed 0``
(prints one JSON line with the test errors and timings).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass

import numpy as np


def hermite_124(coordinates: np.ndarray) -> np.ndarray:
    """Target A, ``(h(z1) + h(z2))/2`` with ``h = He1 + He2/2 + He4/24``; ``(m, 2) -> (m,)``."""
    x = coordinates
    h = x + (x**2 - 1) / 2 + (x**4 - 6 * x**2 + 3) / 24
    return h.sum(axis=1) / 2


@dataclass
class Problem:
    """Teacher ``W*: (r, d)``, student ``W0: (p, d)``, ``a: (p,)``, all float64."""

    w_star: np.ndarray
    W0: np.ndarray
    a: np.ndarray

    def labels(self, Z: np.ndarray) -> np.ndarray:
        """Clean labels ``g*(W* z)`` for ``Z: (m, d)``: ``(m,)``."""
        return hermite_124(Z @ self.w_star.T)


def draw_problem(rng: np.random.Generator, d: int, p: int, r: int = 2) -> Problem:
    """Haar teacher (QR of a Gaussian), ``W0 = randn(p, d)/sqrt(d)``, ``a = ±1/sqrt(p)``."""
    q, upper = np.linalg.qr(rng.standard_normal((d, r)))
    w_star = (q * np.sign(np.diag(upper))).T.copy()
    W0 = rng.standard_normal((p, d)) / math.sqrt(d)
    a = rng.choice([-1.0, 1.0], size=p) / math.sqrt(p)
    return Problem(w_star, W0, a)


def linear_part(Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Preprocessing moments on one sample set: ``mean(y)`` and ``b = (1/n) Z^T y``: ``(d,)``."""
    return float(y.mean()), Z.T @ y / len(y)


def gradient_step(W: np.ndarray, a: np.ndarray, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(1/n) sum_nu (y_nu - f(z_nu)) ((a/sqrt(p)) ⊙ relu'(W z_nu)) z_nu^T``: ``(p, d)``.

    Minus the gradient of ``L = (1/2n) sum_nu (y_nu - f(z_nu))^2`` in ``W``; ``y`` are the
    (already preprocessed) training labels.
    """
    n, p = len(y), len(a)
    buffer = Z @ W.T  # preactivations (n, p); reused in place below
    np.maximum(buffer, 0.0, out=buffer)  # relu features
    residual = y - buffer @ a / math.sqrt(p)
    np.greater(buffer, 0.0, out=buffer)  # relu'(pre): features > 0 exactly where pre > 0
    buffer *= residual[:, None]
    buffer *= a / math.sqrt(p)
    return buffer.T @ Z / n


def features(W: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``F = relu(Z W^T)/sqrt(p)``: ``(n, p)``, computed in one buffer."""
    F = Z @ W.T
    np.maximum(F, 0.0, out=F)
    F /= math.sqrt(W.shape[0])
    return F


def ridge_test_error(W: np.ndarray, problem: Problem, Z: np.ndarray, y: np.ndarray,
                     Z_test: np.ndarray, y_test: np.ndarray, ridge: float,
                     preprocess: bool) -> float:
    """Test error of ``w = (F^T F + lambda I)^{-1} F^T y'``, ``F = relu(Z W^T)/sqrt(p)``.

    With ``preprocess`` the readout fits ``y' = y - mean - z·b`` (moments of ``(Z, y)``)
    and adds the shift back on the test set; the error is against the clean target.
    """
    p = W.shape[0]
    mean, b = linear_part(Z, y) if preprocess else (0.0, np.zeros(Z.shape[1]))
    F = features(W, Z)
    w = np.linalg.solve(F.T @ F + ridge * np.eye(p), F.T @ (y - mean - Z @ b))
    del F
    prediction = features(W, Z_test) @ w + mean + Z_test @ b
    return float(np.mean((y_test - prediction) ** 2))


def learning_curve_point(d: int, p: int, n: int, *, seed: int, lr_scale: float = 10.0,
                         ridge: float = 1.0, n_test: int = 100_000,
                         preprocess: bool = True) -> dict:
    """One giant step at ``eta = lr_scale sqrt(n p)`` on target A; test errors at ``t = 0, 1``.

    Returns ``{"test_error": [t=0, t=1], "seconds": {...}}``. The readout has ``n`` fresh
    training samples; the readout and test sets are shared by both ``t``, as in the engine.
    """
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    problem = draw_problem(rng, d, p)
    eta = lr_scale * math.sqrt(n * p)

    Z = rng.standard_normal((n, d))
    y = problem.labels(Z)
    if preprocess:
        mean, b = linear_part(Z, y)
        y = y - mean - Z @ b
    W1 = problem.W0 + eta * gradient_step(problem.W0, problem.a, Z, y)
    del Z, y
    step_seconds = time.perf_counter() - started

    tic = time.perf_counter()
    Z = rng.standard_normal((n, d))
    y = problem.labels(Z)
    Z_test = rng.standard_normal((n_test, d))
    y_test = problem.labels(Z_test)
    errors = [ridge_test_error(W, problem, Z, y, Z_test, y_test, ridge, preprocess)
              for W in (problem.W0, W1)]
    readout_seconds = time.perf_counter() - tic
    return {
        "test_error": errors,
        "seconds": {"step": step_seconds, "readout": readout_seconds,
                    "compute": time.perf_counter() - started},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--p", type=int, default=1024)
    parser.add_argument("--kappa", type=float, default=2.0, help="n = round(d^kappa)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-test", type=int, default=100_000)
    args = parser.parse_args()
    n = max(1, round(args.d**args.kappa))
    point = learning_curve_point(args.d, args.p, n, seed=args.seed, n_test=args.n_test)
    print(json.dumps({"d": args.d, "p": args.p, "n": n, "seed": args.seed, **point}))


if __name__ == "__main__":
    main()
