"""Seeded Gaussian inputs ``z ~ N(0, I_d)`` generated in fixed-size blocks.

Row ``i`` of the sample set ``(seed, purpose, step)`` always lies in block
``i // BLOCK`` and is drawn from a generator seeded by
``(seed, purpose, step, block)``. A chunk is a whole number of blocks (drawn in
place, side by side on torch's CPU threads), so the samples do not depend on the
chunk size or on the number of threads, and they are drawn on the CPU in
float32 before moving to the compute device, so they do not depend on the
device or the dtype either.

Several seeds can share one stream of chunks ``z: (S, m, d)``, seed ``s`` in row ``s``: each
seed's rows are its own samples whatever the other seeds are, and the ``S m`` rows of a chunk
stay within the chunk size, so that the seeds of a cell run as one tensor program in the memory
of one run (:func:`giantstep.run.experiments`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

BLOCK = 1024
PURPOSES = {"teacher": 0, "student": 1, "train": 2, "readout": 3, "test": 4, "null": 5}


def generator(seed: int, purpose: str, step: int = 0, block: int = 0) -> torch.Generator:
    """A CPU generator seeded by the tuple ``(seed, purpose, step, block)``."""
    entropy = [seed, PURPOSES[purpose], step, block]
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)


def gaussian_chunks(
    n: int,
    d: int,
    *,
    seeds: tuple[int, ...],
    purpose: str,
    step: int,
    chunk_size: int,
    device: torch.device,
    dtype: torch.dtype,
) -> Iterator[torch.Tensor]:
    """Yield the ``n`` rows of the sample set of each seed as chunks ``z: (S, m, d)``,
    ``S = len(seeds)``, ``S m <= chunk_size``.

    ``chunk_size // S`` is rounded down to a multiple of :data:`BLOCK` (at least one block).
    """
    blocks_per_chunk = max(1, chunk_size // len(seeds) // BLOCK)
    n_blocks = -(-n // BLOCK)
    for first in range(0, n_blocks, blocks_per_chunk):
        blocks = range(first, min(first + blocks_per_chunk, n_blocks))
        z = torch.empty(len(seeds), len(blocks) * BLOCK, d)
        draws = [(row, index, seed, block) for row, seed in enumerate(seeds)
                 for index, block in enumerate(blocks)]

        def draw(row: int, index: int, seed: int, block: int, z=z) -> None:
            torch.randn(BLOCK, d, generator=generator(seed, purpose, step, block),
                        out=z[row, index * BLOCK:(index + 1) * BLOCK])

        if torch.get_num_threads() > 1 and len(draws) > 1:
            list(_pool(torch.get_num_threads()).map(draw, *zip(*draws)))
        else:
            for arguments in draws:
                draw(*arguments)
        rows = min(len(blocks) * BLOCK, n - first * BLOCK)
        yield z[:, :rows].to(device=device, dtype=dtype)


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """Threads that draw the blocks of a chunk side by side (``torch.randn`` releases the GIL)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="giantstep-randn")


class Sampler:
    """The run's source of inputs: seed, chunk size, device and dtype in one place.

    ``seed`` is one seed (chunks ``z: (m, d)``) or a tuple of ``S`` seeds (chunks
    ``z: (S, m, d)``, a seed axis first, sharing the chunk size).
    """

    def __init__(self, *, seed: int | tuple[int, ...], chunk_size: int, device: torch.device,
                 dtype: torch.dtype):
        self.seed, self.chunk_size, self.device, self.dtype = seed, chunk_size, device, dtype

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of the chunks' rows (one, without a seed axis)."""
        return self.seed if isinstance(self.seed, tuple) else (self.seed,)

    def chunks(self, n: int, d: int, purpose: str, step: int = 0,
               progress: str | None = None) -> Iterator[torch.Tensor]:
        """Chunks ``z: (m, d)``, or ``(S, m, d)`` with several seeds, of the ``n`` samples of
        ``(purpose, step)``.

        With ``progress``, a progress bar of that name is shown on a terminal when the
        samples take several chunks.
        """
        chunks = gaussian_chunks(
            n,
            d,
            seeds=self.seeds,
            purpose=purpose,
            step=step,
            chunk_size=self.chunk_size,
            device=self.device,
            dtype=self.dtype,
        )
        if not isinstance(self.seed, tuple):
            chunks = (z[0] for z in chunks)
        total = -(-n // (max(1, self.chunk_size // len(self.seeds) // BLOCK) * BLOCK))
        if progress is None or total < 4:
            return chunks
        return iter(tqdm(chunks, total=total, desc=progress, leave=False, disable=None))
