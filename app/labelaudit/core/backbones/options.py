"""The values backbone options may take, checked before an audit is queued.

Which options a backbone takes is its ``option_names``; this module says what each
option's value may be, so that ``{"hidden": "abc"}`` or ``{"lr": -1}`` is a 422 naming
``backbone_options.hidden`` when the audit is requested, not a failed job minutes later.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelaudit.errors import OptionError
from labelaudit.vocab import WeightsMode


class BackboneOptionValues(BaseModel):
    """Every backbone option with its type and range (``None``: the backbone's default)."""

    model_config = ConfigDict(extra="ignore")  # names are checked against the backbone's own list

    # training (every torch backbone)
    batch_size: Optional[int] = Field(None, ge=1, le=65_536)
    lr: Optional[float] = Field(None, gt=0, le=10)
    weight_decay: Optional[float] = Field(None, ge=0, le=1)
    label_smoothing: Optional[float] = Field(None, ge=0, lt=1)
    loss: Optional[Literal["ce", "gce"]] = None
    gce_q: Optional[float] = Field(None, gt=0, le=1)
    # images
    augment_shift: Optional[int] = Field(None, ge=0, le=16)
    augment_rotate: Optional[float] = Field(None, ge=0, le=180)
    augment_scale: Optional[float] = Field(None, ge=0, lt=1)
    hflip: Optional[bool] = None
    tta: Optional[bool] = None
    snapshots: Optional[int] = Field(None, ge=1, le=100)
    early_stopping: Optional[bool] = None
    compile: Optional[bool] = None
    image_size: Optional[int] = Field(None, ge=4, le=512)
    weights: Optional[str] = None
    weights_mode: Optional[WeightsMode] = None
    stem_stride: Optional[int] = Field(None, ge=1, le=4)
    width: Optional[int] = Field(None, ge=1, le=1_024)
    se_reduction: Optional[int] = Field(None, ge=1, le=1_024)
    width_mult: Optional[float] = Field(None, gt=0, le=4)
    # tables
    hidden: Optional[int] = Field(None, ge=1, le=16_384)
    dropout: Optional[float] = Field(None, ge=0, lt=1)
    C: Optional[float] = Field(None, gt=0)
    max_iter: Optional[int] = Field(None, ge=1, le=100_000)
    max_leaf_nodes: Optional[int] = Field(None, ge=2, le=4_096)
    min_samples_leaf: Optional[int] = Field(None, ge=1, le=1_000_000)
    linear_blend: Optional[float] = Field(None, ge=0, le=1)
    char_ngrams: Optional[bool] = None
    l2_regularization: Optional[float] = Field(None, ge=0)


def check_option_values(options: dict) -> None:
    """Raise :class:`OptionError` (field ``backbone_options.<name>``) for the first value out of type or range."""
    try:
        BackboneOptionValues.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        got = repr(first.get("input"))
        raise OptionError(f"backbone_options.{name}: {first['msg']} (got {got[:80]})",
                          field=f"backbone_options.{name}") from None
