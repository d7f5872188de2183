"""Building blocks of the image backbones: residual basic blocks, squeeze-and-excitation, MBConv."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): global average pool -> FC reduce -> act -> FC expand -> sigmoid -> rescale."""

    def __init__(self, channels: int, hidden: int, act: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = act(inplace=True)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BatchNorm, an optional SE stage, and a (projected) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, se_reduction: int | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, max(4, cout // se_reduction)) if se_reduction else nn.Identity()
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + self.shortcut(x))


class MBConv(nn.Module):
    """Inverted bottleneck (MobileNetV2 / EfficientNet): 1x1 expand, depthwise kxk, SE, 1x1 project, residual."""

    def __init__(self, cin: int, cout: int, *, expand: int, kernel: int, stride: int, se_ratio: float = 0.25):
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU(inplace=True)]
        layers += [nn.Conv2d(mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), nn.SiLU(inplace=True),
                   SqueezeExcite(mid, max(1, int(cin * se_ratio)), act=nn.SiLU),
                   nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out
