"""What the student learned: detectability and size of its alignment with the teacher.

**Detectability (update SNR).** The update ``Delta = W_t - W_0: (p, d)`` is measured, not
the weights (the random init swamps small signals). With the teacher basis
``Q = W*^T: (d, r)``, the singular values ``s_1 >= .. >= s_r`` of ``Delta Q: (p, r)`` are
compared with the *noise along the teacher*: the same statistic computed on replicates of
the sampling noise of the update in teacher coordinates, ``N_b: (p, r)``, from a wild
bootstrap over groups of each step's batch (:class:`TeacherNoise`). By Courant–Fischer,
``s_k`` is the top singular value of ``Delta Q V_k`` with ``V_k: (r, r - k + 1)`` the right
singular vectors ``k..r``; its null level is ``null_k = mean_b ||N_b V_k||_2``, the noise
in the same ``r - k + 1`` teacher directions. ``s_k / null_k`` is the update SNR of the
k-th direction; a direction counts as *learned* when its SNR and those of all earlier
directions exceed the threshold (a sequential test).

The noise is measured along the teacher because it is not isotropic: for
``He3(z1)/sqrt(6)`` the per-sample gradient along ``z1`` has variance
``E[He3(z1)^2 z1^2] / E[He3(z1)^2] = 42/6 = 7`` times that along a direction orthogonal
to the teacher, so a level taken from random frames ``R: (d, r)`` orthogonal to the teacher
(``null_levels_frames``, still reported) is ``sqrt(7)`` times too low there.

**Size (alignment).** The SNR grows like ``sqrt(d)`` times the overlap, so it flags a
direction as soon as it grows from its ``O(d^-1/2)`` start. Whether a direction has
*arrived*, at an ``O(1)`` alignment, is measured on the weights: ``alignment`` holds the
eigenvalues of the overlap matrix ``O = (1/p) sum_i m_i m_i^T``, ``m_i = Q^T w_i / ||w_i||``
(descending; each ``≈ 1/d`` at init): the mean squared cosine of the neurons along the
principal teacher directions. The eigenvalues are rotation invariant: a direction learned
only in a fixed combination with another (every neuron's ``z3`` part proportional to its
``z1`` part) adds no eigenvalue. A direction counts as *aligned* when it is learned and its
eigenvalue exceeds its initial level ``1/d`` by at least ``metrics.align_threshold``
(:func:`aligned_dims`).
"""

from __future__ import annotations

import math
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


class TeacherNoise:
    """Wild-bootstrap replicates of the sampling noise of ``Delta Q``: ``(B, p, r)``.

    A step's update ``eta * gradient`` is a sum over its batch; :func:`giantstep.train.gradient`
    also returns it split over ``G`` contiguous groups of samples, in teacher coordinates:
    ``parts: (G, p, r)``. The centred parts ``c_g = parts_g - (n_g/n) sum_h parts_h`` carry the
    sampling noise and none of the signal; ``sqrt(G/(G-1)) sum_g eps_bg c_g`` with
    Rademacher signs ``eps: (B, G)`` has, over the signs, the covariance of the noise of the
    sum (``G - 1`` degrees of freedom). Steps on fresh batches have independent noises: each
    step draws its own signs. Steps that reuse a batch (``train.resample_every``) share its
    samples, so the caller draws the signs from the batch index: group ``g`` of a batch carries
    one sign for all the steps that use it, and its parts add up before the sign, as the
    per-sample sums of a single pass would. The propagation of a step's noise through later
    steps is not included; with a reused batch that feedback (the network fitting the batch's
    own fluctuations) is part of what reuse does, so the level is then a first-order, "same
    batch" level (docs/method.md "Beyond the paper: batch reuse").
    """

    def __init__(self, replicates: int, p: int, r: int, device: torch.device):
        self.replicates = torch.zeros(replicates, p, r, dtype=torch.float64, device=device)

    def add_step(self, parts: torch.Tensor, sizes: torch.Tensor, generator: torch.Generator) -> None:
        """Add one step's noise, from ``parts: (G, p, r)`` over groups of ``sizes: (G,)`` samples."""
        groups = parts.shape[0]
        if groups < 2:
            raise ValueError(f"the noise along the teacher needs >= 2 groups, got {groups}")
        weights = (sizes / sizes.sum()).to(parts)
        centred = (parts - weights[:, None, None] * parts.sum(0)).flatten(1)  # (G, p r)
        signs = torch.randint(0, 2, (len(self.replicates), groups), generator=generator) * 2 - 1
        noise = signs.to(centred) @ centred * math.sqrt(groups / (groups - 1))
        self.replicates += noise.view_as(self.replicates)


