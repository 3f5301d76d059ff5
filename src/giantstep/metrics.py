"""What the student learned: the update's alignment with the teacher subspace (PAPER.md §5).

The update ``Delta = W_t - W_0: (p, d)`` is measured, not the weights. With the
teacher basis ``Q = W*^T: (d, r)``, the singular values ``s_1 >= .. >= s_r`` of
``Delta Q: (p, r)`` are compared with null levels from random orthonormal frames
``R: (d, r)`` orthogonal to the teacher; ``s_k / null_k`` is the update SNR of the
k-th direction, and the right singular vectors of ``Delta Q`` give the learned
directions in teacher coordinates.

By Courant–Fischer, ``s_k`` is the top singular value of ``Delta Q`` restricted to the
``r - k + 1`` teacher directions left once the first ``k - 1`` are set aside. Its null
level ``null_k`` is therefore the mean top singular value of ``Delta R`` over
``r - k + 1`` random directions (the first ``r - k + 1`` columns of each frame); for
``k = 1`` this is PAPER.md's level, the top singular value of ``Delta R``. Comparing
every ``s_k`` with the ``r``-column level instead would hold later directions to a
bar set by more noise than they compete with. A direction counts as learned when its
SNR and those of all earlier directions exceed the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def null_frames(w_star: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random orthonormal frames ``(count, d, r)`` orthogonal to ``w_star: (r, d)``."""
    r, d = w_star.shape
    if d < 2 * r:
        raise ValueError(f"null frames need d >= 2r, got d={d}, r={r}")
    teacher = w_star.to(torch.float64).cpu()
    gaussian = torch.randn(count, d, r, generator=generator, dtype=torch.float64)
    gaussian = gaussian - teacher.T @ (teacher @ gaussian)
    frames, _ = torch.linalg.qr(gaussian)
    return frames.to(device=w_star.device, dtype=w_star.dtype)


@dataclass(frozen=True)
class UpdateAlignment:
    """SNRs ``(r,)``, singular values ``(r,)`` (descending), null levels ``(r,)``, directions ``(r, r)``.

    ``snr[k] = singular_values[k] / null_levels[k]``; ``directions[k]`` is the k-th right
    singular vector of ``Delta Q`` in teacher coordinates.
    """

    snr: torch.Tensor
    singular_values: torch.Tensor
    null_levels: torch.Tensor
    directions: torch.Tensor

    def learned_dims(self, threshold: float) -> int:
        """The number of leading directions whose SNRs all exceed ``threshold``."""
        above = (self.snr > threshold).tolist() + [False]
        return above.index(False)


def update_alignment(delta: torch.Tensor, w_star: torch.Tensor, frames: torch.Tensor) -> UpdateAlignment:
    """Alignment of ``delta: (p, d)`` with ``w_star: (r, d)`` against ``frames: (count, d, r)``."""
    r = w_star.shape[0]
    delta = delta.to(torch.float64)
    _, singular_values, vh = torch.linalg.svd(delta @ w_star.T.to(torch.float64), full_matrices=False)
    noise = delta @ frames.to(torch.float64)  # (count, p, r)
    null_levels = torch.stack([torch.linalg.matrix_norm(noise[..., : r - k], ord=2).mean() for k in range(r)])
    if float(null_levels.min()) == 0.0:  # no update yet
        snr = torch.zeros(r, dtype=torch.float64)
    else:
        snr = (singular_values / null_levels).cpu()
    return UpdateAlignment(snr, singular_values.cpu(), null_levels.cpu(), vh.cpu())


def teacher_projections(W: torch.Tensor, w_star: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per neuron: projection ``Q^T w_i: (p, r)`` and norm outside the teacher subspace ``(p,)``."""
    W = W.to(torch.float64)
    projection = W @ w_star.T.to(torch.float64)
    outside = (W.norm(dim=1) ** 2 - (projection**2).sum(dim=1)).clamp_min(0).sqrt()
    return projection, outside


def cosines(M: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """Cosines of the rows of ``M: (p, d)`` with each teacher direction: ``(p, r)``.

    Rows of zero norm (no update yet) give cosine 0.
    """
    M = M.to(torch.float64)
    norms = M.norm(dim=1, keepdim=True)
    return (M @ w_star.T.to(torch.float64)) / torch.where(norms > 0, norms, torch.ones_like(norms))


def overlap_matrix(W: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """``O = (1/p) sum_i m_i m_i^T`` with ``m_i = Q^T w_i / ||w_i||``: ``(r, r)`` (≈ I/d at init)."""
    m = cosines(W, w_star)
    return m.T @ m / W.shape[0]
