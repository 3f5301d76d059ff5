"""Run jobs of several cells (giantstep.reproduce.batches): how cells are dealt into batches, a
batch's runs equal the CLI's, whole runs are kept, and one failing cell does not stop the others."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from helpers.cli import run_cli
from helpers.compare import assert_close_arrays, assert_close_results

from giantstep.errors import ConfigError, DivergenceError
from giantstep.reproduce.batches import BatchCell, cell_batches, run_batch
from giantstep.reproduce.plans import Cell, config_digest

FIXED = ("d=16", "p=32", "train.alpha=4", "train.steps=2", "readout.n_test=500", "metrics.n_neurons=4")
SEEDS = (0, 1)


def batch_cell(path: str, *overrides: str) -> BatchCell:
    return BatchCell(path, (*FIXED, *overrides), config_digest((*FIXED, *overrides)))


@pytest.mark.parametrize("cells, per_job, sizes",
                         [(7, 3, [3, 2, 2]), (6, 3, [3, 3]), (2, 8, [2]), (1, 1, [1])])
def test_cells_of_equal_work_are_dealt_round_robin_into_batches_of_cells_per_job(cells, per_job, sizes):
    batches = cell_batches(list(range(cells)), per_job)
    assert list(batches) == [f"{i}-of-{len(sizes)}" for i in range(1, len(sizes) + 1)]
    assert [len(batch) for batch in batches.values()] == sizes
    assert sorted(cell for batch in batches.values() for cell in batch) == list(range(cells))
    for index, batch in enumerate(batches.values()):  # cell j in batch j mod k
        assert batch == tuple(range(index, cells, len(sizes)))


def test_batches_are_balanced_by_work_and_keep_the_plans_order():
    # a grid whose costliest cells recur with the period of the batches (dealing j mod k would
    # put all four in one batch): each batch gets two of them
    work = [1.0, 2.0, 4.0, 8.0] * 4
    batches = cell_batches(list(range(16)), 8, work)
    assert [sorted(work[i] for i in batch) for batch in batches.values()] == [[1, 1, 2, 2, 4, 4, 8, 8]] * 2
    assert all(list(batch) == sorted(batch) for batch in batches.values())
    # the costliest first, into the least loaded batch with room; ties to the first
    assert cell_batches(list(range(8)), 4, [8, 1, 1, 1, 1, 1, 1, 8]) == {"1-of-2": (0, 1, 3, 5),
                                                                        "2-of-2": (2, 4, 6, 7)}
    assert cell_batches(list(range(5)), 2, [0, 0, 0, 0, 0]) == {"1-of-3": (0, 3), "2-of-3": (1, 4),
                                                              "3-of-3": (2,)}


def test_cells_per_job_below_one_is_refused():
    with pytest.raises(ConfigError, match="cells_per_job must be at least 1"):
        cell_batches([1, 2], 0)


def results_of(path):
    """A run's metrics less what records the run itself (provenance, timings)."""
    document = json.loads((path / "metrics.json").read_text())
    return {key: value for key, value in document.items() if key not in ("provenance", "timings")}


