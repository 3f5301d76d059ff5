"""Results that must agree up to float32 rounding: the same structure, integers and words,
and floats within a relative tolerance."""

from __future__ import annotations

import math

import numpy as np


def assert_close_results(actual, expected, rel: float = 1e-5, abs_: float = 1e-7, where: str = "") -> None:
    """Assert that ``actual`` and ``expected`` (JSON-like: dicts, lists, numbers, words, None)
    have the same structure and equal non-float leaves, and that their floats agree within
    ``rel`` (relative) or ``abs_`` (absolute, for values near zero); NaN equals NaN."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_close_results(actual[key], expected[key], rel, abs_, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (a, b) in enumerate(zip(actual, expected)):
            assert_close_results(a, b, rel, abs_, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert isinstance(actual, float), where
        same = (math.isnan(actual) and math.isnan(expected)) or math.isclose(
            actual, expected, rel_tol=rel, abs_tol=abs_)
        assert same, f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def assert_close_arrays(actual: dict, expected: dict, rel: float = 1e-5, abs_: float = 1e-6) -> None:
    """The same arrays (names, shapes), equal within the tolerances."""
    assert list(actual) == list(expected)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=rel, atol=abs_, err_msg=key)
