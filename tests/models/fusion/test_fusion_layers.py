import pytest
import torch

from torchgeo_composition.models.fusion.layers import Fuser, make_head


def test_fuser_modes() -> None:
    xs = [torch.rand(2, 4, 3, 3), torch.rand(2, 4, 3, 3)]
    assert torch.equal(Fuser("concat", [4, 4])(xs), torch.cat(xs, dim=1))
    mean = (xs[0] + xs[1]) / 2
    assert torch.allclose(Fuser("mean", [4, 4])(xs), mean)
    # weighted: learned weights start equal, so it starts as the mean
    assert torch.allclose(Fuser("weighted", [4, 4])(xs), mean)
    assert Fuser("attention", [4, 4])(xs).shape == (2, 4, 3, 3)
    assert Fuser("concat", [4, 2]).out_dim == 6


def test_fuser_and_head_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="needs equal feature dims"):
        Fuser("mean", [4, 2])
    with pytest.raises(ValueError, match="fusion='sum' is invalid"):
        Fuser("sum", [4])
    with pytest.raises(ValueError, match="head='svm'"):
        make_head(4, 2, "svm")  # type: ignore[arg-type]
    assert make_head(4, 3, "mlp", hidden_dim=5)(torch.rand(2, 4)).shape == (2, 3)