def test_a_batch_makes_the_runs_the_cli_makes_and_its_log_reruns_them(tmp_path):
    cell = batch_cell("target=hermite_124", "target=hermite_124")
    assert run_batch([cell], SEEDS, tmp_path / "runs", tmp_path / "logs", 1, tmp_path / "m.json") == 0
    line = (tmp_path / "logs" / f"{cell.path}.log").read_text().splitlines()[0]
    conf, command, *arguments = shlex.split(line)
    assert conf.startswith("GIANTSTEP_CONF=") and command == "giantstep"
    by_hand = tmp_path / "by_hand"
    arguments = [a.replace(str(tmp_path / "runs" / cell.path), str(by_hand)) for a in arguments]
    done = run_cli(*arguments, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for seed in SEEDS:
        batch, cli = tmp_path / "runs" / cell.path / f"seed={seed}", by_hand / f"seed={seed}"
        assert results_of(batch) == results_of(cli)
        assert (batch / "config.yaml").read_bytes() == (cli / "config.yaml").read_bytes()
        with np.load(batch / "arrays.npz") as a, np.load(cli / "arrays.npz") as b:
            assert a.files == b.files and all(np.array_equal(a[key], b[key]) for key in a.files)
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest == {"seeds": list(SEEDS), "cells": {cell.path: {"digest": cell.digest, "computed": [0, 1],
                                                                    "kept": []}}}


@pytest.fixture
def seeds_together(monkeypatch):
    """Batch jobs run the seeds of small cells as one tensor program on the CPU, as on a GPU."""
    import giantstep.run

    monkeypatch.setattr(giantstep.run, "SEED_PROGRAM_DEVICES", frozenset({"cpu", "cuda"}))


def test_seeds_in_one_tensor_program_make_the_clis_runs_up_to_float32_rounding(tmp_path, seeds_together):
    cell = batch_cell("target=two_stair", "target=two_stair")
    assert run_batch([cell], SEEDS, tmp_path / "runs", tmp_path / "logs", 1, tmp_path / "m.json") == 0
    by_hand = tmp_path / "by_hand"
    done = run_cli(*Cell(cell.path, cell.overrides).arguments(SEEDS, str(by_hand)), "threads=1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for seed in SEEDS:
        batch, cli = tmp_path / "runs" / cell.path / f"seed={seed}", by_hand / f"seed={seed}"
        assert_close_results(results_of(batch), results_of(cli))
        with np.load(batch / "arrays.npz") as a, np.load(cli / "arrays.npz") as b:
            assert_close_arrays(dict(a), dict(b))
        timings = [json.loads((run / "metrics.json").read_text())["timings"] for run in (batch, cli)]
        assert [entry["seeds_batched"] for entry in timings] == [len(SEEDS), 1]


@pytest.mark.parametrize("together", [False, True])
def test_a_batch_keeps_whole_runs_and_recomputes_a_damaged_one(tmp_path, monkeypatch, together):
    if together:
        monkeypatch.setattr("giantstep.run.SEED_PROGRAM_DEVICES", frozenset({"cpu"}))
    cells = [batch_cell("k=a", "target=hermite_124"), batch_cell("k=b", "target=two_stair")]
    run = (tmp_path / "runs", tmp_path / "logs", 1, tmp_path / "m.json")
    assert run_batch(cells, SEEDS, *run) == 0
    files = {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").rglob("*") if path.is_file()}
    damaged = tmp_path / "runs" / "k=b" / "seed=1" / "metrics.json"
    before = results_of(damaged.parent)
    damaged.write_text("{")
    # a writer killed after its metrics.json arrived leaves its staging folder beside a whole run
    leftover = tmp_path / "runs" / "k=a" / "seed=0" / ".giantstep-killed.tmp"
    leftover.mkdir()
    (leftover / "arrays.npz").write_bytes(b"")
    assert run_batch(cells, SEEDS, *run) == 0
    entries = json.loads((tmp_path / "m.json").read_text())["cells"]
    assert [entries[c.path]["computed"] for c in cells] == [[], [1]]
    assert [entries[c.path]["kept"] for c in cells] == [[0, 1], [0]]
    assert {path: path.stat().st_mtime_ns for path in files if path.parent != damaged.parent} == {
        path: time for path, time in files.items() if path.parent != damaged.parent}
    assert json.loads(damaged.read_text())["config"]["seed"] == 1
    assert not leftover.exists()
    # recomputed in the program it first ran in (both seeds, or itself): its numbers, bit for bit
    assert json.loads(damaged.read_text())["timings"]["seeds_batched"] == (2 if together else 1)
    assert results_of(damaged.parent) == before


def test_a_failing_cell_does_not_stop_the_others_and_writes_no_manifest(tmp_path, capsys):
    cells = [batch_cell("k=bad", "target=custom", "target.expr='z1 + He9(z2'"),
             batch_cell("k=good", "target=two_stair")]
    assert run_batch(cells, (0,), tmp_path / "runs", tmp_path / "logs", 1, tmp_path / "m.json") == 2
    assert (tmp_path / "runs" / "k=good" / "seed=0" / "metrics.json").is_file()
    assert not (tmp_path / "runs" / "k=bad" / "seed=0").exists() and not (tmp_path / "m.json").exists()
    last = (tmp_path / "logs" / "k=bad.log").read_text().splitlines()[-1]
    assert last.startswith("giantstep: error: ") and "z1 + He9(z2" in last, last
    log = tmp_path / "logs" / "k=bad.log"
    assert capsys.readouterr().err.splitlines() == [f"{last} (cell k=bad; log {log})"]


def test_a_seed_that_diverges_in_a_program_is_run_alone_after_the_seeds_before_it(tmp_path, monkeypatch,
                                                                                  seeds_together):
    """Seeds 0 and 1 run as one program; when seed 1 diverges the cell runs them one by one, as the
    CLI would: seed 0's run is written, seed 1 gets its own error and no folder."""
    import giantstep.run

    real_step, programs = giantstep.run.giant_step, []

    def diverging_for_seed_1(student, teacher, sampler, **kwargs):
        programs.append(sampler.seeds)
        if 1 in sampler.seeds:
            raise DivergenceError(kwargs["step"], "gradient")
        return real_step(student, teacher, sampler, **kwargs)

    monkeypatch.setattr(giantstep.run, "giant_step", diverging_for_seed_1)
    cell = batch_cell("k=a", "target=two_stair")
    assert run_batch([cell], SEEDS, tmp_path / "runs", tmp_path / "logs", 1, tmp_path / "m.json") == 2
    assert programs == [(0, 1), (0,), (0,), (1,)]  # the program, then seed 0's two steps, then seed 1
    assert (tmp_path / "runs" / "k=a" / "seed=0" / "metrics.json").is_file()
    assert not (tmp_path / "runs" / "k=a" / "seed=1").exists() and not (tmp_path / "m.json").exists()
    log = (tmp_path / "logs" / "k=a.log").read_text().splitlines()
    assert log[1].startswith("learned_dims per step") and "seed=0" in log[1]
    assert log[-1] == f"giantstep: error: {DivergenceError(1, 'gradient')}"
