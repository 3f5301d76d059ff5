"""The provenance table (who ran what, when, where, how long) and the comparison of two scales."""

from __future__ import annotations

import math

import pandas as pd

from giantstep.reproduce import scales
from giantstep.reproduce.provenance import provenance_summary, seeds_text, union_seconds


def runs(plan: str, finished: list[str | None], seconds: list[float], dirty: bool = False) -> pd.DataFrame:
    n = len(finished)
    return pd.DataFrame({
        "plan": plan, "cell": [f"c{i % 2}" for i in range(n)], "seed": list(range(n)),
        "git_commit": ["0123456789abcdef0123"] * n, "git_dirty": [dirty] * n,
        "cpu": ["Some CPU"] * n, "cpu_count": [2] * n, "device_name": ["cpu"] * n,
        "torch_threads": [2] * n, "wall_seconds": seconds, "finished_at": finished,
    })


def test_seeds_as_ranges():
    assert seeds_text([3, 0, 1, 2]) == "0–3"
    assert seeds_text([0, 2, 3, 4, 9]) == "0, 2–4, 9"


def test_wall_time_is_the_union_of_spans():
    t = pd.Timestamp
    one_after_another = [(t("2026-01-01 10:00"), t("2026-01-01 10:10")),
                         (t("2026-01-01 10:20"), t("2026-01-01 10:25"))]
    assert union_seconds(one_after_another) == 15 * 60  # the gap between them left out
    together = [(t("2026-01-01 10:00"), t("2026-01-01 10:10")),
                (t("2026-01-01 10:05"), t("2026-01-01 10:12"))]
    assert union_seconds(together) == 12 * 60


def test_summary_per_plan_and_total():
    table = provenance_summary({
        "a": runs("a", ["2026-01-01T10:00:10+00:00", "2026-01-01T10:01:00+00:00"], [10.0, 20.0]),
        "b": runs("b", ["2026-01-01T11:00:30+00:00"], [30.0], dirty=True),
    }).set_index("plan")
    assert table.loc["a", "wall_seconds"] == 60  # 10:00:00 (first start) to 10:01:00
    assert table.loc["a", "run_seconds"] == 30 and table.loc["a", "run time"] == "0:00:30"
    assert table.loc["total", "wall_seconds"] == 90 and table.loc["total", "wall time"] == "0:01:30"
    assert table.loc["total", "runs"] == 3 and table.loc["total", "cells"] == 3
    assert table.loc["total", "dirty runs"] == 1 and table.loc["a", "dirty runs"] == 0
    assert table.loc["total", "commits"] == "0123456789ab"
    assert table.loc["total", "machine"] == "Some CPU, 2 cores, cpu"


def test_runs_that_did_not_record_their_time_are_not_given_one():
    table = provenance_summary({"a": runs("a", [None, None], [1.0, 2.0])}).set_index("plan")
    assert math.isnan(table.loc["a", "wall_seconds"]) and table.loc["a", "wall time"] == "not recorded"
    assert table.loc["total", "started"] == "not recorded"


def claims(verdict: str, passed: list[bool], d: int) -> pd.DataFrame:
    return pd.DataFrame({"claim": ["C1"] * len(passed) + ["C2"],
                         "check": [f"check {i} (d = {d})" for i in range(len(passed))] + ["other"],
                         "value": [f"v{d}"] * len(passed) + ["x"], "passed": passed + [True],
                         "verdict": [verdict] * len(passed) + ["reproduced"]})


def test_scales_compare_verdicts_and_checks_by_place():
    pair = {"quick": {"claims": claims("partly", [True, False], 128)},
            "paper": {"claims": claims("reproduced", [True, True], 256)}}
    verdicts = scales.verdicts(pair).set_index("claim")
    assert verdicts.loc["C1", "changed"] == "yes" and verdicts.loc["C2", "changed"] == ""
    changed = scales.changed_checks(pair)
    assert list(changed["check"]) == ["check 1 (d = 256)"]  # matched by place, worded at the second scale
    assert changed.iloc[0]["quick"] == "v128" and changed.iloc[0]["passes at"] == "paper"


def test_reading_gaps_say_whether_the_distance_shrinks():
    def curves(a_t1: float) -> pd.DataFrame:
        return pd.DataFrame({"target": ["A", "A", "A", "B", "B", "B"], "T": [0, 1, 6, 0, 1, 6],
                             "error_mean": [0.6, a_t1, 0.13, 1.37, 0.32, 0.3]})
    gaps = scales.reading_gaps({"quick": {"comparison": curves(0.30)},
                                "paper": {"comparison": curves(0.25)}}).set_index("reading")
    assert gaps.loc["A T=1", "shrinks"] == "yes"
    assert math.isclose(gaps.loc["A T=1", "quick off"], 0.08)
    assert math.isclose(gaps.loc["A T=1", "paper off"], 0.03)
    assert gaps.loc["A T=0", "shrinks"] == "no"  # 0 at both scales
    assert math.isclose(gaps.loc["B T=6", "paper off"], 0.1)  # 0.3 against the range 0.15–0.2
    assert scales.reading_gaps({"quick": {}, "paper": {"comparison": curves(0.2)}}) is None
