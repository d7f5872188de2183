"""Image inputs (ImageFolder zips) and the image backbone families."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from labelaudit.core.backbones import auto_backbone, choose_backbone, get_backbone
from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.pretrained import FrozenBody, load_weights, resize_images
from labelaudit.core.backbones.mbconv import MBConvNet
from labelaudit.core.backbones.resnet import ResNet
from labelaudit.core.ingest import load_dataset
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.errors import IngestError, OptionError


def _png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def make_zip(path, digits, *, n=60, rgb=False, root="", extra=None, size=8):
    X, y = digits
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            img = (X[i] * 16).clip(0, 255).astype(np.uint8)
            if size != 8:
                img = np.asarray(Image.fromarray(img).resize((size, size)))
            if rgb:
                img = np.stack([img, img // 2, 255 - img], axis=-1)
            name = f"{root}class_{y[i]}/img_{i}.{'jpg' if i % 7 == 0 else 'png'}"
            z.writestr(name, _png(img, "JPEG" if i % 7 == 0 else "PNG"))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def test_zip_grayscale_and_nested_root(tmp_path, digits):
    ds = load_dataset(make_zip(tmp_path / "d.zip", digits, n=100, root="mydata/"), folds=2)
    assert ds.modality == "image" and ds.features.shape == (100, 1, 8, 8) and ds.features.dtype == np.uint8
    assert ds.class_names == [f"class_{c}" for c in range(10)]
    assert ds.example_ids[0].startswith("mydata/class_")
    assert np.array_equal(ds.labels, digits[1][:100])


def test_zip_rgb_and_resize(tmp_path, digits):
    ds = load_dataset(make_zip(tmp_path / "d.zip", digits, n=100, rgb=True), folds=2, image_size=12)
    assert ds.features.shape == (100, 3, 12, 12)


def test_mixed_sizes_resize_to_the_most_common(tmp_path, digits):
    path = make_zip(tmp_path / "d.zip", digits, n=100, extra={"class_0/big.png": _png(np.zeros((20, 30), np.uint8))})
    ds = load_dataset(path, folds=2)
    assert ds.features.shape == (101, 1, 8, 8)


def test_a_camera_sized_photo_is_resized_not_refused(tmp_path, digits):
    """A 12 MP photo passes the server's values-per-example limit at its own size, but is decoded alone and
    resized to the common size; only a bomb past 64 MP is refused from its header."""
    from labelaudit.core.ingest import IngestLimits

    photo = _png(np.full((3000, 4000, 3), 90, np.uint8))
    path = make_zip(tmp_path / "d.zip", digits, n=100, extra={"class_0/photo.png": photo})
    limits = IngestLimits(max_values_per_example=3 * 1024 * 1024)
    ds = load_dataset(path, folds=2, limits=limits)
    assert ds.features.shape == (101, 3, 8, 8)
    bomb = make_zip(tmp_path / "b.zip", digits, n=100, extra={"class_0/bomb.png": _png(np.zeros((8200, 8200), np.uint8))})
    with pytest.raises(IngestError) as info:
        load_dataset(bomb, folds=2, limits=limits)
    assert info.value.code == "example_too_large" and "class_0/bomb.png" in info.value.message


def test_corrupt_image_is_reported_by_path_or_skipped(tmp_path, digits):
    path = make_zip(tmp_path / "d.zip", digits, n=100, extra={"class_1/broken.png": b"\x89PNG not really"})
    with pytest.raises(IngestError) as info:
        load_dataset(path, folds=2)
    assert info.value.code == "corrupt_image" and "class_1/broken.png" in info.value.message
    assert "<" not in info.value.message and " at 0x" not in info.value.message  # no library object reprs
    ds = load_dataset(path, folds=2, skip_corrupt=True)
    assert ds.num_examples == 100 and ds.meta["skipped"] == ["class_1/broken.png"]


def test_zip_errors(tmp_path, digits):
    unsafe = make_zip(tmp_path / "u.zip", digits, n=20, extra={"../evil/x.png": b"x"})
    with pytest.raises(IngestError) as info:
        load_dataset(unsafe, folds=2)
    assert info.value.code == "unsafe_path"
    empty = tmp_path / "e.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "no images here")
    with pytest.raises(IngestError) as info:
        load_dataset(empty, folds=2)
    assert info.value.code == "no_images"
    with pytest.raises(IngestError):
        load_dataset(b"PK\x03\x04 broken", name="x.zip", folds=2)


@pytest.mark.parametrize("name", ["resnet", "se_resnet", "mbconv"])
def test_families_forward_backward(name):
    torch.manual_seed(0)
    net = get_backbone(name).build(3, 5, 16, {"width": 8} if "resnet" in name else {"width_mult": 0.25})
    x = torch.randn(4, 3, 16, 16)
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x), torch.arange(4))
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(net.parameters(), lr=0.1).step()
    assert sum(not torch.equal(b, p) for b, p in zip(before, net.parameters())) > len(before) // 2


def test_se_resnet_has_squeeze_excitation_blocks():
    from labelaudit.core.backbones.blocks import SqueezeExcite

    se = get_backbone("se_resnet").build(1, 3, 28, {"width": 16})
    plain = get_backbone("resnet").build(1, 3, 28, {"width": 16})
    assert sum(isinstance(m, SqueezeExcite) for m in se.modules()) == 8
    assert not any(isinstance(m, SqueezeExcite) for m in plain.modules())
    reduce = next(m for m in se.modules() if isinstance(m, SqueezeExcite)).reduce
    assert reduce.out_channels == max(4, reduce.in_channels // 16)


@pytest.mark.parametrize("name", ["resnet", "se_resnet", "mbconv"])
def test_families_fit_predict(name, digits):
    X, y = digits
    probs = get_backbone(name).fit_predict(X[:200, None], y[:200], X[200:260, None],
                                           FitContext(num_classes=10, epochs=1, options={"tta": False}))
    assert probs.shape == (60, 10) and np.allclose(probs.sum(axis=1), 1.0)


def test_weights_finetune_and_linear_probe(tmp_path, digits):
    torch.manual_seed(0)
    pretrained = ResNet(1, 10, width=8)
    path = tmp_path / "w.pt"
    torch.save(pretrained.state_dict(), path)
    model = load_weights(ResNet(1, 4, width=8), path, mode="finetune")
    assert torch.equal(model.stem[0].weight, pretrained.stem[0].weight)
    probe = load_weights(ResNet(1, 4, width=8), path, mode="linear_probe")
    assert isinstance(probe, FrozenBody)
    trainable = [n for n, p in probe.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("model.head.") for n in trainable)
    X, y = digits
    X4, y4 = X[:120, None], y[:120] % 4
    probs = get_backbone("resnet").fit_predict(
        X4[:100], y4[:100], X4[100:],
        FitContext(num_classes=4, epochs=1, options={"width": 8, "weights": str(path), "weights_mode": "linear_probe"}))
    assert probs.shape == (20, 4)
    with pytest.raises(OptionError):
        load_weights(MBConvNet(1, 4), path)
    with pytest.raises(OptionError) as info:
        choose_backbone("resnet", "image", (1, 8, 8), {"weights": str(tmp_path / "missing.pt")})
    assert info.value.field == "weights"


def test_auto_choice_and_resize():
    assert auto_backbone("image", (1, 28, 28)) == "cnn"
    assert auto_backbone("image", (3, 64, 64)) == "resnet"
    assert auto_backbone("tabular", (10,)) == "gbt"
    out = resize_images(np.zeros((3, 1, 28, 28), np.uint8), 16)
    assert out.shape == (3, 1, 16, 16)


def test_small_end_to_end_image_audit_from_zip(tmp_path, digits):
    from labelaudit.core.noise import inject_noise

    ds = load_dataset(make_zip(tmp_path / "d.zip", digits, n=600), folds=5)
    noisy = inject_noise(ds.labels, rate=0.2, seed=0)
    result = run_audit(ds.with_labels(noisy.labels, noisy.true_labels),
                       AuditOptions(epochs=15, backbone_options={"width": 16, "batch_size": 64}))
    assert result.backbone == "cnn" and result.summary()["backbone"] == "cnn"
    assert result.evaluation["average_precision"] > 0.6  # chance is 0.2


def test_early_stopping_option_runs(digits):
    X, y = digits
    probs = get_backbone("cnn").fit_predict(X[:300, None], y[:300], X[300:350, None],
                                            FitContext(num_classes=10, epochs=4,
                                                       options={"width": 8, "early_stopping": True}))
    assert probs.shape == (50, 10)


def test_small_image_sets_still_learn_with_default_settings(digits):
    """A few hundred images, 3 folds: the default batch shrinks so the epochs hold enough steps to learn."""
    from labelaudit.core.ingest import from_arrays

    X, y = digits
    result = run_audit(from_arrays(X[:450], y[:450]), AuditOptions(backbone="cnn", folds=3, seed=0, device="cpu"))
    assert result.summary()["cv_accuracy"] > 0.85
    assert result.summary()["issue_rate"] < 0.1
    assert get_backbone("cnn").default_batch_size(300) == 16
    assert get_backbone("cnn").default_batch_size(8000) == 128
