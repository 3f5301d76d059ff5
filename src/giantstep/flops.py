"""Matrix-multiplication flops of one engine run, by operand shape.

The engine streams every sample set in chunks of ``m`` rows (``chunk_size`` rounded down
to blocks of 1024). Per chunk it multiplies

- ``labels``:  ``z @ W*^T``, ``(m, d) x (d, r)`` -- the teacher, in every pass;
- ``features``: ``z @ W^T``, ``(m, d) x (d, p)`` -- preactivations (gradient, readout, test);
- ``gradient``: ``C^T @ z``, ``(p, m) x (m, d)`` -- the giant step's sum;
- ``gram``: ``F^T @ F``, ``(p, m) x (m, p)`` -- the readout's ``p x p`` system;
- ``moments``: ``y @ z`` and ``y @ F``, ``(1, m) x (m, d or p)`` -- label moments
  (preprocessing) and the readout's ``F^T y``; and ``F @ a`` and ``z @ b``, ``(m, p or d) x
  (p or d, 1)`` -- the network's output in the gradient pass, and the preprocessing shift in
  the gradient, readout and test passes;
- ``noise``: ``z @ W*^T`` and, per group of samples, ``C_g^T @ (z_g W*^T)``, ``(m, d) x (d, r)``
  and ``(p, m) x (m, r)`` -- the step's parts in teacher coordinates, for the noise along the
  teacher (``r/d`` of the gradient's flops); once per step, the bootstrap's
  ``(B, G) x (G, p r)`` combination of the parts (``B`` replicates, ``G`` groups).

Passes of one run with ``T`` steps (``pre`` = 1 with preprocessing, else 0):

- each step: ``pre`` label-moment pass (labels, moments) and one gradient pass
  (labels, features, gradient, noise) over ``n`` samples;
- the readouts of ``t = 0..T``, fused (:func:`giantstep.readout.ridge_readouts`): ``pre``
  label-moment pass (labels, moments) over ``n_train`` samples once per run; then, per pass of
  up to ``FUSED_COLUMNS / p`` steps (one pass at most sizes, :func:`readout_passes`), the samples
  of ``n_train`` and of ``n_test`` drawn and labelled once, and the features, Grams and moments
  of each step in the pass.

This is what ``torch.utils.flop_counter`` counts (``mm``/``bmm``; the engine's products carry
an optional seed axis, so its matrix-by-vector products are ``bmm`` of one column), which is
how ``tests/test_benchmark.py`` checks it. Left out: the test pass's ``F w`` (element-wise),
the Cholesky solve, and the metrics' and theory's small products. The largest of these, the
random-frame levels' ``2 (T+1) n_null p d r`` and the bootstrap levels' ``4 (T+1) B p r^2``,
do not grow with ``n``: under 0.5 % of the total at the test's toy size with 8 null frames,
far less at benchmark sizes.

The one flop count of the project: the benchmarks (``benchmarks/flops.py`` re-exports it) and
the cost estimate of a reproduction (:mod:`giantstep.reproduce.estimate`) both use it.
"""

from __future__ import annotations

import math

from giantstep.config import FUSED_COLUMNS

KINDS = ("labels", "features", "gradient", "gram", "moments", "noise")

# How the engine computes the readout, as of this writing (tests/test_benchmark.py checks
# the count against torch's flop counter on a real run, so a change in the engine shows):
ENGINE_GRAM_BLOCKS = 4  # column blocks of F^T F (1: the full product)
ENGINE_SHIFT_ONCE = True  # readout label moments once per run (not once per t)


def shapes(m: int, d: int, p: int, r: int) -> dict[str, tuple[int, int, int]]:
    """``(rows, inner, cols)`` of each kind of product on a chunk of ``m`` samples."""
    return {
        "labels": (m, d, r),
        "features": (m, d, p),
        "gradient": (p, m, d),
        "gram": (p, m, p),
        "moments": (1, m, p),
        "noise": (p, m, r),
    }


def gram_flops(m: int, p: int, blocks: int) -> float:
    """Flops of ``F^T F`` for ``F: (m, p)`` computed as its upper block triangle.

    ``blocks = 1`` is the full product ``2 m p^2``; ``blocks`` column blocks cost
    ``(blocks + 1) / (2 blocks)`` of it (what ``syrk`` saves, approached block by block).
    """
    edges = [round(k * p / blocks) for k in range(blocks + 1)]
    return sum(2.0 * m * (stop - start) * (p - start) for start, stop in zip(edges[:-1], edges[1:]))


def readout_passes(steps: int, p: int) -> int:
    """Passes over the readout and test sets of the fused readouts of ``t = 0..steps``."""
    return math.ceil((steps + 1) / max(1, FUSED_COLUMNS // p))


def engine_samples(*, n: int, p: int, steps: int, n_train: int, n_test: int, preprocess: bool,
                   shift_once: bool = ENGINE_SHIFT_ONCE) -> int:
    """Gaussian samples ``z`` (rows of ``d`` numbers) one run draws: every pass above draws its
    samples again, and computes their labels (the ``labels`` product's rows)."""
    pre = 1 if preprocess else 0
    readout_shift_passes = pre * (1 if shift_once else steps + 1)
    fused = readout_passes(steps, p) * (n_train + n_test)
    return steps * n * (pre + 1) + readout_shift_passes * n_train + fused


def engine_feature_rows(*, n: int, steps: int, n_train: int, n_test: int) -> int:
    """Samples whose ``p`` features (preactivations) one run computes: every step's gradient
    pass, each readout's training and test passes, and the network's own output on the test set
    at every ``t`` (the ``features`` product's rows)."""
    return steps * n + (steps + 1) * (n_train + n_test)


def engine_flops(*, n: int, d: int, p: int, r: int, steps: int, n_train: int, n_test: int,
                 preprocess: bool, gram_blocks: int = ENGINE_GRAM_BLOCKS,
                 shift_once: bool = ENGINE_SHIFT_ONCE, replicates: int = 64,
                 groups: int = 32) -> dict[str, float]:
    """Matmul flops (``2 x rows x inner x cols``) of one engine run, per kind of product.

    ``gram_blocks``: column blocks of the readout's ``F^T F`` (1: the full product);
    ``shift_once``: the readout's label-moment pass is made once per run, not per ``t``;
    ``replicates``, ``groups``: ``metrics.noise_replicates`` and ``metrics.noise_groups``.
    """
    pre = 1 if preprocess else 0
    readout_shift_passes = pre * (1 if shift_once else steps + 1)
    label_rows = engine_samples(n=n, p=p, steps=steps, n_train=n_train, n_test=n_test, preprocess=preprocess,
                                shift_once=shift_once)
    feature_rows = engine_feature_rows(n=n, steps=steps, n_train=n_train, n_test=n_test)
    moment_flops = 2.0 * ((pre * steps * n + readout_shift_passes * n_train) * d
                          + (steps + 1) * n_train * p
                          + steps * n * p  # the output F @ a of each gradient pass
                          + pre * (steps * n + readout_passes(steps, p) * (n_train + n_test)) * d)  # z @ b
    return {
        "labels": 2.0 * label_rows * d * r,
        "features": 2.0 * feature_rows * d * p,
        "gradient": 2.0 * steps * n * p * d,
        "gram": (steps + 1) * gram_flops(n_train, p, gram_blocks),
        "moments": moment_flops,
        "noise": 2.0 * steps * (n * r * (d + p) + replicates * groups * p * r),
    }
