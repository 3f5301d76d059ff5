"""Multi-index targets ``y = g*(W* z)`` and a safe expression language for ``g*``.

A target is written as an expression over the teacher coordinates ``z1..zr``
(``z_j = <w*_j, z>``), e.g. ``"z1 + z1*z2"`` or ``"He3(z1)/sqrt(6)"``. The
expression is parsed with :mod:`ast` into a small tree of whitelisted nodes and
interpreted by :class:`Target`; it is never handed to ``eval``.

Grammar: numbers, ``z1..z9``, ``+ - * /``, ``^`` or ``**`` (power), unary
minus, parentheses, and the one-argument functions of :data:`FUNCTIONS`
(probabilists' Hermite polynomials ``He0..He9``, ``tanh``, ``erf``, ``relu``,
``sqrt``, ``exp``, ``abs``). The index ``r`` of a target is its highest ``zK``.
Constant subexpressions (``sqrt(6)``, ``1e39/1e38``) are folded in float64 whatever the
run's dtype, so that they mean the same number in every run; an expression nests at most
:data:`MAX_DEPTH` operations deep (``z1+z1+...`` with 2000 terms is 2000 deep: group the
terms with parentheses).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from giantstep.errors import ConfigError
from giantstep.hermite_polys import hermite_he

_MAX_R = 9
MAX_DEPTH = 200  # nesting of operations; the interpreter recurses once per level
SHOWN_CHARS = 60  # an expression is cut to this length in error messages


def _hermite_fn(k: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: hermite_he(k, x)


FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "erf": torch.erf,
    "relu": torch.relu,
    "sqrt": torch.sqrt,
    "exp": torch.exp,
    "abs": torch.abs,
    **{f"He{k}": _hermite_fn(k) for k in range(10)},
}

_VARIABLE = re.compile(r"z([1-9])")

_BINARY = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}


def shown(expr: str) -> str:
    """``expr`` for a one-line message: cut after :data:`SHOWN_CHARS` characters."""
    return expr if len(expr) <= SHOWN_CHARS else expr[:SHOWN_CHARS] + "..."


def _depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests, counted without recursion (a long sum is a deep tree)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _constant(value: int | float, expr: str) -> float:
    """A number of the expression as a float64; refuse one that is not finite there."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"the number {shown(str(value))} in target.expr '{shown(expr)}' "
                          "is not finite in float64: use a smaller number")
    return number


def _fold(function: Callable[..., torch.Tensor], *values: float) -> float:
    """``function`` of constants, computed in float64 whatever the run's dtype."""
    return float(function(*(torch.tensor(value, dtype=torch.float64) for value in values)))


def _check(node: ast.AST, expr: str) -> int:
    """Validate ``node`` against the whitelist; return the highest variable index."""
    if isinstance(node, ast.Expression):
        return _check(node.body, expr)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return max(_check(node.left, expr), _check(node.right, expr))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _check(node.operand, expr)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        _constant(node.value, expr)
        return 0
    if isinstance(node, ast.Name):
        match = _VARIABLE.fullmatch(node.id)
        if match is None:
            raise ConfigError(f"unknown symbol '{node.id}' in target.expr '{shown(expr)}' (use z1..z9)")
        return int(match.group(1))
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            function = name or ast.unparse(node.func)
            raise ConfigError(
                f"unknown function '{shown(function)}' in target.expr '{shown(expr)}' "
                f"(known: {', '.join(sorted(FUNCTIONS))})"
            )
        if len(node.args) != 1 or node.keywords:
            raise ConfigError(f"function '{name}' takes one argument in target.expr '{shown(expr)}'")
        return _check(node.args[0], expr)
    raise ConfigError(f"unsupported syntax '{shown(ast.unparse(node))}' in target.expr '{shown(expr)}'")


