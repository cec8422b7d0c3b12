"""Linear centred kernel alignment (CKA) between two sets of features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

__all__ = ["cka_chance_level", "cka_matrix", "linear_cka"]


def linear_cka(x: Tensor | ArrayLike, y: Tensor | ArrayLike) -> float:
    """Linear CKA of two feature matrices over the same samples.

    ``CKA = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` with
    column-centred ``X_c``, ``Y_c`` (Kornblith et al., 2019). It is 1 for
    identical features (and for features equal up to an orthogonal transform
    and isotropic scaling) and near 0 for unrelated ones -- given many more
    samples than feature dimensions. With few samples it is biased towards 1:
    the centred features of N samples span at most N - 1 directions, so the CKA
    of 2 samples is 1 whatever the features, and unrelated features score about
    :func:`cka_chance_level`.

    Args:
        x: Features ``(N, D1)``.
        y: Features ``(N, D2)`` of the same N samples.

    Returns:
        CKA in ``[0, 1]``.

    Raises:
        ValueError: If the inputs are not 2-D with the same number of rows (at
            least 2), or one of them is constant (CKA undefined).
    """
    a = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
    b = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y)
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise ValueError(
            f"x and y must be (N, D) with the same N >= 2, got {tuple(a.shape)} "
            f"and {tuple(b.shape)}"
        )
    a = a - a.mean(dim=0, keepdim=True)
    b = b - b.mean(dim=0, keepdim=True)
    denom = torch.linalg.matrix_norm(a.T @ a) * torch.linalg.matrix_norm(b.T @ b)
    if denom == 0:
        raise ValueError("CKA is undefined for constant features (zero variance)")
    return float(torch.linalg.matrix_norm(b.T @ a) ** 2 / denom)


def cka_matrix(
    features: Sequence[Tensor | ArrayLike],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Linear CKA between every pair of feature matrices.

    Args:
        features: One ``(N, D_i)`` matrix per backbone, same samples.

    Returns:
        Symmetric ``(B, B)`` matrix with ones on the diagonal.
    """
    n = len(features)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = linear_cka(features[i], features[j])
    return out


def cka_chance_level(num_samples: int, width_x: int, width_y: int) -> float:
    """Linear CKA expected between unrelated features, from the sample size alone.

    For independent Gaussian features of widths ``D1`` and ``D2`` on ``N``
    samples, linear CKA is about ``1 / sqrt((1 + (N - 1) / D1) (1 + (N - 1) /
    D2))``: near 1 for a handful of samples (exactly 1 for ``N = 2``), 0.5 for
    ``N - 1 = D1 = D2``, and it falls only as ``N`` grows well past the widths. A measured CKA near this level says nothing
    about the backbones.

    Args:
        num_samples: Number of samples ``N`` (at least 2).
        width_x: Feature width ``D1``.
        width_y: Feature width ``D2``.

    Returns:
        The chance level, in ``(0, 1]``.

    Raises:
        ValueError: If ``num_samples`` < 2 or a width < 1.
    """
    if num_samples < 2 or width_x < 1 or width_y < 1:
        raise ValueError(
            f"num_samples must be >= 2 and widths >= 1; got num_samples="
            f"{num_samples}, widths {width_x} and {width_y}"
        )
    n = num_samples - 1
    return float(1.0 / ((1.0 + n / width_x) * (1.0 + n / width_y)) ** 0.5)
