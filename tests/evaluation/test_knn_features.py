"""k-NN on features against a brute-force reference."""

from __future__ import annotations

import pytest
import torch

from torchgeo_composition.evaluation import knn_neighbors, knn_predict


def _reference(train, targets, test, k, num_classes, vote, temperature=0.07):
    out = []
    for row in test:
        sims = [float(torch.dot(row, t) / (row.norm() * t.norm())) for t in train]
        order = sorted(range(len(sims)), key=lambda i: -sims[i])[:k]
        votes = [0.0] * num_classes
        top = sims[order[0]]
        for i in order:
            w = (
                1.0
                if vote == "majority"
                else float(torch.exp(torch.tensor((sims[i] - top) / temperature)))
            )
            votes[int(targets[i])] += w
        out.append(max(range(num_classes), key=lambda c: (votes[c], -c)))
    return torch.tensor(out)


@pytest.mark.parametrize("vote", ["majority", "weighted"])
@pytest.mark.parametrize("block_size", [1, 7, 1000])
def test_knn_matches_brute_force(vote: str, block_size: int) -> None:
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(60, 8, generator=gen)
    targets = torch.randint(0, 4, (60,), generator=gen)
    test = torch.randn(25, 8, generator=gen)
    result = knn_predict(
        train, targets, test, k=5, num_classes=4, vote=vote, block_size=block_size
    )
    assert torch.equal(result.prediction, _reference(train, targets, test, 5, 4, vote))
    assert torch.allclose(result.scores.sum(dim=1), torch.ones(25))


def test_neighbors_are_the_most_similar() -> None:
    gen = torch.Generator().manual_seed(1)
    train, test = torch.randn(40, 6, generator=gen), torch.randn(9, 6, generator=gen)
    sims, index = knn_neighbors(train, test, k=3, block_size=4)
    full = (
        torch.nn.functional.normalize(test, dim=1)
        @ torch.nn.functional.normalize(train, dim=1).T
    )
    expected = full.topk(3, dim=1)
    assert torch.equal(index, expected.indices)
    assert torch.allclose(sims, expected.values)


def test_k1_finds_the_sample_itself() -> None:
    train = torch.eye(5) + 0.01
    result = knn_predict(train, torch.arange(5), train * 3.0, k=1, num_classes=5)
    assert result.prediction.tolist() == [0, 1, 2, 3, 4]


def test_multilabel_neighbour_voting() -> None:
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]])
    result = knn_predict(
        train,
        labels,
        torch.tensor([[1.0, 0.05]]),
        k=2,
        task="multilabel",
        vote="majority",
    )
    assert result.scores.tolist() == [[1.0, 0.5, 0.0]]
    assert result.prediction.tolist() == [[1, 1, 0]]


def test_k_larger_than_training_set_is_refused() -> None:
    with pytest.raises(ValueError, match=r"k=11 is larger than the training set \(10"):
        knn_predict(
            torch.randn(10, 3),
            torch.zeros(10, dtype=torch.long),
            torch.randn(2, 3),
            k=11,
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k=0 is invalid"),
        ({"vote": "soft"}, "vote='soft' is invalid"),
        ({"task": "binary"}, "task='binary' is invalid"),
        ({"temperature": 0.0}, "temperature=0.0"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        knn_predict(
            torch.randn(10, 3),
            torch.zeros(10, dtype=torch.long),
            torch.randn(2, 3),
            **kwargs,
        )
