"""The step-size rules of ``train.lr.rule`` (docs/method.md §2): ``eta = c * factor(n, d, p)``.

One table, :data:`LR_RULES`, holds each rule's formula and its text: the engine computes
``eta`` from it (:func:`giantstep.train.learning_rate`) and the tables, figures and report
write it (:func:`lr_text`). Plain Python math, no torch, so that the reading-only jobs of
the workflow can import it. Its names are those of :class:`giantstep.schema.LrRule`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StepSizeRule:
    """``eta / c`` as a function of ``(n, d, p)``, and the rule as text with ``{c}`` for ``c``."""

    factor: Callable[[int, int, int], float]
    text: str


LR_RULES = {
    "constant": StepSizeRule(lambda n, d, p: 1.0, "{c}"),
    "p": StepSizeRule(lambda n, d, p: p, "{c} p"),
    "p_sqrt_n_over_d": StepSizeRule(lambda n, d, p: p * math.sqrt(n / d), "{c} p sqrt(n/d)"),
    "sqrt_np": StepSizeRule(lambda n, d, p: math.sqrt(n * p), "{c} sqrt(n p)"),
    # the follow-up's rate on the summed gradient (docs/method.md "Beyond the paper: batch reuse")
    "n_over_d": StepSizeRule(lambda n, d, p: n / d, "{c} n/d"),
}


def lr_text(rule: str, scale: str) -> str:
    """``eta`` of ``rule`` as text, ``scale`` written as given: ``lr_text("p", "2")`` is ``2 p``."""
    return LR_RULES[rule].text.format(c=scale)
