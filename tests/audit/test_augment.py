"""Training-time image augmentation: random rotation and zoom beside the pixel shifts and flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelaudit.core.backbones.options import check_option_values
from labelaudit.core.backbones.training import TrainConfig, _augment, augments
from labelaudit.errors import OptionError


def _digit_like() -> torch.Tensor:
    x = torch.zeros(8, 1, 16, 16)
    x[:, :, 3:13, 7:9] = 1.0  # a vertical bar in the middle
    return x


def test_no_rotation_or_zoom_leaves_images_as_they_are():
    x = _digit_like()
    config = TrainConfig(augment_rotate=0.0, augment_scale=0.0)
    assert not augments(config)
    assert torch.equal(_augment(x, config, torch.Generator().manual_seed(0)), x)


def test_rotation_turns_each_image_its_own_way_reproducibly():
    x = _digit_like()
    config = TrainConfig(augment_rotate=30.0)
    assert augments(config)
    a = _augment(x, config, torch.Generator().manual_seed(1))
    b = _augment(x, config, torch.Generator().manual_seed(1))
    c = _augment(x, config, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    per_image_change = (a - x).abs().flatten(1).sum(1)
    assert (per_image_change > 1.0).sum() >= 6  # most bars turned visibly
    assert len({round(float(v), 3) for v in per_image_change}) > 4  # by different angles
    # a rotation about the centre keeps the bar's mass roughly where it was
    assert np.allclose(a.flatten(1).sum(1).numpy(), x.flatten(1).sum(1).numpy(), rtol=0.25)


def test_zoom_grows_or_shrinks_the_bar():
    x = _digit_like()
    out = _augment(x, TrainConfig(augment_scale=0.3), torch.Generator().manual_seed(0))
    mass = out.flatten(1).sum(1)
    assert (mass > x[0].sum() * 1.05).any() and (mass < x[0].sum() * 0.95).any()


@pytest.mark.parametrize("name,value", [("augment_rotate", -1), ("augment_rotate", 200), ("augment_scale", 1.0)])
def test_out_of_range_augmentation_is_refused_naming_the_option(name, value):
    with pytest.raises(OptionError) as exc:
        check_option_values({name: value})
    assert exc.value.field == f"backbone_options.{name}"
