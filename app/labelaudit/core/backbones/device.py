"""Pick the torch device for training."""

from __future__ import annotations

from labelaudit.errors import OptionError


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without one is an error.

    ``device`` is a checked name (:func:`labelaudit.core.options.check_device`).
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError("device 'cuda' was asked for but no CUDA GPU is available", field="device")
    return device
