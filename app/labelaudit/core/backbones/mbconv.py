"""An EfficientNet-B0-like stack of MBConv blocks, compact for small images."""

from __future__ import annotations

from torch import nn

from labelaudit.core.backbones.blocks import MBConv
from labelaudit.core.backbones.image_model import ImageBackbone

#: (expand ratio, channels, repeats, stride, kernel): B0's first five stages at half depth.
STAGES = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 2, 2, 3), (6, 112, 1, 1, 5))


class MBConvNet(nn.Module):
    """Stem conv, MBConv stages, 1x1 head conv, global pooling, dropout, linear classifier."""

    def __init__(self, in_channels: int, num_classes: int, *, width_mult: float = 1.0, stem_stride: int = 1,
                 dropout: float = 0.2):
        super().__init__()

        def ch(c: int) -> int:
            return max(8, int(round(c * width_mult / 8)) * 8)

        stem = ch(32)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, stride=stem_stride, padding=1, bias=False),
                                  nn.BatchNorm2d(stem), nn.SiLU(inplace=True))
        layers, cin = [], stem
        for expand, c, repeats, stride, kernel in STAGES:
            for r in range(repeats):
                layers.append(MBConv(cin, ch(c), expand=expand, kernel=kernel, stride=stride if r == 0 else 1))
                cin = ch(c)
        self.features = nn.Sequential(*layers)
        head = ch(320)
        self.pool = nn.Sequential(nn.Conv2d(cin, head, 1, bias=False), nn.BatchNorm2d(head), nn.SiLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.features(self.stem(x))))


class MBConvBackbone(ImageBackbone):
    """``mbconv``: inverted bottlenecks with depthwise convs, SE and SiLU."""

    name = "mbconv"

    def build(self, in_channels: int, num_classes: int, side: int, opts: dict) -> nn.Module:
        return MBConvNet(in_channels, num_classes, width_mult=float(opts.get("width_mult", 0.5)),
                         stem_stride=int(opts.get("stem_stride", 2 if side >= 20 else 1)))
