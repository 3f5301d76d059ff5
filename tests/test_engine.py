"""The engine's mathematics: gradient, chunking, seeding, ridge, targets, initialisation."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from helpers.compare import assert_close_arrays, assert_close_results

from giantstep import data, readout, run
from giantstep.activations import get_activation
from giantstep.data import Sampler
from giantstep.model import init_student
from giantstep.paths import conf_dir
from giantstep.readout import ridge_readout
from giantstep.run import experiment
from giantstep.schema import compose
from giantstep.targets import Target, Teacher, teacher_directions
from giantstep.train import NO_SHIFT, gradient, label_shift

CPU = torch.device("cpu")


def _problem(target="z1 + z1*z2", d=24, p=16, seed=0, symmetric=False, activation="relu"):
    teacher = Teacher(Target.parse(target), teacher_directions(d, 2, data.generator(seed, "teacher")))
    student = init_student(d, p, activation=get_activation(activation), init="gaussian",
                           second_layer="rademacher", symmetric=symmetric,
                           generator=data.generator(seed, "student"), device=CPU, dtype=torch.float64)
    return teacher, student


def _sampler(chunk_size=1024, dtype=torch.float64):
    return Sampler(seed=3, chunk_size=chunk_size, device=CPU, dtype=dtype)


@pytest.mark.parametrize("activation", ["relu", "tanh", "erf", "he3"])
def test_gradient_equals_autograd(activation):
    teacher, student = _problem(activation=activation)
    sampler = _sampler()
    n = 300
    ours, parts = gradient(student, teacher, sampler, n, batch=1, shift=NO_SHIFT, groups=7)
    W = student.W.clone().requires_grad_(True)
    (z,) = list(sampler.chunks(n, 24, "train", 1))
    f = student.activation.sigma(z @ W.T) @ student.a / math.sqrt(student.p)
    loss = ((teacher.labels(z) - f) ** 2).sum() / (2 * n)
    (autograd,) = torch.autograd.grad(loss, W)
    torch.testing.assert_close(ours, -autograd, rtol=1e-10, atol=1e-12)
    # the parts over 7 groups add up to the gradient in teacher coordinates
    torch.testing.assert_close(parts.sum(0), ours @ teacher.w_star.T, rtol=1e-10, atol=1e-12)


def test_samples_do_not_depend_on_chunk_size():
    one = torch.cat(list(_sampler(chunk_size=1024).chunks(5000, 7, "train", 2)))
    many = torch.cat(list(_sampler(chunk_size=4096).chunks(5000, 7, "train", 2)))
    assert one.shape == (5000, 7)
    assert torch.equal(one, many)
    other_step = torch.cat(list(_sampler().chunks(5000, 7, "train", 3)))
    assert not torch.equal(one, other_step)


def test_chunked_gradient_and_readout_equal_unchunked():
    teacher, student = _problem(d=32, p=24)
    small, large = _sampler(chunk_size=1024), _sampler(chunk_size=8192)
    shift = label_shift(teacher, small, 6000, "train", 1)
    g_small, parts_small = gradient(student, teacher, small, 6000, 1, shift, groups=13)
    g_large, parts_large = gradient(student, teacher, large, 6000, 1,
                                    label_shift(teacher, large, 6000, "train", 1), groups=13)
    torch.testing.assert_close(g_small, g_large, rtol=1e-5, atol=0)
    torch.testing.assert_close(parts_small, parts_large, rtol=1e-5, atol=1e-12)
    kwargs = dict(n_train=5000, n_test=3000, ridge=1.0, preprocess="remove_linear")
    a = ridge_readout(student, teacher, small, **kwargs)
    b = ridge_readout(student, teacher, large, **kwargs)
    assert a.test_error == pytest.approx(b.test_error, rel=1e-5)
    assert a.train_error == pytest.approx(b.train_error, rel=1e-5)


@pytest.mark.parametrize("passes", [1, 3])
def test_fused_readouts_equal_one_readout_per_layer(monkeypatch, passes):
    """The readouts of several first layers in one pass over the data (or several, when the
    features would exceed FUSED_COLUMNS) give each layer's own readout; a diverged layer gets
    NaN errors without touching the others."""
    teacher, student = _problem(d=20, p=12)
    W = student.W
    layers = torch.stack([W, 1.3 * W.flip(0), W + 0.2, torch.full_like(W, math.inf)])
    monkeypatch.setattr(readout, "FUSED_COLUMNS", 12 * len(layers) // passes + 1)
    sampler = _sampler(chunk_size=1024)
    shift = readout.readout_shift(teacher, sampler, 2500, "remove_linear")
    kwargs = dict(n_train=2500, n_test=1500, ridge=0.7)
    fused = readout.ridge_readouts(layers, student.activation, teacher, sampler, shift=shift, **kwargs)
    for layer, errors in zip(layers[:3], fused):
        one = readout.ridge_readout(replace(student, W=layer), teacher, sampler, preprocess="remove_linear",
                                    **kwargs)
        assert errors.test_error == pytest.approx(one.test_error, rel=1e-10)
        assert errors.train_error == pytest.approx(one.train_error, rel=1e-10)
    assert math.isnan(fused[3].test_error) and math.isnan(fused[3].train_error)


@pytest.mark.parametrize("preprocess", ["none", "remove_linear"])
def test_ridge_equals_closed_form(preprocess):
    teacher, student = _problem(d=20, p=12)
    sampler = _sampler(chunk_size=1024)
    n_train, n_test, ridge = 2500, 1500, 0.7
    result = ridge_readout(student, teacher, sampler, n_train=n_train, n_test=n_test,
                           ridge=ridge, preprocess=preprocess)
    z = torch.cat(list(sampler.chunks(n_train, 20, "readout")))
    y = teacher.labels(z)
    shift = torch.zeros(()) if preprocess == "none" else y.mean() + z @ (y @ z / n_train)
    F = torch.relu(z @ student.W.T) / math.sqrt(12)
    w = torch.linalg.solve(F.T @ F + ridge * torch.eye(12, dtype=F.dtype), F.T @ (y - shift))
    train_error = ((y - shift - F @ w) ** 2).mean()
    zt = torch.cat(list(sampler.chunks(n_test, 20, "test")))
    yt = teacher.labels(zt)
    shift_t = 0.0 if preprocess == "none" else y.mean() + zt @ (y @ z / n_train)
    test_error = ((yt - torch.relu(zt @ student.W.T) / math.sqrt(12) @ w - shift_t) ** 2).mean()
    assert result.train_error == pytest.approx(float(train_error), rel=1e-8)
    assert result.test_error == pytest.approx(float(test_error), rel=1e-8)


FORMULAS = {
    "hermite_124": lambda z1, z2: (_h(z1) + _h(z2)) / 2,
    "two_stair": lambda z1, z2: ((z1 + z1**2) + (z2 - z2**2)) / 2,
    "notebook_4z": lambda z1, z2: (4 * z1 + z1**2 + z2) / 2,
    "staircase3": lambda z1, z2, z3: z1 + z1 * z2 + z1 * z2 * z3,
    "no_staircase": lambda z1, z2, z3: z1 + z2 * z3,
    "hard_he3": lambda z1: (z1**3 - 3 * z1) / math.sqrt(6),
    "visible_staircase3": lambda z1, z2, z3: z1 + z1 * z2 + z2 * z3,
    "tanh_he3": lambda z1, z2: torch.tanh(z1 + z2**3 - 3 * z2),
    "tanh_he2": lambda z1, z2: torch.tanh(z1 + z2**2 - 1),
}


def _h(x):
    return x + (x**2 - 1) / 2 + (x**4 - 6 * x**2 + 3) / 24


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_named_target_equals_its_formula(name):
    cfg = compose([f"target={name}"])
    target = Target.parse(cfg.target.expr, cfg.target.name)
    z = torch.randn(50, target.r, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = FORMULAS[name](*z.unbind(-1))
    torch.testing.assert_close(target(z), expected, rtol=1e-12, atol=1e-12)


def test_every_target_config_is_tested():
    names = {path.stem for path in (conf_dir() / "target").glob("*.yaml")} - {"custom"}
    assert names == set(FORMULAS)


def test_teacher_directions_are_orthonormal():
    w_star = teacher_directions(50, 3, data.generator(0, "teacher"))
    torch.testing.assert_close(w_star @ w_star.T, torch.eye(3, dtype=torch.float64))


def test_symmetric_init_outputs_exactly_zero():
    _, student = _problem(d=30, p=40, symmetric=True)
    z = torch.randn(100, 30, dtype=torch.float64)
    assert torch.count_nonzero(student.output_and_derivative(student.preactivations(z))[0]) == 0
    _, plain = _problem(d=30, p=40)
    assert torch.count_nonzero(plain.output_and_derivative(plain.preactivations(z))[0]) > 0


def test_second_layer_scaling(settings):
    _, student = _problem(d=10, p=64)
    torch.testing.assert_close(student.a.abs(), torch.full((64,), 1 / 8, dtype=torch.float64))


SMALL = ("d=32", "p=64", "train.steps=2", "train.n=256", "readout.n_test=2000", "metrics.n_neurons=8")


def test_same_seed_gives_identical_metrics(settings):
    first, arrays_first = experiment(settings(*SMALL))
    second, arrays_second = experiment(settings(*SMALL))
    assert first["steps"] == second["steps"]
    for key in arrays_first:
        assert (arrays_first[key] == arrays_second[key]).all()
    other, _ = experiment(settings(*SMALL, "seed=1"))
    assert other["steps"] != first["steps"]


def test_chunk_size_does_not_change_metrics(settings):
    small, _ = experiment(settings(*SMALL, "train.n=3000", "chunk_size=1024"))
    large, _ = experiment(settings(*SMALL, "train.n=3000", "chunk_size=8192"))
    for a, b in zip(small["steps"], large["steps"]):
        assert a["test_error"] == pytest.approx(b["test_error"], rel=1e-5)
        assert a["update_snr"] == pytest.approx(b["update_snr"], rel=1e-4)


def test_step_zero_is_random_features(settings):
    metrics, arrays = experiment(settings(*SMALL))
    assert metrics["steps"][0]["update_snr"] == [0.0, 0.0]
    assert metrics["steps"][0]["learned_dims"] == 0
    assert arrays["update_cosines"].shape == (3, 8, 2)
    assert (arrays["update_cosines"][0] == 0).all()


def test_float32_and_float64_agree(settings):
    base = ("d=64", "p=128", "train.steps=1", "train.kappa=1.8", "readout.n_test=4000")
    single, _ = experiment(settings(*base, "dtype=float32"))
    double, _ = experiment(settings(*base, "dtype=float64"))
    for a, b in zip(single["steps"], double["steps"]):
        assert abs(a["test_error"] - b["test_error"]) < 1e-3


def test_a_sampler_of_several_seeds_gives_each_seed_its_own_samples_within_the_chunk_size():
    seeds = (3, 11, 5)
    sampler = Sampler(seed=seeds, chunk_size=4096, device=CPU, dtype=torch.float32)
    together = list(sampler.chunks(5000, 7, "train", 2))
    assert all(z.shape[0] == 3 and z.shape[0] * z.shape[1] <= 4096 for z in together)
    for row, seed in enumerate(seeds):
        alone = Sampler(seed=seed, chunk_size=8192, device=CPU, dtype=torch.float32)
        own = torch.cat(list(alone.chunks(5000, 7, "train", 2)))
        assert torch.equal(torch.cat([z[row] for z in together]), own)


@pytest.mark.parametrize("variant", [
    (),
    ("train.preprocess=remove_linear", "student.activation=tanh", "train.resample_every=2"),
    ("student.symmetric=true", "train.normalize=true", "student.init=sphere", "target=hermite_124"),
])
def test_seeds_in_one_tensor_program_give_each_seed_its_own_run(settings, variant):
    """Three seeds batched (chunks shared among them: several per step) give each seed's run alone,
    up to float32 rounding (1e-5 relative; the singular vectors ``learned_directions``, which
    rounding moves more where two singular values are close, 1e-3), whatever the threads; the
    learned and aligned directions exactly."""
    overrides = (*SMALL, "train.n=2500", "train.steps=3", "readout.n_train=3000", *variant)
    group = [settings(*overrides, f"seed={seed}") for seed in (4, 0, 9)]
    threads = torch.get_num_threads()
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            for seed_settings, (metrics, arrays) in zip(group, run.experiments(group)):
                alone, alone_arrays = experiment(seed_settings)
                assert metrics["timings"]["seeds_batched"] == 3 and alone["timings"]["seeds_batched"] == 1
                vectors = [[step.pop("learned_directions") for step in m["steps"]] for m in (metrics, alone)]
                assert_close_results(metrics["steps"], alone["steps"], rel=1e-5)
                assert_close_results(*vectors, rel=0, abs_=1e-3)
                assert_close_arrays(arrays, alone_arrays, abs_=1e-5)  # cosines of float32 updates
    finally:
        torch.set_num_threads(threads)


def test_one_tensor_program_refuses_settings_that_differ_beyond_the_seed(settings):
    with pytest.raises(ValueError, match="differ in their seed only"):
        run.experiments([settings(*SMALL), settings(*SMALL, "seed=1", "p=32")])


@pytest.mark.parametrize("seeds, chunk_size, n, sizes", [
    (10, 4096, 1000, [3, 4, 3]), (3, 4096, 1024, [3]), (4, 4096, 2, [4]), (3, 4096, 1025, [2, 1]),
    (3, 4096, 4096, [1, 1, 1]), (2, 4096, 10**6, [1, 1]), (10, 65536, 4096, [10])])
def test_seed_groups_are_the_seeds_whose_batches_fit_one_chunk_together(settings, monkeypatch, seeds,
                                                                        chunk_size, n, sizes):
    s = settings("d=16", f"train.n={n}", f"chunk_size={chunk_size}", "device=cpu")
    assert run.seed_groups(list(range(seeds)), s) == [(seed,) for seed in range(seeds)]  # CPU: one by one
    monkeypatch.setattr(run, "SEED_PROGRAM_DEVICES", frozenset({"cpu"}))  # as on a GPU
    groups = run.seed_groups(list(range(seeds)), s)
    assert [len(group) for group in groups] == sizes
    assert [seed for group in groups for seed in group] == list(range(seeds))
