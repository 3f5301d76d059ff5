"""The theory module: exact Hermite data, leaps, staircases, floors, the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from giantstep.activations import get_activation
from giantstep.errors import ConfigError
from giantstep.targets import Target
from giantstep.theory.cli import main
from giantstep.theory.population import (
    error_floor,
    gaussian_moments,
    hermite_coefficients,
    linear_kernel_error,
    population_gradient,
    staircase_subspaces,
    theory_summary,
)

EXPR = {
    "A": "(He1(z1) + He2(z1)/2 + He4(z1)/24 + He1(z2) + He2(z2)/2 + He4(z2)/24)/2",
    "B": "((z1 + z1^2) + (z2 - z2^2))/2",
    "C": "(4*z1 + z1^2 + z2)/2",
    "S3": "z1 + z1*z2 + z1*z2*z3",
    "N": "z1 + z2*z3",
    "H3": "He3(z1)/sqrt(6)",
    "V3": "z1 + z1*z2 + z2*z3",
}
SRC = Path(__file__).resolve().parents[1] / "src"


def target(key: str) -> Target:
    return Target.parse(EXPR.get(key, key), name=key)


@pytest.mark.parametrize(("key", "value"), [("A", 0.2708), ("B", 1.0), ("C", 0.5), ("S3", 2.0), ("N", 1.0)])
def test_linear_kernel_error(key, value):
    assert linear_kernel_error(target(key)) == pytest.approx(value, abs=1e-4)


@pytest.mark.parametrize(("key", "value"), [("A", 0.7708), ("B", 1.5)])
def test_variance(key, value):
    mean, second, _, _ = gaussian_moments(target(key))
    assert second - mean**2 == pytest.approx(value, abs=1e-4)


@pytest.mark.parametrize(("key", "value"), [("A", 0.143), ("B", 1.0), ("C", 0.057)])
def test_error_floor_of_first_learned_direction(key, value):
    first = staircase_subspaces(target(key), 1, "relu")[1]
    assert first.shape == (1, 2)
    assert error_floor(target(key), first) == pytest.approx(value, abs=2e-3)


def test_step1_slope_and_direction_of_notebook_target():
    summary = theory_summary(target("C"), "relu", 1)
    assert summary["step1_slope"] == pytest.approx(0.25, abs=1e-9)
    assert summary["subspaces"][1][0] == pytest.approx([4 / math.sqrt(17), 1 / math.sqrt(17)], abs=1e-9)


@pytest.mark.parametrize(
    ("key", "aware", "generic"),
    [
        ("B", [0, 1, 2, 2], [0, 1, 2, 2]),
        ("S3", [0, 1, 2, 2], [0, 1, 2, 3]),
        ("N", [0, 1, 1, 1], [0, 1, 1, 1]),
        ("A", [0, 1, 1, 1], [0, 1, 1, 1]),
        ("V3", [0, 1, 2, 3], [0, 1, 2, 3]),
    ],
)
def test_predicted_dims_relu(key, aware, generic):
    summary = theory_summary(target(key), "relu", 3)
    assert summary["predicted_dims"] == aware
    assert summary["predicted_dims_generic"] == generic
    assert len(summary["floors"]) == len(summary["subspaces"]) == 4
    assert summary["floors"][0] == pytest.approx(summary["variance"])


def test_two_stair_learns_u_then_u_prime():
    subspaces = theory_summary(target("B"), "relu", 2)["subspaces"]
    s = 1 / math.sqrt(2)
    assert subspaces[2][0] == pytest.approx([s, s], abs=1e-9)
    assert subspaces[2][1] == pytest.approx([s, -s], abs=1e-9)


def test_hard_direction_is_visible_to_tanh_not_relu():
    tanh, relu = (theory_summary(target("H3"), act, 1) for act in ("tanh", "relu"))
    assert tanh["leap_index"] == relu["leap_index"] == [3]
    assert [o["aware"] for o in tanh["one_step"]] == [0, 0, 1, 1]
    assert [o["aware"] for o in relu["one_step"]] == [0, 0, 0, 0]
    assert [o["generic"] for o in relu["one_step"]] == [0, 0, 1, 1]
    assert tanh["predicted_dims"] == [0, 0]


def test_product_needs_two_steps_of_sample_complexity():
    summary = theory_summary(target("z1*z2"), "relu", 2)
    assert summary["mu1"] == [0.0, 0.0]
    assert summary["predicted_dims"] == [0, 0, 0]
    assert summary["one_step"][0]["aware"] == 0  # n ~ d
    assert summary["one_step"][1]["aware"] == summary["one_step"][1]["aware_preprocessed"] == 2  # n ~ d^2
    assert summary["leap_index"] == [2, 2]


def test_preprocessing_one_step_and_floors():
    summary = theory_summary(target("B"), "relu", 2, preprocess="remove_linear")
    assert [(o["aware"], o["aware_preprocessed"]) for o in summary["one_step"][:2]] == [(1, 0), (1, 2)]
    assert summary["predicted_dims"] == [0, 0, 0]  # the linear part is what n ~ d sees
    assert summary["floors"][0] == pytest.approx(1.0)  # E[(g* - mu_0 - <mu_1, z>)^2]
    with pytest.raises(ConfigError):
        theory_summary(target("B"), "relu", 1, preprocess="bogus")


def test_quadrature_is_exact_on_polynomials_and_agrees_with_monte_carlo():
    poly = target("z1^3 + z1*z2^2 - 2*z2 + 3*He2(z1)*He1(z2)")
    mu = hermite_coefficients(poly, 4)
    # z1^3 = He3 + 3 He1, z1 z2^2 = He1 (He2 + 1): mu_alpha = alpha! * coefficient
    assert mu[(1, 0)] == pytest.approx(4.0, abs=1e-12)
    assert mu[(0, 1)] == pytest.approx(-2.0, abs=1e-12)
    assert mu[(3, 0)] == pytest.approx(6.0, abs=1e-12)
    assert mu[(1, 2)] == pytest.approx(2.0, abs=1e-12)
    assert mu[(2, 1)] == pytest.approx(6.0, abs=1e-12)
    assert mu[(2, 0)] == pytest.approx(0.0, abs=1e-12)
    second = gaussian_moments(poly)[1]
    assert second == pytest.approx(sum(v * v / math.prod(map(math.factorial, a)) for a, v in mu.items()))
    z = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = poly(z)
    assert float((y * y).mean()) == pytest.approx(second, rel=0.1)
    assert (y[:, None] * z).mean(0).tolist() == pytest.approx([4.0, -2.0], abs=0.2)


def test_population_gradient_against_monte_carlo_and_mirror_lines():
    two_stair = target("B")
    alphas = torch.tensor([[0.7, -0.3], [1.5, 0.4]], dtype=torch.float64)
    s = torch.tensor([0.8, 1.3], dtype=torch.float64)
    generator = torch.Generator().manual_seed(2)
    z = torch.randn(400_000, 2, generator=generator, dtype=torch.float64)
    xi = torch.randn(400_000, generator=generator, dtype=torch.float64)
    for name in ("relu", "tanh"):
        derivative = get_activation(name).derivative
        quadrature = population_gradient(two_stair, name, alphas, s)
        monte_carlo = torch.stack(
            [(two_stair(z) * derivative(z @ a + si * xi))[:, None].mul(z).mean(0) for a, si in zip(alphas, s)]
        )
        assert torch.allclose(quadrature, monte_carlo, atol=0.02), name
    u = torch.tensor([[1.0, 1.0]], dtype=torch.float64) / math.sqrt(2)
    plus, minus = population_gradient(two_stair, "relu", torch.cat([u, -u]), torch.ones(2))
    assert plus.tolist() == pytest.approx(minus.flip(0).tolist(), abs=1e-12)  # mirrored lines
    assert plus[0] > plus[1] + 0.1  # off the diagonal


def test_large_r_is_monte_carlo_without_predictions():
    summary = theory_summary(target("z1 + z2*z3*z4*z5"), "relu", 2)
    assert summary["method"] == "monte_carlo" and summary["note"]
    assert summary["predicted_dims"] is None and summary["leap_index"] is None
    assert summary["mu1"][0] == pytest.approx(1.0, abs=0.02)
    json.dumps(summary)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    command = [sys.executable, "-m", "giantstep.theory.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_cli_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "theory.json"
    result = _cli(
        "target=two_stair,staircase3",
        "student.activation=relu,tanh",
        "train.steps=3",
        f"json={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 5 and "| two_stair | relu |" in rows[1]
    summaries = json.loads(out.read_text())
    assert [(s["target"], s["activation"]) for s in summaries] == [
        ("two_stair", "relu"),
        ("two_stair", "tanh"),
        ("staircase3", "relu"),
        ("staircase3", "tanh"),
    ]
    assert summaries[2]["predicted_dims"] == [0, 1, 2, 2]
    assert summaries[2]["predicted_dims_generic"] == [0, 1, 2, 3]


def test_cli_custom_expression_and_unknown_target(tmp_path):
    out = tmp_path / "custom.json"
    result = _cli('target.expr="z1*z2"', "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "`z1*z2`" in result.stdout
    assert json.loads(out.read_text())[0]["one_step"][1]["aware"] == 2
    result = _cli("target=no_such_target", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "giantstep-theory: error: unknown target 'no_such_target' (known: "
        + ", ".join(sorted(p.stem for p in (SRC.parent / "conf" / "target").glob("*.yaml")))
        + ")"
    ]


@pytest.mark.parametrize(
    "bad", ["student.activation=sin", "train.steps=-1", "colour=red", "target=custom", "target.expr=z1*q"]
)
def test_cli_bad_input_is_one_line_and_exit_2(bad, capsys):
    assert main([bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
