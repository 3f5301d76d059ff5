"""The update SNR of PAPER.md §5 with rank-matched null levels (giantstep.metrics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from giantstep.metrics import UpdateAlignment, null_frames, update_alignment
from giantstep.targets import teacher_directions

P, D, R = 64, 40, 3


@pytest.fixture
def teacher_and_frames():
    generator = torch.Generator().manual_seed(0)
    w_star = teacher_directions(D, R, generator).to(torch.float64)
    return w_star, null_frames(w_star, 16, generator)


def test_frames_are_orthonormal_and_orthogonal_to_the_teacher(teacher_and_frames):
    w_star, frames = teacher_and_frames
    assert frames.shape == (16, D, R)
    gram = frames.transpose(1, 2) @ frames
    assert torch.allclose(gram, torch.eye(R, dtype=torch.float64).expand(16, R, R), atol=1e-12)
    assert float((w_star @ frames).abs().max()) < 1e-12


def test_null_level_k_is_the_top_singular_value_over_r_minus_k_plus_1_directions(teacher_and_frames):
    w_star, frames = teacher_and_frames
    delta = torch.randn(P, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    alignment = update_alignment(delta, w_star, frames)
    noise = (delta @ frames).numpy()
    for k in range(R):
        by_hand = np.mean([np.linalg.norm(one[:, : R - k], ord=2) for one in noise])
        assert float(alignment.null_levels[k]) == pytest.approx(by_hand, rel=1e-12)
    singular_values = np.linalg.svd((delta @ w_star.T).numpy(), compute_uv=False)
    assert alignment.singular_values.numpy() == pytest.approx(singular_values, rel=1e-12)
    assert alignment.snr.numpy() == pytest.approx(singular_values / alignment.null_levels.numpy(), rel=1e-12)
    # the first level is PAPER.md's: the top singular value of Delta R over whole frames
    whole_frames = np.mean([np.linalg.norm(one, ord=2) for one in noise])
    assert float(alignment.null_levels[0]) == pytest.approx(whole_frames, rel=1e-12)
    assert alignment.null_levels[0] > alignment.null_levels[1] > alignment.null_levels[2]


def test_planted_directions_are_found_in_order(teacher_and_frames):
    """Noise plus a strong update along w*_1 and a weaker one along (w*_2 + w*_3)/sqrt 2."""
    w_star, frames = teacher_and_frames
    generator = torch.Generator().manual_seed(2)
    noise = torch.randn(P, D, generator=generator, dtype=torch.float64) / D**0.5
    rows = torch.randn(P, 2, generator=generator, dtype=torch.float64)
    second = (w_star[1] + w_star[2]) / 2**0.5
    delta = noise + 2.0 * rows[:, :1] * w_star[0] + 0.8 * rows[:, 1:] * second
    alignment = update_alignment(delta, w_star, frames)
    assert alignment.learned_dims(3.0) == 2
    assert float(alignment.snr[2]) < 1.5
    assert abs(float(alignment.directions[0] @ torch.tensor([1.0, 0, 0], dtype=torch.float64))) > 0.99
    expected = torch.tensor([0, 1.0, 1.0], dtype=torch.float64) / 2**0.5
    assert abs(float(alignment.directions[1] @ expected)) > 0.99


def test_no_update_gives_zero_snr(teacher_and_frames):
    w_star, frames = teacher_and_frames
    alignment = update_alignment(torch.zeros(P, D, dtype=torch.float64), w_star, frames)
    assert alignment.snr.tolist() == [0.0] * R
    assert alignment.learned_dims(3.0) == 0


@pytest.mark.parametrize(("snr", "dims"), [([5, 4, 1], 2), ([5, 2, 4], 1), ([2, 5, 5], 0), ([9, 8, 7], 3)])
def test_learned_dims_counts_the_leading_directions_above_threshold(snr, dims):
    """A later direction counts only once every earlier one is learned (a sequential test)."""
    snr = torch.tensor(snr, dtype=torch.float64)
    alignment = UpdateAlignment(snr, torch.zeros(3), torch.ones(3), torch.eye(3))
    assert alignment.learned_dims(3.0) == dims
