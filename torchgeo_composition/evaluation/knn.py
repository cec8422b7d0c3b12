"""k-nearest-neighbour classification on (frozen) features, by cosine similarity.

The similarity of every test feature to every training feature is computed in
blocks of test rows (one matrix multiply of L2-normalised features per block,
then :func:`torch.topk`), so memory stays at ``block_size x num_train`` floats
whatever the test set's size.

Classification votes: ``"majority"`` (each neighbour one vote) or
``"weighted"`` (each neighbour's vote is ``exp(similarity / temperature)``, as in
DINO's k-NN evaluation). Multilabel targets (``(N, L)`` 0/1) are voted label by
label: a label is predicted when the (weighted) share of neighbours carrying it
is at least one half; the share itself is the score.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

__all__ = ["KNNResult", "Vote", "check_k", "knn_neighbors", "knn_predict"]

Vote = Literal["majority", "weighted"]
_VOTES = ("majority", "weighted")


class KNNResult(NamedTuple):
    """Scores and predictions of :func:`knn_predict`."""

    # (N, C) class (or label) scores: vote shares, each row sums to 1 for
    # multiclass; per-label neighbour shares in [0, 1] for multilabel
    scores: Tensor
    # (N,) predicted class (multiclass) or (N, L) 0/1 labels (multilabel)
    prediction: Tensor


def check_k(k: int, num_train: int) -> int:
    """Validate ``k`` against the number of training samples.

    Args:
        k: Number of neighbours.
        num_train: Number of training samples.

    Returns:
        ``k``.

    Raises:
        ValueError: If ``k < 1`` or ``k > num_train``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} is invalid; give an integer >= 1")
    if k > num_train:
        raise ValueError(
            f"k={k} is larger than the training set ({num_train} samples); "
            f"choose k <= {num_train}"
        )
    return k


def _normalize(x: Tensor) -> Tensor:
    return torch.nn.functional.normalize(x.float(), dim=1)


@torch.no_grad()
def knn_neighbors(
    train: Tensor, test: Tensor, k: int, block_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Return the ``k`` most cosine-similar training rows of each test row.

    Args:
        train: Training features ``(M, D)``.
        test: Test features ``(N, D)``.
        k: Number of neighbours, ``1 <= k <= M``.
        block_size: Test rows per matrix multiply.

    Returns:
        Similarities ``(N, k)`` (descending) and training indices ``(N, k)``.

    Raises:
        ValueError: On ``k`` out of range, a bad ``block_size`` or feature
            shapes that disagree.
    """
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"features must be (M, D) and (N, D) with one D; got train "
            f"{tuple(train.shape)} and test {tuple(test.shape)}"
        )
    check_k(k, train.shape[0])
    if block_size < 1:
        raise ValueError(f"block_size={block_size!r} is invalid; give an integer >= 1")
    train_t = _normalize(train).T.contiguous()
    test_n = _normalize(test)
    sims = torch.empty(test.shape[0], k, dtype=torch.float32, device=test.device)
    index = torch.empty(test.shape[0], k, dtype=torch.long, device=test.device)
    for start in range(0, test.shape[0], block_size):
        block = test_n[start : start + block_size] @ train_t
        value, idx = torch.topk(block, k, dim=1)
        sims[start : start + block_size] = value
        index[start : start + block_size] = idx
    return sims, index


def _weights(sims: Tensor, vote: str, temperature: float) -> Tensor:
    if vote == "majority":
        return torch.ones_like(sims)
    return torch.exp((sims - sims[:, :1]) / temperature)  # shifted: no overflow


@torch.no_grad()
def knn_predict(
    train_features: Tensor,
    train_targets: Tensor,
    test_features: Tensor,
    k: int = 20,
    num_classes: int | None = None,
    task: Literal["multiclass", "multilabel"] = "multiclass",
    vote: Vote = "weighted",
    temperature: float = 0.07,
    block_size: int = 1024,
) -> KNNResult:
    """Classify test features by their ``k`` nearest training features.

    Args:
        train_features: ``(M, D)`` features of the training samples.
        train_targets: ``(M,)`` class indices (multiclass) or ``(M, L)`` 0/1
            labels (multilabel).
        test_features: ``(N, D)`` features to classify.
        k: Number of neighbours, ``1 <= k <= M``.
        num_classes: Number of classes (default: largest target + 1);
            ignored for multilabel (``L`` is the number of labels).
        task: ``"multiclass"`` or ``"multilabel"``.
        vote: ``"majority"`` or ``"weighted"``.
        temperature: Temperature of the weighted vote (> 0).
        block_size: Test rows per matrix multiply.

    Returns:
        The :class:`KNNResult`. Ties in a multiclass vote go to the lower class.

    Raises:
        ValueError: On an unknown ``task`` or ``vote``, ``k`` out of range,
            ``temperature <= 0`` or targets that do not match the features.
    """
    if task not in ("multiclass", "multilabel"):
        raise ValueError(
            f"task={task!r} is invalid; valid choices: ('multiclass', 'multilabel')"
        )
    if vote not in _VOTES:
        raise ValueError(f"vote={vote!r} is invalid; valid choices: {_VOTES}")
    if not temperature > 0:
        raise ValueError(f"temperature={temperature!r} is invalid; give a value > 0")
    expected_ndim = 1 if task == "multiclass" else 2
    if (
        train_targets.ndim != expected_ndim
        or train_targets.shape[0] != train_features.shape[0]
    ):
        raise ValueError(
            f"train_targets of shape {tuple(train_targets.shape)} do not match "
            f"{train_features.shape[0]} training features for task={task!r} "
            f"(expected {'(M,)' if expected_ndim == 1 else '(M, L)'})"
        )
    sims, index = knn_neighbors(train_features, test_features, k, block_size)
    weights = _weights(sims, vote, temperature)
    weights = weights / weights.sum(dim=1, keepdim=True)
    targets = train_targets.to(test_features.device)
    if task == "multilabel":
        labels = targets.float()[index]  # (N, k, L)
        scores = (weights.unsqueeze(-1) * labels).sum(dim=1)
        return KNNResult(scores, (scores >= 0.5).long())
    n_cls = int(targets.max()) + 1 if num_classes is None else int(num_classes)
    if int(targets.max()) >= n_cls or int(targets.min()) < 0:
        raise ValueError(
            f"train_targets hold classes outside [0, {n_cls}); check num_classes"
        )
    scores = torch.zeros(test_features.shape[0], n_cls, device=test_features.device)
    scores.scatter_add_(1, targets[index].long(), weights)
    return KNNResult(scores, scores.argmax(dim=1))
