"""Backbones that turn one fold's training data into held-out probabilities, and the registry that picks one."""

from __future__ import annotations

from labelaudit.core.backbones.base import Backbone, FitContext
from labelaudit.core.backbones.options import check_option_values
from labelaudit.core.constants import AUTO_CNN_MAX_SIDE
from labelaudit.errors import OptionError
from labelaudit.extras import has_module, require
from labelaudit.vocab import BackboneName, values

BACKBONE_NAMES: tuple[str, ...] = values(BackboneName)
#: the backbones that train with torch (``labelaudit[torch]``)
TORCH_BACKBONES = frozenset({"mlp", "cnn", "resnet", "se_resnet", "mbconv"})


def get_backbone(name: str) -> Backbone:
    """The backbone registered under ``name`` (not ``auto``; see :func:`choose_backbone`).

    Raises :class:`~labelaudit.errors.MissingExtra` for a torch backbone where torch is not installed.
    """
    if name in TORCH_BACKBONES:
        require("torch", f"the {name!r} backbone", field="backbone", modules=("torch",))
    if name == "gbt":
        from labelaudit.core.backbones.gbt import GBTBackbone

        return GBTBackbone()
    if name == "text":
        from labelaudit.core.backbones.text import TextBackbone

        return TextBackbone()
    if name == "logreg":
        from labelaudit.core.backbones.logreg import LogRegBackbone

        return LogRegBackbone()
    if name == "mlp":
        from labelaudit.core.backbones.mlp import MLPBackbone

        return MLPBackbone()
    if name == "cnn":
        from labelaudit.core.backbones.cnn import CNNBackbone

        return CNNBackbone()
    if name == "resnet":
        from labelaudit.core.backbones.resnet import ResNetBackbone

        return ResNetBackbone()
    if name == "se_resnet":
        from labelaudit.core.backbones.resnet import SEResNetBackbone

        return SEResNetBackbone()
    if name == "mbconv":
        from labelaudit.core.backbones.mbconv import MBConvBackbone

        return MBConvBackbone()
    raise OptionError(f"unknown backbone {name!r}; expected one of: {', '.join(BACKBONE_NAMES)}", field="backbone")


def choose_backbone(name: str, modality: str, feature_shape: tuple[int, ...], options: dict | None = None,
                    *, has_text: bool = False) -> Backbone:
    """Resolve ``name`` (``auto`` picks by modality) and check it fits the data and the options.

    ``has_text``: the table has free-text columns, which only backbones with ``takes_text`` read.
    """
    if name == "auto":
        name = auto_backbone(modality, feature_shape, has_text=has_text)
    backbone = get_backbone(name)
    if has_text and not getattr(backbone, "takes_text", False):
        raise OptionError(f"backbone {name!r} does not take text columns; use auto, text or logreg, or leave the "
                          "text out with --drop-columns", field="backbone")
    if modality not in backbone.modalities:
        raise OptionError(f"backbone {name!r} does not take {modality} data; use one of: "
                          f"{', '.join(n for n in BACKBONE_NAMES[1:] if _installed(n) and modality in get_backbone(n).modalities)}",
                          field="backbone")
    unknown = sorted(set(options or {}) - backbone.option_names)
    if unknown:
        raise OptionError(f"backbone {backbone.name!r} has no option {unknown[0]!r}; it takes: "
                          f"{', '.join(sorted(backbone.option_names))}", field="backbone_options")
    check_option_values(options or {})
    if hasattr(backbone, "check_options"):
        backbone.check_options(options or {})
    return backbone


def _installed(name: str) -> bool:
    return name not in TORCH_BACKBONES or has_module("torch")


def auto_backbone(modality: str, feature_shape: tuple[int, ...], *, has_text: bool = False) -> str:
    """What ``auto`` means: for tables ``text`` (TF-IDF and a linear model) when they hold free text, else
    ``gbt`` (gradient-boosted trees: categories and missing values native, seconds on CPU); for images the
    small ``cnn`` up to 32 px (measured best for time and AP on MNIST and digits on CPU), ``resnet`` above,
    which need torch (:class:`~labelaudit.errors.MissingExtra` without it: no other backbone takes images)."""
    if modality != "image":
        return "text" if has_text else "gbt"
    require("torch", "auditing images", field="backbone", modules=("torch",))
    side = max(feature_shape[-2:]) if len(feature_shape) >= 2 else 0
    return "cnn" if side <= AUTO_CNN_MAX_SIDE else "resnet"


__all__ = ["Backbone", "FitContext", "BACKBONE_NAMES", "TORCH_BACKBONES", "get_backbone", "choose_backbone",
           "auto_backbone"]
