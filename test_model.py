"""model.py: the two architectures have the sizes and output shapes the spec gives."""
import pytest
import torch

from model import make_model


@pytest.mark.parametrize("arch, n_params", [
    # resnet18: 11,173,962 as in the CIFAR ResNet-18 literature ("about 11.2M").
    # cnn8: convs 3*64*9 + 64*64*9 + 64*128*9 + 128*128*9 + 128*196*9 + 196*196*9 = 831,312,
    # BN2d 2*(2*64 + 2*128 + 2*196) = 1,552, FC 3136*256 = 802,816, BN1d 512, FC 256*10+10 = 2,570.
    ("resnet18", 11_173_962), ("cnn8", 831_312 + 1_552 + 802_816 + 512 + 2_570),
])
def test_parameter_count_and_output_shape(arch, n_params):
    m = make_model(arch).eval()
    assert sum(p.numel() for p in m.parameters()) == n_params
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_arch_is_a_value_error():
    with pytest.raises(ValueError, match="choose one of: resnet18, cnn8"):
        make_model("vgg")
