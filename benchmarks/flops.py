"""The engine's matmul flop count, :mod:`giantstep.flops` (moved into the package so that the
cost estimate of a reproduction can import it); re-exported here for the benchmarks."""

from giantstep.flops import ENGINE_GRAM_BLOCKS, ENGINE_SHIFT_ONCE, KINDS, engine_flops, gram_flops, shapes

__all__ = ["ENGINE_GRAM_BLOCKS", "ENGINE_SHIFT_ONCE", "KINDS", "engine_flops", "gram_flops", "shapes"]
