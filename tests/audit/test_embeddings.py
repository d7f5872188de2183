"""``weights_mode="embeddings"``: a frozen pretrained body embeds every image once, a logistic-regression head
trains per fold. The weights come from a small CNN trained here on one part of the digits; another part is
audited."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelaudit.core.backbones import embeddings
from labelaudit.core.backbones.cnn import build_cnn
from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.ingest import from_arrays
from labelaudit.core.keys import example_keys
from labelaudit.core.noise import inject_noise
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.errors import OptionError

WIDTH = 16


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, digits):
    """A CNN trained on the first 700 digits (clean labels), its state dict saved with torch.save."""
    X, y = digits
    x = torch.as_tensor(X[:700, None])
    x = (x - x.mean()) / x.std()
    t = torch.as_tensor(y[:700])
    torch.manual_seed(0)
    net = build_cnn(1, 10, width=WIDTH, stem_stride=1)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(15):
        for i in torch.randperm(700).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[i]), t[i]).backward()
            opt.step()
    path = tmp_path_factory.mktemp("weights") / "digits-cnn.pt"
    torch.save(net.state_dict(), path)
    return path


def options(path, **kw) -> AuditOptions:
    return AuditOptions(backbone="cnn", seed=0, **kw,
                        backbone_options={"width": WIDTH, "weights": str(path), "weights_mode": "embeddings"})


def test_embeddings_are_computed_once_and_find_the_noise(pretrained, digits, monkeypatch):
    X, y = digits
    noisy = inject_noise(y[700:1300], kind="pairwise", rate=0.1, seed=1)
    ds = from_arrays(X[700:1300], noisy.labels, true_labels=noisy.true_labels)
    reference = from_arrays(X[1300:], y[1300:])
    calls = []
    real = embeddings.embed_images
    monkeypatch.setattr(embeddings, "embed_images", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    result = run_audit(ds, options(pretrained), reference=reference)
    assert calls == [600 + reference.num_examples]  # one pass over every image, the reference's too
    assert result.backbone == "cnn+logreg" and result.summary()["backbone"] == "cnn+logreg"
    assert result.timings["embedding_seconds"] > 0
    assert result.evaluation["average_precision"] > 0.8  # chance is 0.1
    assert result.summary()["cv_accuracy"] > 0.8


def test_one_fold_at_a_time_gives_the_same_probabilities(pretrained, digits):
    X, y = digits
    ds = from_arrays(X[700:1000], y[700:1000])
    whole = run_audit(ds, options(pretrained, folds=3))
    per_fold = cross_val_pred_probs(ds.features, ds.labels, num_classes=10, modality="image", backbone="cnn", folds=3,
                                    seed=0, options={"width": WIDTH, "weights": str(pretrained),
                                                     "weights_mode": "embeddings"},
                                    keys=example_keys(ds))
    np.testing.assert_allclose(per_fold.pred_probs, whole.pred_probs, atol=1e-4)


def test_embeddings_need_weights(digits):
    X, y = digits
    ds = from_arrays(X[:100], y[:100])
    with pytest.raises(OptionError) as info:
        run_audit(ds, AuditOptions(backbone="cnn", backbone_options={"weights_mode": "embeddings"}),
                  should_stop=lambda: pytest.fail("training started"))
    assert info.value.field == "weights_mode"
