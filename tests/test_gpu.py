"""The CUDA path: the same run on the GPU and on the CPU agrees within the float32 rounding of
the seeded inputs (samples are drawn on the CPU, so both see the same data). Skipped without
CUDA, the only tests that may skip."""

from __future__ import annotations

import pytest
import torch

from giantstep import run
from giantstep.config import resolve
from giantstep.run import experiment
from giantstep.schema import compose


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_matches_the_cpu_run():
    overrides = ["target=two_stair", "d=64", "p=128", "train.alpha=8", "train.steps=2", "readout.n_test=4000"]
    cpu, _ = experiment(resolve(compose([*overrides, "device=cpu"])))
    cuda, _ = experiment(resolve(compose([*overrides, "device=cuda"])))
    for a, b in zip(cpu["steps"], cuda["steps"]):
        assert b["learned_dims"] == a["learned_dims"]
        assert b["test_error"] == pytest.approx(a["test_error"], rel=1e-3)
        assert b["update_snr"] == pytest.approx(a["update_snr"], rel=1e-3, abs=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeds_in_one_cuda_program_match_their_cpu_runs():
    """On CUDA a batch job runs small cells' seeds together (giantstep.run.seed_groups): each seed
    of the program agrees with its own CPU run."""
    overrides = ["target=two_stair", "d=64", "p=128", "train.alpha=8", "train.steps=2", "readout.n_test=4000"]
    group = [resolve(compose([*overrides, "device=cuda", f"seed={seed}"])) for seed in (0, 1, 2)]
    assert run.seed_groups([0, 1, 2], group[0]) == [(0, 1, 2)]
    for seed, (cuda, _) in zip((0, 1, 2), run.experiments(group)):
        cpu, _ = experiment(resolve(compose([*overrides, "device=cpu", f"seed={seed}"])))
        assert cuda["timings"]["seeds_batched"] == 3
        for a, b in zip(cpu["steps"], cuda["steps"]):
            assert b["learned_dims"] == a["learned_dims"]
            assert b["test_error"] == pytest.approx(a["test_error"], rel=1e-3)
            assert b["update_snr"] == pytest.approx(a["update_snr"], rel=1e-3, abs=1e-6)
