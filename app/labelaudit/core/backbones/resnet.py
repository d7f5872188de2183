"""ResNet-18-style residual nets, plain or with squeeze-and-excitation, sized for audit work."""

from __future__ import annotations

from torch import nn

from labelaudit.core.backbones.blocks import BasicBlock
from labelaudit.core.backbones.image_model import ImageBackbone


class ResNet(nn.Module):
    """Four stages of two basic blocks (the ResNet-18 layout) at widths w, 2w, 4w, 8w.

    CIFAR-style stem (one 3x3 conv, no max-pool) so small images keep their detail;
    ``stem_stride=2`` halves 20px+ inputs first, which costs little accuracy and a
    quarter of the compute.
    """

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 16, blocks=(2, 2, 2, 2),
                 stem_stride: int = 1, se_reduction: int | None = None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2 ** i
            for j in range(n):
                layers.append(BasicBlock(cin, cout, stride=2 if (j == 0 and i > 0) else 1, se_reduction=se_reduction))
                cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.features(self.stem(x))))


class ResNetBackbone(ImageBackbone):
    """``resnet``: residual basic blocks."""

    name = "resnet"
    default_width = 16

    def build(self, in_channels: int, num_classes: int, side: int, opts: dict) -> nn.Module:
        return ResNet(in_channels, num_classes, width=int(opts.get("width", self.default_width)),
                      stem_stride=int(opts.get("stem_stride", 2 if side >= 20 else 1)))


class SEResNetBackbone(ImageBackbone):
    """``se_resnet``: the same with squeeze-and-excitation in every block (reduction 16)."""

    name = "se_resnet"
    default_width = 16

    def build(self, in_channels: int, num_classes: int, side: int, opts: dict) -> nn.Module:
        return ResNet(in_channels, num_classes, width=int(opts.get("width", self.default_width)),
                      stem_stride=int(opts.get("stem_stride", 2 if side >= 20 else 1)),
                      se_reduction=int(opts.get("se_reduction", 16)))
