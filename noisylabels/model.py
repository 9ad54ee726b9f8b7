"""The networks: CIFAR ResNet-18/34/50, the 4- and 8-layer CNNs of Ma et al. 2020, and the ImageNet ResNet-50.

Every network takes the data set's channels, image size and number of classes. The CIFAR ones are
initialised as Ma et al.'s released code does it: convolutions Kaiming-uniform (fan_in, ReLU),
linear layers Xavier-uniform, biases and BatchNorm as PyTorch makes them. The ImageNet ResNet-50
(`resnet50-imagenet`) is torchvision's `resnet50`, layer for layer and key for key, with torchvision's
init, so that torchvision's ImageNet weights file loads into it (load_pretrained).
"""
import os
import pickle
import re

import torch
import torch.nn as nn

from .errors import UserError


def conv_bn_relu(c_in, c_out):
    # No conv bias: the BatchNorm right after it has a shift of its own.
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
    return model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = width
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = shortcut(c_in, c_out, stride)

    def forward(self, x):
        return (self.body(x) + self.shortcut(x)).relu()


class Bottleneck(nn.Module):
    """1x1 down to `width`, 3x3 (carrying the stride), 1x1 up to 4 x width."""
    expansion = 4

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = shortcut(c_in, c_out, stride)

    def forward(self, x):
        return (self.body(x) + self.shortcut(x)).relu()


def shortcut(c_in, c_out, stride):
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class ResNet(nn.Module):
    """CIFAR variant: 3x3 stride-1 stem and no max-pool, so 32x32 inputs keep their detail."""

    def __init__(self, block, depths, num_classes=10, in_channels=3):
        super().__init__()
        layers, c = conv_bn_relu(in_channels, 64), 64
        for width, n, stride in zip((64, 128, 256, 512), depths, (1, 2, 2, 2)):
            for i in range(n):
                layers.append(block(c, width, stride if i == 0 else 1))
                c = width * block.expansion
        self.features = nn.Sequential(*layers)  # [B, C_in, 32, 32] -> [B, c, 4, 4]
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))  # global average pool: [B, c]


class CNN(nn.Module):
    """Ma et al. 2020's CNNs: blocks of conv-BN-ReLU then max-pool 2, then FC -> hidden -> BN -> ReLU -> FC."""

    def __init__(self, widths, per_block, hidden, num_classes=10, in_channels=3, size=32):
        super().__init__()
        layers, c = [], in_channels
        for w in widths:
            for _ in range(per_block):
                layers += conv_bn_relu(c, w)
                c = w
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.features = nn.Sequential(*layers)  # [B, C_in, H, W] -> [B, c, size, size]
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c * size * size, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


