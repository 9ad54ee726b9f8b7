"""model.py: every network has the size the literature gives, takes each data set's shape, and Ma et al.'s init."""
import hashlib
import math

import pytest
import torch

from noisylabels.model import ARCHS, make_model

# cnn8 on CIFAR-10: convs 3*64*9 + 64*64*9 + 64*128*9 + 128*128*9 + 128*196*9 + 196*196*9 = 831,312,
# BN2d 2*(2*64 + 2*128 + 2*196) = 1,552, FC 3136*256 = 802,816, BN1d 512, FC 256*10+10 = 2,570.
CNN8 = 831_312 + 1_552 + 802_816 + 512 + 2_570
# cnn4 on MNIST: convs 1*32*9 + 32*64*9 = 18,720, BN2d 2*(32 + 64) = 192, FC 64*7*7*128 = 401,408,
# BN1d 256, FC 128*10+10 = 1,290.
CNN4_MNIST = 18_720 + 192 + 401_408 + 256 + 1_290


@pytest.mark.parametrize("arch, shape, classes, n_params", [
    # The CIFAR ResNets of the literature (e.g. the APL code's): 11.17M, 21.28M and 23.52M at 10 classes.
    ("resnet18", (3, 32, 32), 10, 11_173_962), ("resnet34", (3, 32, 32), 10, 21_282_122),
    ("resnet50", (3, 32, 32), 10, 23_520_842),
    # 100 classes add (512 + 1) * 90 to the ResNet-34 head and (2048 + 1) * 90 to the ResNet-50's.
    ("resnet34", (3, 32, 32), 100, 21_282_122 + 513 * 90), ("resnet50", (3, 32, 32), 100, 23_520_842 + 2049 * 90),
    ("cnn8", (3, 32, 32), 10, CNN8), ("cnn4", (1, 28, 28), 10, CNN4_MNIST),
    # On CIFAR the 4-layer CNN's first conv has 3 channels and its FC sees 64*8*8 inputs.
    ("cnn4", (3, 32, 32), 10, CNN4_MNIST + 2 * 32 * 9 + (64 * 64 - 64 * 49) * 128),
])
def test_parameter_count_and_output_shape(arch, shape, classes, n_params):
    m = make_model(arch, classes, shape).eval()
    assert sum(p.numel() for p in m.parameters()) == n_params
    assert m(torch.zeros(2, *shape)).shape == (2, classes)


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("shape, classes", [((3, 32, 32), 100), ((1, 28, 28), 10)])
def test_every_network_takes_every_data_set(arch, shape, classes):
    m = make_model(arch, classes, shape).eval()
    assert m(torch.zeros(2, *shape)).shape == (2, classes)


@pytest.mark.parametrize("arch", ["cnn8", "resnet18"])
def test_initialised_as_ma_et_al(arch):
    # Kaiming-uniform (fan_in, ReLU): U(-b, b) with b = sqrt(6 / fan_in), so std b / sqrt(3) = sqrt(2 / fan_in).
    # Xavier-uniform: b = sqrt(6 / (fan_in + fan_out)). PyTorch's default would give b = 1 / sqrt(fan_in).
    torch.manual_seed(0)
    m = make_model(arch)
    convs = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d) and c.weight.numel() > 10_000]
    linears = [c for c in m.modules() if isinstance(c, torch.nn.Linear)]
    for c in convs:
        fan_in = c.weight[0].numel()
        assert c.weight.abs().max() <= math.sqrt(6 / fan_in)
        assert c.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    for c in linears:
        out, fan_in = c.weight.shape
        assert c.weight.abs().max() <= math.sqrt(6 / (fan_in + out))
        assert c.weight.abs().max() > 0.95 * math.sqrt(6 / (fan_in + out))  # not a narrower default


@pytest.mark.parametrize("arch, n_tensors, digest", [("resnet18", 122, "6b6d744fedac52aa"),
                                                     ("cnn8", 44, "52e843c39fa9c72d")])
def test_old_checkpoints_still_fit(arch, n_tensors, digest):
    # Every tensor name and shape of the networks as they were before --dataset (commit 652fd92): the
    # sha256 of their sorted "name [shape]" lines, computed from that commit's model.py. So the
    # best.pt and last.pt files of earlier runs load into today's networks, strictly.
    sd = make_model(arch).state_dict()
    text = "\n".join(f"{k} {list(v.shape)}" for k, v in sorted(sd.items()))
    assert len(sd) == n_tensors and hashlib.sha256(text.encode()).hexdigest()[:16] == digest


def test_unknown_arch_is_a_value_error():
    with pytest.raises(ValueError, match="choose one of: resnet18, resnet34, resnet50, cnn4, cnn8"):
        make_model("vgg")