@dataclass(frozen=True)
class UpdateAlignment:
    """Per direction ``k = 1..r`` (each ``(r,)``): ``snr = singular_values / null_levels``,
    the singular values of ``Delta Q`` (descending), the null levels along the teacher and
    from random frames; ``directions: (r, r)``, row ``k`` the k-th right singular vector of
    ``Delta Q`` in teacher coordinates.
    """

    snr: torch.Tensor
    singular_values: torch.Tensor
    null_levels: torch.Tensor
    null_levels_frames: torch.Tensor
    directions: torch.Tensor

    def learned_dims(self, threshold: float) -> int:
        """The number of leading directions whose SNRs all exceed ``threshold``."""
        return _leading(self.snr > threshold)


def _leading(above: torch.Tensor) -> int:
    """The number of leading ``True`` in ``above``."""
    return (above.tolist() + [False]).index(False)


def _rank_matched_levels(noise: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``(r,)``: entry ``k`` is the mean over replicates of the top singular value of
    ``noise: (B, p, r)`` restricted to the columns ``k..r`` of ``directions: (r, r)``."""
    r = directions.shape[1]
    rotated = noise @ directions
    gram = rotated.transpose(-2, -1) @ rotated  # (B, r, r): top singular value^2 = top eigenvalue
    return torch.stack([torch.linalg.eigvalsh(gram[:, k:, k:])[:, -1].clamp_min(0).sqrt().mean()
                        for k in range(r)])


def update_alignment(delta: torch.Tensor, w_star: torch.Tensor, frames: torch.Tensor,
                     noise: TeacherNoise) -> UpdateAlignment:
    """Alignment of ``delta: (p, d)`` with ``w_star: (r, d)``, against the noise along the
    teacher ``noise`` and, for comparison, random ``frames: (count, d, r)``."""
    r = w_star.shape[0]
    delta = delta.to(torch.float64)
    _, singular_values, vh = torch.linalg.svd(delta @ w_star.T.to(torch.float64), full_matrices=False)
    null_levels = _rank_matched_levels(noise.replicates, vh.T)
    # a random frame's columns are exchangeable: its first r - k + 1 columns are the level of s_k
    frame_noise = delta @ frames.to(torch.float64)  # (count, p, r)
    first_columns_last = torch.eye(r, dtype=torch.float64, device=delta.device).flip(1)
    null_levels_frames = _rank_matched_levels(frame_noise, first_columns_last)
    if float(null_levels.min()) == 0.0:  # no update yet
        snr = torch.zeros(r, dtype=torch.float64)
    else:
        snr = (singular_values / null_levels).cpu()
    return UpdateAlignment(snr, singular_values.cpu(), null_levels.cpu(), null_levels_frames.cpu(), vh.cpu())


def alignment(W: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of :func:`overlap_matrix`, descending: ``(r,)`` (each ``≈ 1/d`` at init)."""
    return torch.linalg.eigvalsh(overlap_matrix(W, w_star)).flip(0)


def aligned_dims(alignment_values: torch.Tensor, threshold: float, learned: int, d: int) -> int:
    """The number of directions that are learned (``learned`` leading ones, detectable
    above the noise) *and* whose alignment (descending) exceeds its initial level ``1/d`` by
    at least ``threshold``: a margin that does not shrink with ``d``, so "aligned" means an
    ``O(1)`` mean squared cosine at every size.

    Both are needed: a huge step can align the weights with a teacher direction by noise
    alone (the ReLU control of the hard direction reaches mean cos^2 0.14 at d = 32 with
    no signal), and a detectable direction may still be far from an ``O(1)`` alignment.
    """
    return min(learned, _leading(alignment_values - 1 / d >= threshold))


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
