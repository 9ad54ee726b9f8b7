"""The networks: CIFAR ResNet-18/34/50 and the 4- and 8-layer CNNs of Ma et al. 2020.

Every network takes the data set's channels, image size and number of classes, and is
initialised as Ma et al.'s released code does it: convolutions Kaiming-uniform (fan_in, ReLU),
linear layers Xavier-uniform, biases and BatchNorm as PyTorch makes them.
"""
import torch.nn as nn


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


ARCHS = {
    "resnet18": lambda C, ch, s: ResNet(BasicBlock, (2, 2, 2, 2), C, ch),
    "resnet34": lambda C, ch, s: ResNet(BasicBlock, (3, 4, 6, 3), C, ch),
    "resnet50": lambda C, ch, s: ResNet(Bottleneck, (3, 4, 6, 3), C, ch),
    # MNIST's: 2 x (conv 32, then 64), FC 128; on 3 x 32 x 32 images the short report's "simple 4-layer CNN".
    "cnn4": lambda C, ch, s: CNN((32, 64), 1, 128, C, ch, s),
    # CIFAR-10's: 3 x (2 convs of 64, 128, 196), FC 256.
    "cnn8": lambda C, ch, s: CNN((64, 128, 196), 2, 256, C, ch, s),
}


# What each is, for model.py's list.
DESCRIPTION = {"resnet18": "ResNet-18, CIFAR-style (3 x 3 stem, no max-pool): the report's network",
               "resnet34": "ResNet-34, ye2023's CIFAR-100 network", "resnet50": "ResNet-50, ma2020's CIFAR-100 network",
               "cnn4": "4-layer CNN of Ma et al. 2020 (MNIST's)", "cnn8": "8-layer CNN of Ma et al. 2020 (CIFAR-10's)"}


def make_model(arch, num_classes=10, in_shape=(3, 32, 32)):
    """The network `arch` (one of ARCHS) for images of in_shape (channels, height, width; square) and num_classes
    classes, initialised as Ma et al.'s code does. Its output is the logits [B, num_classes]."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}'; choose one of: {', '.join(ARCHS)}")
    if len(in_shape) != 3 or in_shape[1] != in_shape[2] or min(in_shape) < 1:
        raise ValueError(f"in_shape must be (channels, size, size) of square images, got {tuple(in_shape)}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be a whole number >= 2, got {num_classes}")
    return init_weights(ARCHS[arch](num_classes, int(in_shape[0]), int(in_shape[1])))
