"""Detectability and size of the alignment with the teacher (giantstep.metrics).

The noise along the teacher is checked against cases whose answer is known: pure sampling
noise that is 7 times stronger along ``w*_1`` (the ``He3(z1)/sqrt(6)`` label noise) must
read SNR ≈ 1 against it, and more than 2 against random frames.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from giantstep.metrics import (
    TeacherNoise,
    UpdateAlignment,
    aligned_dims,
    alignment,
    null_frames,
    update_alignment,
)
from giantstep.targets import teacher_directions
from giantstep.train import group_bounds

P, D, R, N, G = 64, 40, 3, 2000, 32


@pytest.fixture
def teacher_and_frames():
    generator = torch.Generator().manual_seed(0)
    w_star = teacher_directions(D, R, generator).to(torch.float64)
    return w_star, null_frames(w_star, 16, generator)


def he3_noise(w_star: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A mean-zero update ``(1/n) sum_nu xi_nu c z_nu^T: (P, D)`` with ``xi = He3(z_1)/sqrt 6``
    (variance 7 along ``w*_1``, 1 elsewhere) and its parts over ``G`` groups in teacher
    coordinates ``(G, P, R)``."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(N, D, generator=generator, dtype=torch.float64)
    c = torch.linspace(-1, 1, P, dtype=torch.float64)
    z1 = z @ w_star[0]
    xi = (z1**3 - 3 * z1) / math.sqrt(6)
    delta = torch.outer(c, xi @ z) / N
    bounds = group_bounds(N, G).tolist()
    parts = torch.stack([torch.outer(c, xi[a:b] @ (z[a:b] @ w_star.T)) / N
                         for a, b in zip(bounds, bounds[1:])])
    return delta, parts


def noise_of(parts: torch.Tensor, seed: int = 0, replicates: int = 64) -> TeacherNoise:
    noise = TeacherNoise(replicates, parts.shape[1], parts.shape[2], torch.device("cpu"))
    noise.add_step(parts, group_bounds(N, parts.shape[0]).diff(), torch.Generator().manual_seed(seed))
    return noise


def test_frames_are_orthonormal_and_orthogonal_to_the_teacher(teacher_and_frames):
    w_star, frames = teacher_and_frames
    assert frames.shape == (16, D, R)
    gram = frames.transpose(1, 2) @ frames
    assert torch.allclose(gram, torch.eye(R, dtype=torch.float64).expand(16, R, R), atol=1e-12)
    assert float((w_star @ frames).abs().max()) < 1e-12


def test_group_bounds_split_the_batch_into_near_equal_contiguous_groups():
    bounds = group_bounds(103, 10)
    assert bounds[0] == 0 and bounds[-1] == 103
    assert set(bounds.diff().tolist()) == {10, 11}


def test_the_bootstrap_noise_level_matches_the_noise_over_fresh_batches(teacher_and_frames):
    """The wild bootstrap of one batch against 200 independent batches: within 15 %."""
    w_star, _ = teacher_and_frames
    over_batches = np.mean([np.linalg.norm((he3_noise(w_star, seed)[0] @ w_star.T).numpy(), ord=2)
                            for seed in range(200)])
    replicates = [noise_of(he3_noise(w_star, seed)[1], seed).replicates for seed in range(5)]
    from_one_batch = np.mean([float(torch.linalg.matrix_norm(one, ord=2).mean()) for one in replicates])
    assert from_one_batch == pytest.approx(over_batches, rel=0.15)


def test_anisotropic_noise_reads_snr_one_along_the_teacher_and_more_against_frames(teacher_and_frames):
    """Pure noise, 7 times the variance along w*_1 (r = 1): calibrated SNR near 1; the
    random-frame level (the deliberately broken measurement) is about sqrt(7) times too low."""
    w_star = teacher_and_frames[0][:1]
    frames = null_frames(w_star, 16, torch.Generator().manual_seed(3))
    snrs, ratios = [], []
    for seed in range(20):
        delta, parts = he3_noise(w_star, seed)
        result = update_alignment(delta, w_star, frames, noise_of(parts, seed))
        assert result.learned_dims(3.0) == 0, result.snr
        ratios.append(float(result.null_levels[0] / result.null_levels_frames[0]))
        snrs.append(float(result.snr[0]))
    assert np.mean(snrs) == pytest.approx(1.0, abs=0.25)
    assert np.median(ratios) == pytest.approx(math.sqrt(7), rel=0.15), ratios


def test_frame_level_k_is_the_top_singular_value_over_r_minus_k_plus_1_directions(teacher_and_frames):
    w_star, frames = teacher_and_frames
    delta, parts = he3_noise(w_star, 0)
    result = update_alignment(delta, w_star, frames, noise_of(parts))
    noise = (delta @ frames).numpy()
    for k in range(R):
        by_hand = np.mean([np.linalg.norm(one[:, : R - k], ord=2) for one in noise])
        assert float(result.null_levels_frames[k]) == pytest.approx(by_hand, rel=1e-12)
    singular_values = np.linalg.svd((delta @ w_star.T).numpy(), compute_uv=False)
    assert result.singular_values.numpy() == pytest.approx(singular_values, rel=1e-12)
    assert result.snr.numpy() == pytest.approx(singular_values / result.null_levels.numpy(), rel=1e-12)


def test_teacher_level_k_uses_the_right_singular_vectors_k_to_r(teacher_and_frames):
    w_star, frames = teacher_and_frames
    delta, parts = he3_noise(w_star, 1)
    noise = noise_of(parts)
    result = update_alignment(delta, w_star, frames, noise)
    basis = result.directions.T.numpy()  # columns: right singular vectors
    for k in range(R):
        by_hand = np.mean([np.linalg.norm(one @ basis[:, k:], ord=2) for one in noise.replicates.numpy()])
        assert float(result.null_levels[k]) == pytest.approx(by_hand, rel=1e-10)


def test_planted_directions_are_found_in_order(teacher_and_frames):
    """Noise plus a strong update along w*_1 and a weaker one along (w*_2 + w*_3)/sqrt 2."""
    w_star, frames = teacher_and_frames
    delta, parts = he3_noise(w_star, 2)
    rows = torch.randn(P, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    second = (w_star[1] + w_star[2]) / 2**0.5
    scale = float(torch.linalg.matrix_norm(delta @ w_star.T, ord=2))
    delta = delta + scale * (2.0 * rows[:, :1] * w_star[0] + 0.8 * rows[:, 1:] * second)
    result = update_alignment(delta, w_star, frames, noise_of(parts))
    assert result.learned_dims(3.0) == 2
    assert float(result.snr[2]) < 1.8
    assert abs(float(result.directions[0] @ torch.tensor([1.0, 0, 0], dtype=torch.float64))) > 0.99
    expected = torch.tensor([0, 1.0, 1.0], dtype=torch.float64) / 2**0.5
    assert abs(float(result.directions[1] @ expected)) > 0.99


def test_no_update_gives_zero_snr(teacher_and_frames):
    w_star, frames = teacher_and_frames
    noise = TeacherNoise(8, P, R, torch.device("cpu"))
    result = update_alignment(torch.zeros(P, D, dtype=torch.float64), w_star, frames, noise)
    assert result.snr.tolist() == [0.0] * R
    assert result.learned_dims(3.0) == 0


@pytest.mark.parametrize(("snr", "dims"), [([5, 4, 1], 2), ([5, 2, 4], 1), ([2, 5, 5], 0), ([9, 8, 7], 3)])
def test_learned_dims_counts_the_leading_directions_above_threshold(snr, dims):
    """A later direction counts only once every earlier one is learned (a sequential test)."""
    snr = torch.tensor(snr, dtype=torch.float64)
    result = UpdateAlignment(snr, torch.zeros(3), torch.ones(3), torch.ones(3), torch.eye(3))
    assert result.learned_dims(3.0) == dims


def test_alignment_is_one_per_direction_the_weights_lie_along(teacher_and_frames):
    """Rows along w*_1 or w*_2 (half each): eigenvalues 1/2, 1/2, 0. Rows along a fixed mix of
    w*_1 and w*_3 add a single eigenvalue, however large both diagonal entries are."""
    w_star, _ = teacher_and_frames
    rows = torch.cat([w_star[:1].expand(10, D), w_star[1:2].expand(10, D)])
    assert alignment(rows, w_star).numpy() == pytest.approx([0.5, 0.5, 0.0], abs=1e-12)
    mixed = ((w_star[0] + w_star[2]) / 2**0.5).expand(10, D)
    assert alignment(mixed, w_star).numpy() == pytest.approx([1.0, 0.0, 0.0], abs=1e-12)


@pytest.mark.parametrize(("values", "learned", "d", "dims"),
                         [([0.5, 0.2, 0.01], 3, 1000, 2), ([0.5, 0.2, 0.1], 1, 1000, 1),
                          ([0.5, 0.2, 0.1], 0, 1000, 0), ([0.5, 0.06, 0.04], 3, 25, 1)])
def test_aligned_dims_needs_a_learned_direction_above_its_initial_level(values, learned, d, dims):
    """At d = 25 the initial level is 0.04: 0.06 exceeds it by less than the margin 0.05."""
    assert aligned_dims(torch.tensor(values), 0.05, learned, d) == dims