class ImageNetBottleneck(nn.Module):
    """torchvision's Bottleneck ("ResNet v1.5": the stride on the 3x3 conv), with its attribute names, so its keys."""
    expansion = 4

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ImageNetResNet(nn.Module):
    """torchvision's ResNet: 7x7 stride-2 stem, BN, ReLU, 3x3 stride-2 max-pool, four stages, global average
    pool, fc. For 224-px inputs ([B, 3, 224, 224] -> 7 x 7 before the pool); any size from 32 px up works
    (the pool is adaptive). Init as torchvision's (zero_init_residual=False): convs Kaiming-normal (fan_out,
    ReLU), BN weight 1 and bias 0, fc as PyTorch makes it. make_model leaves this init alone (own_init)."""
    own_init = True

    def __init__(self, depths=(3, 4, 6, 3), num_classes=1000, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (width, n, stride) in enumerate(zip((64, 128, 256, 512), depths, (1, 2, 2, 2)), 1):
            blocks = []
            for j in range(n):
                blocks.append(ImageNetBottleneck(c, width, stride if j == 0 else 1))
                c = width * ImageNetBottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # [B, 3, 224, 224] -> [B, 64, 56, 56]
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # -> [B, 2048, 7, 7]
        return self.fc(torch.flatten(self.avgpool(x), 1))  # [B, 2048] -> [B, num_classes]


ARCHS = {
    "resnet18": lambda C, ch, s: ResNet(BasicBlock, (2, 2, 2, 2), C, ch),
    "resnet34": lambda C, ch, s: ResNet(BasicBlock, (3, 4, 6, 3), C, ch),
    "resnet50": lambda C, ch, s: ResNet(Bottleneck, (3, 4, 6, 3), C, ch),
    # MNIST's: 2 x (conv 32, then 64), FC 128; on 3 x 32 x 32 images the short report's "simple 4-layer CNN".
    "cnn4": lambda C, ch, s: CNN((32, 64), 1, 128, C, ch, s),
    # CIFAR-10's: 3 x (2 convs of 64, 128, 196), FC 256.
    "cnn8": lambda C, ch, s: CNN((64, 128, 196), 2, 256, C, ch, s),
    # torchvision's resnet50, for 224-px images; load_pretrained loads its ImageNet weights into it.
    "resnet50-imagenet": lambda C, ch, s: ImageNetResNet((3, 4, 6, 3), C, ch),
}


# What each is, for model.py's list.
DESCRIPTION = {"resnet18": "ResNet-18, CIFAR-style (3 x 3 stem, no max-pool): the report's network",
               "resnet34": "ResNet-34, ye2023's CIFAR-100 network", "resnet50": "ResNet-50, ma2020's CIFAR-100 network",
               "cnn4": "4-layer CNN of Ma et al. 2020 (MNIST's)", "cnn8": "8-layer CNN of Ma et al. 2020 (CIFAR-10's)",
               "resnet50-imagenet": "ResNet-50, ImageNet-style (7 x 7 stem, max-pool) for 224 px: torchvision's"}


def make_model(arch, num_classes=10, in_shape=(3, 32, 32)):
    """The network `arch` (one of ARCHS) for images of in_shape (channels, height, width; square) and num_classes
    classes, initialised as Ma et al.'s code does (resnet50-imagenet: as torchvision does). Its output is the
    logits [B, num_classes]."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}'; choose one of: {', '.join(ARCHS)}")
    if len(in_shape) != 3 or in_shape[1] != in_shape[2] or min(in_shape) < 1:
        raise ValueError(f"in_shape must be (channels, size, size) of square images, got {tuple(in_shape)}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be a whole number >= 2, got {num_classes}")
    model = ARCHS[arch](num_classes, int(in_shape[0]), int(in_shape[1]))
    return model if getattr(model, "own_init", False) else init_weights(model)


FIX = "give a torchvision resnet50 ImageNet weights file"


def _shape(t):
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else f"a {type(t).__name__}, not a tensor,"


def load_pretrained(model, path):
    """Load torchvision's ImageNet weights file for resnet50 (a state dict saved with torch.save, e.g.
    resnet50-0676ba61.pth) into `model`, a resnet50-imagenet. Every key must be the model's, with the model's
    shape; only fc may have another number of classes, and is then left as the model has it (freshly
    initialised). A missing num_batches_tracked (files saved before PyTorch 0.4.1 have none) stays the model's.
    Returns one line: the file, its sha256 and what was loaded. Anything else is a UserError of one line,
    and then nothing has been loaded."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile'd model: its eager module
    if not isinstance(model, ImageNetResNet):
        raise UserError(f"pretrained weights load into --arch resnet50-imagenet only, not a {type(model).__name__}")
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file; {FIX} (see docs/runs.md, Models)")
    from .fetch import checksum

    digest = checksum(path, "sha256")
    # torch.hub names a file by its sha256's first 8 hex digits (resnet50-0676ba61.pth): a damaged download differs.
    named = re.fullmatch(r"resnet50-([0-9a-f]{8,})\.pth", os.path.basename(path))
    if named and not digest.startswith(named[1]):
        raise UserError(f"{path}: its sha256 begins {digest[:len(named[1])]}, not {named[1]} as its name says: "
                        "the file is damaged or incomplete; download it again")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only's refusal, a truncated file, not a torch file at all
        glob = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if isinstance(e, pickle.UnpicklingError) and glob:
            # weights_only's own advice (weights_only=False: run the file's code) is not ours to give.
            raise UserError(f"{path}: holds Python objects other than tensors ({glob[1]}), which are not loaded "
                            f"(weights_only); {FIX}") from None
        why = re.split(r"(?<=\.) |\n", str(e).strip())[0][:120]
        raise UserError(f"{path}: not a file torch.save wrote, or a damaged one ({type(e).__name__}: {why}); "
                        f"{FIX}") from None
    if not isinstance(sd, dict) or not sd or not all(isinstance(k, str) for k in sd):
        raise UserError(f"{path}: holds a {type(sd).__name__}, not a state dict of tensors by name; {FIX}")
    if not any(isinstance(v, torch.Tensor) for v in sd.values()):  # a training checkpoint: {"model": ..., "epoch": ...}
        raise UserError(f"{path}: holds a dict of no tensors (keys {', '.join(list(sd)[:4])}), not a state dict; "
                        f"{FIX}")
    own = model.state_dict()
    fc_classes = None
    for key, want in own.items():
        got = sd.get(key)
        if key not in sd:
            if key.endswith(".num_batches_tracked"):
                continue
            raise UserError(f"{path}: {key} is missing from the file (shape {tuple(want.shape)} in the model); {FIX}")
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            continue
        if (key in ("fc.weight", "fc.bias") and isinstance(got, torch.Tensor) and got.dim() == want.dim()
                and got.shape[1:] == want.shape[1:]):
            fc_classes = got.shape[0]  # another number of classes: fc stays as the model has it
            continue
        raise UserError(f"{path}: {key} has shape {_shape(got)} in the file but {tuple(want.shape)} in the model; "
                        f"{FIX}")
    extra = [k for k in sd if k not in own]
    if extra:
        raise UserError(f"{path}: the file has {extra[0]} (shape {_shape(sd[extra[0]])}), which the model has not "
                        f"({len(extra)} such key{'s' * (len(extra) > 1)}); {FIX}")
    if fc_classes is not None and sd["fc.weight"].shape[0] != sd["fc.bias"].shape[0]:
        raise UserError(f"{path}: fc.weight has {sd['fc.weight'].shape[0]} classes but fc.bias "
                        f"{sd['fc.bias'].shape[0]}; {FIX}")
    take = {k: v for k, v in sd.items() if not (fc_classes is not None and k.startswith("fc."))}
    with torch.no_grad():
        missing, unexpected = model.load_state_dict(take, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") or k.startswith("fc.") for k in missing)
    params = dict(model.named_parameters())
    n = sum(v.numel() for k, v in take.items() if k in params)
    line = f"loaded {path} (sha256 {digest}): {len(take)} of the model's {len(own)} tensors, {n:,} parameters"
    if fc_classes is not None:
        line += f"; fc: {fc_classes} -> {model.fc.out_features} classes, initialised afresh"
    if any(k not in sd for k in own):  # BatchNorm fills a missing num_batches_tracked in itself: not in `missing`
        line += "; num_batches_tracked not in the file (saved before PyTorch 0.4.1), kept as the model's"
    return line
