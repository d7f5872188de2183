"""Backbones that turn one fold's training data into held-out probabilities, and the registry that picks one."""

from __future__ import annotations

from app.audit.backbones.base import Backbone, FitContext
from app.errors import OptionError

BACKBONE_NAMES: tuple[str, ...] = ("auto", "logreg", "mlp", "cnn")


def get_backbone(name: str) -> Backbone:
    """The backbone registered under ``name`` (not ``auto``; see :func:`choose_backbone`)."""
    if name == "logreg":
        from app.audit.backbones.logreg import LogRegBackbone

        return LogRegBackbone()
    if name == "mlp":
        from app.audit.backbones.mlp import MLPBackbone

        return MLPBackbone()
    if name == "cnn":
        from app.audit.backbones.cnn import CNNBackbone

        return CNNBackbone()
    raise OptionError(f"unknown backbone {name!r}; expected one of: {', '.join(BACKBONE_NAMES)}", field="backbone")


def choose_backbone(name: str, modality: str, feature_shape: tuple[int, ...], options: dict | None = None) -> Backbone:
    """Resolve ``name`` (``auto`` picks by modality) and check it fits the data and the options."""
    if name == "auto":
        name = "cnn" if modality == "image" else "mlp"
    backbone = get_backbone(name)
    if modality not in backbone.modalities:
        raise OptionError(f"backbone {name!r} does not take {modality} data; use one of: "
                          f"{', '.join(n for n in BACKBONE_NAMES[1:] if modality in get_backbone(n).modalities)}",
                          field="backbone")
    unknown = sorted(set(options or {}) - backbone.option_names)
    if unknown:
        raise OptionError(f"backbone {backbone.name!r} has no option {unknown[0]!r}; it takes: "
                          f"{', '.join(sorted(backbone.option_names))}", field="backbone_options")
    return backbone


__all__ = ["Backbone", "FitContext", "BACKBONE_NAMES", "get_backbone", "choose_backbone"]
