"""Fixed sine-cosine embeddings of positions and channel groups.

SatMAE uses the fixed encodings of MAE: for a 1-D position ``p`` and an even
dimension ``d``, the first ``d / 2`` entries are ``sin(p * w_k)`` and the last
``d / 2`` are ``cos(p * w_k)`` with ``w_k = 10000 ** (-k / (d / 2))``. The 2-D
encoding of a token at row ``r`` and column ``c`` is the 1-D encoding of ``c``
(first half) followed by that of ``r`` (second half); tokens are numbered row by
row. An optional leading all-zero row stands for the class token.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sincos_1d(dim: int, positions: Tensor) -> Tensor:
    """Return the 1-D sine-cosine encoding of positions.

    Args:
        dim: Output dimension, even.
        positions: Positions of any shape; they are flattened.

    Returns:
        A float32 tensor of shape ``(positions.numel(), dim)``.

    Raises:
        ValueError: If ``dim`` is not a positive even number.
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    half = dim // 2
    freqs = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / half)
    angles = positions.reshape(-1, 1).to(torch.float64) * freqs.reshape(1, -1)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sincos_2d(dim: int, grid_size: int, cls_token: bool = True) -> Tensor:
    """Return the 2-D sine-cosine encoding of a square token grid.

    Args:
        dim: Output dimension, divisible by 4.
        grid_size: Number of tokens along each side.
        cls_token: Prepend an all-zero row for the class token.

    Returns:
        A float32 tensor of shape ``(grid_size**2 + cls_token, dim)``.

    Raises:
        ValueError: If ``dim`` is not divisible by 4.
    """
    if dim <= 0 or dim % 4:
        raise ValueError(f"dim must be a positive multiple of 4, got {dim}")
    rows, cols = torch.meshgrid(
        torch.arange(grid_size), torch.arange(grid_size), indexing="ij"
    )
    emb = torch.cat([sincos_1d(dim // 2, cols), sincos_1d(dim // 2, rows)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim), emb], dim=0)
    return emb
