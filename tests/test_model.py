"""model.py: every network has the size the literature gives, takes each data set's shape, and Ma et al.'s init."""
import argparse
import hashlib
import os
import math

import pytest
import torch

from noisylabels import config, registry
from noisylabels.errors import UserError
from noisylabels.model import ARCHS, FIX, load_pretrained, make_model

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
    with pytest.raises(ValueError, match="choose one of: resnet18, resnet34, resnet50, cnn4, cnn8, resnet50-imagenet"):
        make_model("vgg")


def test_the_registry_names_every_network():
    assert registry.ARCHS == tuple(ARCHS)
    assert config.parse_args(["--arch", "resnet50-imagenet"])["arch"] == "resnet50-imagenet"


# --- resnet50-imagenet: torchvision's resnet50, key for key, and load_pretrained --------------------------------

IMAGENET = "resnet50-imagenet"


@pytest.fixture(scope="module")
def imagenet():
    """The 1000-class network, built once here. Tests read it; none changes it."""
    return make_model(IMAGENET, 1000, (3, 224, 224))


def torchvision_keys():
    """(name, shape) of torchvision's resnet50 state_dict in its order, written out from torchvision's naming:
    conv1/bn1, then layer1..4 of [3, 4, 6, 3] Bottlenecks (conv1-bn1, conv2-bn2, conv3-bn3, then downsample.0
    (conv) and .1 (BN) in each stage's first block), then fc."""
    def bn(name, c):
        return [(f"{name}.{k}", (c,)) for k in ("weight", "bias", "running_mean", "running_var")] + \
               [(f"{name}.num_batches_tracked", ())]
    out, c_in = [("conv1.weight", (64, 3, 7, 7))] + bn("bn1", 64), 64
    for i, (w, n) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), 1):
        for j in range(n):
            p = f"layer{i}.{j}"
            out += [(f"{p}.conv1.weight", (w, c_in, 1, 1))] + bn(f"{p}.bn1", w)
            out += [(f"{p}.conv2.weight", (w, w, 3, 3))] + bn(f"{p}.bn2", w)
            out += [(f"{p}.conv3.weight", (4 * w, w, 1, 1))] + bn(f"{p}.bn3", 4 * w)
            if j == 0:
                out += [(f"{p}.downsample.0.weight", (4 * w, c_in, 1, 1))] + bn(f"{p}.downsample.1", 4 * w)
            c_in = 4 * w
    return out + [("fc.weight", (1000, 2048)), ("fc.bias", (1000,))]


def test_imagenet_resnet50_has_torchvisions_keys_shapes_and_parameter_count(imagenet):
    sd = imagenet.state_dict()
    # 320 entries: 53 convs (the stem, 3 in each of the 3 + 4 + 6 + 3 = 16 blocks, 4 downsample convs:
    # 1 + 48 + 4), one weight each = 53; 53 BatchNorms (one after each conv), 5 entries each (weight, bias,
    # running_mean, running_var, num_batches_tracked) = 265; fc weight and bias = 2. 53 + 265 + 2 = 320.
    assert len(sd) == 53 + 53 * 5 + 2 == 320
    assert sum(p.numel() for p in imagenet.parameters()) == 25_557_032  # torchvision's published num_params
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == torchvision_keys()
    # A few by hand, as torchvision prints them.
    assert sd["conv1.weight"].shape == (64, 3, 7, 7) and sd["fc.weight"].shape == (1000, 2048)
    assert sd["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert sd["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)  # the stride sits here: "ResNet v1.5"
    assert imagenet.layer2[0].conv2.stride == (2, 2) and imagenet.layer2[0].conv1.stride == (1, 1)
    assert sd["layer4.2.bn3.running_var"].shape == (2048,) and sd["layer3.5.bn1.num_batches_tracked"].shape == ()
    assert "layer1.1.downsample.0.weight" not in sd and len([k for k in sd if k.startswith("layer3.")]) == 6 * (3 + 3 * 5) + 6


