"""The two networks: the CIFAR ResNet-18 of the report and the 8-layer CNN of Ma et al. 2020."""
import torch.nn as nn


def conv_bn_relu(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return (self.body(x) + self.shortcut(x)).relu()


class ResNet18(nn.Module):
    """CIFAR variant: 3x3 stride-1 stem and no max-pool, so 32x32 inputs keep their detail."""

    def __init__(self, num_classes=10):
        super().__init__()
        layers, c = conv_bn_relu(3, 64), 64
        for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(c, c_out, stride), BasicBlock(c_out, c_out, 1)]
            c = c_out
        self.features = nn.Sequential(*layers)  # [B, 3, 32, 32] -> [B, 512, 4, 4]
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))  # global average pool: [B, 512]


class CNN8(nn.Module):
    """Ma et al. 2020's CIFAR-10 CNN: 3 blocks of 2x(conv-BN-ReLU) + max-pool, then FC 3136->256->C."""

    def __init__(self, num_classes=10):
        super().__init__()
        layers, c = [], 3
        for c_out in (64, 128, 196):
            layers += conv_bn_relu(c, c_out) + conv_bn_relu(c_out, c_out) + [nn.MaxPool2d(2)]
            c = c_out
        self.features = nn.Sequential(*layers)  # [B, 3, 32, 32] -> [B, 196, 4, 4]
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(196 * 4 * 4, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


ARCHS = {"resnet18": ResNet18, "cnn8": CNN8}


def make_model(arch, num_classes=10):
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}'; choose one of: {', '.join(ARCHS)}")
    return ARCHS[arch](num_classes)