def _interpret(node: ast.AST, z: torch.Tensor) -> torch.Tensor | float:
    if isinstance(node, ast.Expression):
        return _interpret(node.body, z)
    if isinstance(node, ast.BinOp):
        left, right = _interpret(node.left, z), _interpret(node.right, z)
        if not isinstance(left, torch.Tensor) and not isinstance(right, torch.Tensor):
            return _fold(_BINARY[type(node.op)], left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _interpret(node.operand, z)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return z[..., int(node.id[1:]) - 1]
    assert isinstance(node, ast.Call)
    arg = _interpret(node.args[0], z)
    if not isinstance(arg, torch.Tensor):
        return _fold(FUNCTIONS[node.func.id], arg)
    return FUNCTIONS[node.func.id](arg)


@dataclass(frozen=True)
class Target:
    """A link function ``g*: R^r -> R`` parsed from an expression.

    ``target(z)`` takes teacher coordinates ``z: (..., r)`` and returns ``(...)``.
    """

    name: str
    expr: str
    r: int
    _tree: ast.Expression = field(compare=False)  # parsed from expr: equal targets share expr

    @classmethod
    def parse(cls, expr: str, name: str = "custom") -> Target:
        """Parse ``expr``; raise :class:`ConfigError` with one line on any problem."""
        if not isinstance(expr, str) or not expr.strip():
            raise ConfigError("target.expr is empty: give an expression such as 'z1 + z1*z2'")
        try:
            # ``^`` is power, as in the paper; Python would read it as xor.
            tree = ast.parse(expr.strip().replace("^", "**"), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"syntax error in target.expr '{shown(expr)}' at column {exc.offset}") from None
        except (RecursionError, MemoryError):  # Python's parser gives up on deep nesting
            tree = None
        if tree is None or _depth(tree) > MAX_DEPTH:
            raise ConfigError(f"target.expr '{shown(expr)}' nests more than {MAX_DEPTH} operations deep: "
                              "group long sums with parentheses, e.g. (a+b+c)+(d+e+f)")
        r = _check(tree, expr)
        if r == 0:
            raise ConfigError(f"target.expr '{shown(expr)}' uses no variable z1..z9")
        return cls(name=name, expr=expr, r=r, _tree=tree)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.r:
            raise ValueError(f"target {self.name} expects r={self.r} coordinates, got {z.shape[-1]}")
        out = _interpret(self._tree, z)
        if not isinstance(out, torch.Tensor):
            out = torch.full(z.shape[:-1], out, dtype=z.dtype, device=z.device)
        return out


def teacher_directions(d: int, r: int, generator: torch.Generator) -> torch.Tensor:
    """Orthonormal teacher directions ``W*: (r, d)`` (rows ``w*_j``), Haar-random.

    Drawn in float64 on the CPU from ``generator`` so that they do not depend on
    the compute device or dtype.
    """
    check_r(d, r)
    gaussian = torch.randn(d, r, generator=generator, dtype=torch.float64)
    q, upper = torch.linalg.qr(gaussian)
    return (q * torch.sign(torch.diagonal(upper))).T.contiguous()


@dataclass(frozen=True)
class Teacher:
    """The teacher ``y = g*(W* z)``: a target and its directions ``w_star: (r, d)`` (or
    ``(S, r, d)``, a seed axis first)."""

    target: Target
    w_star: torch.Tensor

    def coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """The teacher coordinates ``W* z``, ``(..., m, r)``, of inputs ``z: (..., m, d)``; with a
        seed axis first, ``w_star: (S, r, d)`` holds each seed's directions."""
        return z @ self.w_star.mT

    def labels(self, z: torch.Tensor) -> torch.Tensor:
        """Clean labels ``g*(W* z)``, ``(..., m)``, for inputs ``z: (..., m, d)``."""
        return self.target(self.coordinates(z))


def check_r(d: int, r: int) -> None:
    """Raise the one-line error for a target with more coordinates than ``d``."""
    if r > d:
        raise ConfigError(f"the target uses z{r} but d={d}: need r <= d")