def test_imagenet_resnet50_is_initialised_as_torchvisions(imagenet):
    # Convs Kaiming-normal (fan_out, ReLU): std sqrt(2 / (out * kh * kw)); every BN weight 1 and bias 0, the last
    # of each block too (zero_init_residual=False); fc as nn.Linear makes it, U(-1/sqrt(2048), 1/sqrt(2048)).
    for name in ("conv1", "layer3.0.conv2", "layer4.0.downsample.0"):
        w = imagenet.get_submodule(name).weight
        assert w.std().item() == pytest.approx(math.sqrt(2 / (w.shape[0] * w[0, 0].numel())), rel=0.05), name
    for m in imagenet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert bool((m.weight == 1).all()) and bool((m.bias == 0).all())
    bound = 1 / math.sqrt(2048)
    assert imagenet.fc.weight.abs().max() <= bound and imagenet.fc.weight.abs().max() > 0.95 * bound


def test_imagenet_resnet50_at_224_and_64_px_in_channels_last_and_bf16(imagenet):
    imagenet.eval()
    with torch.no_grad():
        assert imagenet(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    # As engine.py runs a network: channels_last parameters and inputs, under bf16 autocast.
    m = make_model(IMAGENET, 14, (3, 64, 64)).to(memory_format=torch.channels_last).eval()
    x = torch.randn(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    assert out.shape == (1, 14) and out.dtype == torch.bfloat16 and bool(out.isfinite().all())


@pytest.fixture(scope="module")
def weights_file(imagenet, tmp_path_factory):
    """A torchvision-style weights file: the 1000-class network's own state_dict with random values, saved."""
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else torch.tensor(1234)
          for k, v in imagenet.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "resnet50-random.pth"
    torch.save(sd, path)
    return str(path), sd


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_weights_file_loads_every_tensor(weights_file):
    path, sd = weights_file
    m = make_model(IMAGENET, 1000, (3, 224, 224))
    line = load_pretrained(m, path)
    assert "\n" not in line and sha256(path) in line and "320 of the model's 320 tensors" in line
    assert "25,557,032 parameters" in line and "fc:" not in line and "num_batches_tracked" not in line
    for k, v in m.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_with_14_classes_fc_is_left_fresh_and_the_rest_loaded(weights_file):
    path, sd = weights_file
    m = make_model(IMAGENET, 14, (3, 224, 224))
    fc = {k: v.clone() for k, v in m.fc.state_dict().items()}
    line = load_pretrained(m, path)
    assert "fc: 1000 -> 14 classes, initialised afresh" in line and sha256(path) in line
    assert "318 of the model's 320 tensors, 23,508,032 parameters" in line  # less fc's 2048 * 1000 + 1000
    for k, v in m.state_dict().items():
        assert torch.equal(v, fc[k[3:]] if k.startswith("fc.") else sd[k]), k


def small_file(tmp_path, imagenet, change=lambda sd: None, name="weights.pth"):
    """The 1000-class keys and shapes in a file of a few KB (each tensor a broadcast 0), after change(sd)."""
    sd = {k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in imagenet.state_dict().items()}
    change(sd)
    torch.save(sd, tmp_path / name)
    return str(tmp_path / name)


def refusal(model, path):
    before = model.conv1.weight.clone()
    with pytest.raises(UserError) as e:
        load_pretrained(model, path)
    assert "\n" not in str(e.value) and torch.equal(model.conv1.weight, before)  # one line, and nothing loaded
    return str(e.value)


def test_a_wrong_shape_is_refused_naming_the_key_and_both_shapes(imagenet, tmp_path):
    def change(sd):
        sd["layer3.0.conv2.weight"] = torch.zeros(256, 128, 3, 3)
    msg = refusal(make_model(IMAGENET, 14, (3, 64, 64)), small_file(tmp_path, imagenet, change))
    assert "layer3.0.conv2.weight has shape (256, 128, 3, 3) in the file but (256, 256, 3, 3) in the model" in msg
    assert msg.endswith(FIX)


def test_a_missing_or_unexpected_key_is_refused(imagenet, tmp_path):
    m = make_model(IMAGENET, 1000, (3, 64, 64))
    msg = refusal(m, small_file(tmp_path, imagenet, lambda sd: sd.pop("layer2.1.bn2.running_var"), "a.pth"))
    assert "layer2.1.bn2.running_var is missing from the file (shape (128,) in the model)" in msg and FIX in msg
    msg = refusal(m, small_file(tmp_path, imagenet, lambda sd: sd.update(extra=torch.zeros(3)), "b.pth"))
    assert "the file has extra (shape (3,)), which the model has not" in msg and FIX in msg


def test_what_is_not_a_state_dict_is_refused(imagenet, tmp_path):
    m = make_model(IMAGENET, 1000, (3, 64, 64))
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    assert "holds a list, not a state dict" in refusal(m, str(tmp_path / "list.pth"))
    torch.save({"model": {"conv1.weight": torch.zeros(1)}, "epoch": 3}, tmp_path / "ckpt.pth")
    assert "holds a dict of no tensors (keys model, epoch)" in refusal(m, str(tmp_path / "ckpt.pth"))
    torch.save({"conv1.weight": argparse.Namespace(x=1)}, tmp_path / "obj.pth")  # weights_only will not unpickle it
    assert "holds Python objects other than tensors (argparse.Namespace)" in refusal(m, str(tmp_path / "obj.pth"))
    (tmp_path / "text.pth").write_text("not a torch file")
    assert "not a file torch.save wrote" in refusal(m, str(tmp_path / "text.pth"))
    assert "no such file" in refusal(m, str(tmp_path / "absent.pth"))
    with pytest.raises(UserError, match="--arch resnet50-imagenet only"):
        load_pretrained(make_model("resnet50", 10), str(tmp_path / "list.pth"))


def test_a_file_of_torch_hub_name_whose_sha256_differs_is_damaged(imagenet, tmp_path):
    # torch.hub's names carry the sha256's first 8 hex digits (resnet50-0676ba61.pth).
    m = make_model(IMAGENET, 1000, (3, 64, 64))
    path = small_file(tmp_path, imagenet, name="resnet50-0676ba61.pth")
    assert "its sha256 begins" in refusal(m, path) and "download it again" in refusal(m, path)
    right = tmp_path / f"resnet50-{sha256(path)[:8]}.pth"
    (tmp_path / "resnet50-0676ba61.pth").rename(right)
    assert load_pretrained(m, str(right)).startswith(f"loaded {right} (sha256 {sha256(right)})")


def test_a_file_without_num_batches_tracked_loads(imagenet, tmp_path):
    # Files saved before PyTorch 0.4.1 (torchvision's first resnet50-19c8e357.pth) have no num_batches_tracked.
    def change(sd):
        for k in [k for k in sd if k.endswith("num_batches_tracked")]:
            del sd[k]
    m = make_model(IMAGENET, 1000, (3, 64, 64))
    line = load_pretrained(m, small_file(tmp_path, imagenet, change))
    assert "267 of the model's 320 tensors" in line and "num_batches_tracked not in the file" in line
    assert bool((m.conv1.weight == 0).all()) and m.bn1.num_batches_tracked.item() == 0


def test_pretrained_starts_a_run_s_network_from_the_file_and_is_checked_first(weights_file, tmp_path):
    from noisylabels import config, engine
    from noisylabels.errors import UserError
    from noisylabels.data import Spec
    path, sd = weights_file
    argv = ["--dataset", "npz", "--data-dir", str(tmp_path / "own.npz"), "--arch", "resnet50-imagenet",
            "--pretrained", path, "--device", "cpu", "--precision", "fp32", "--no-channels-last"]
    cfg = config.parse_args(argv)
    config.check_files(cfg)
    assert cfg.facts["pretrained_sha256"] == sha256(path) and cfg["pretrained"] == os.path.abspath(path)
    spec = Spec("npz", "own", 14, (3, 64, 64), (0.5,) * 3, (0.25,) * 3, True, ())
    step = engine.make_step(cfg, torch.device("cpu"), spec)
    got = step.model.state_dict()
    assert torch.equal(got["conv1.weight"], sd["conv1.weight"]) and torch.equal(got["layer4.2.bn3.bias"],
                                                                                sd["layer4.2.bn3.bias"])
    assert got["fc.weight"].shape == (14, 2048)  # afresh for 14 classes
    with pytest.raises(UserError, match=r"--pretrained loads ImageNet weights into --arch resnet50-imagenet only, "
                                        r"not cnn8; add --arch resnet50-imagenet"):
        config.check_files(config.parse_args([*argv, "--arch", "cnn8"]))
    with pytest.raises(UserError, match=r"--pretrained \S+nowhere.pth: no such file"):
        config.check_files(config.parse_args([*argv, "--pretrained", str(tmp_path / "nowhere.pth")]))
