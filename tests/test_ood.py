"""Knowing what it does not know: the out-of-distribution score (nlu/ood.py) and its features."""

import numpy as np
import pytest

from voice_agent.nlu.feature_cache import HIDDEN, FeatureCache
from voice_agent.nlu.ood import OodModel, doubt, fit_ood, fit_ood_with_threshold, in_domain


def _clusters(rng, n=60, dim=32):
    centers = rng.normal(0, 4, (3, dim))
    x = np.concatenate([c + rng.normal(0, 1, (n, dim)) for c in centers])
    return x.astype(np.float32), [f"intent{i}" for i in range(3) for _ in range(n)], centers


class _NearestMeanHead:
    """A stand-in for the softmax head: soft nearest mean, so the test needs no training."""

    def __init__(self, x, y):
        self.labels = sorted(set(y))
        self.means = np.stack([x[[label == c for label in y]].mean(0) for c in self.labels])

    def probabilities(self, x):
        z = -((x[:, None, :] - self.means[None]) ** 2).sum(-1) / x.shape[1]
        p = np.exp(z - z.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)


def test_a_turn_far_from_every_intent_scores_higher_than_one_near_an_intent():
    rng = np.random.default_rng(0)
    x, y, centers = _clusters(rng)
    model = fit_ood(x, y, components=16, shrinkage=0.3)
    near = centers[1] + rng.normal(0, 1, (20, x.shape[1]))
    far = rng.normal(0, 1, (20, x.shape[1])) * 12
    assert model.score(near.astype(np.float32)).max() < model.score(far.astype(np.float32)).min()


def test_thresholds_come_from_training_turns_and_keep_most_unseen_in_domain_turns(tmp_path):
    rng = np.random.default_rng(1)
    x, y, centers = _clusters(rng)
    model = fit_ood_with_threshold(x, y, fit_head=_NearestMeanHead, components=16)
    unseen = np.concatenate([c + rng.normal(0, 1, (50, x.shape[1])) for c in centers])
    head = _NearestMeanHead(x, y)
    score = model.combined(unseen.astype(np.float32), head.probabilities(unseen), head.labels)
    assert (score <= 1).mean() >= 0.9
    far = (rng.normal(0, 1, (10, x.shape[1])) * 12).astype(np.float32)
    assert (model.combined(far, head.probabilities(far), head.labels) > 1).all()
    model.save(tmp_path / "ood.safetensors")
    again = OodModel.load(tmp_path / "ood.safetensors")
    assert again.threshold == model.threshold and again.doubt_threshold == model.doubt_threshold
    assert np.allclose(again.score(far), model.score(far), rtol=1e-2)


def test_doubt_counts_the_out_of_scope_intent_as_doubt():
    p = np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9]])
    assert np.allclose(doubt(p, ["order_status", "goodbye", "out_of_scope"]), [0.1, 0.95])


def test_in_domain_needs_a_task_intent_and_a_score_within_the_threshold():
    assert in_domain("order_status", 0.4)
    assert not in_domain("order_status", 1.7)
    assert not in_domain("out_of_scope", 0.2)
    assert in_domain("order_status", None)  # a model without OOD statistics


class _FakeEncoder:
    layers = (6, 10)

    def __init__(self):
        self.calls = 0

    def embed(self, texts, progress=False):
        self.calls += 1
        return np.stack([np.full(HIDDEN * 2, len(t), np.float32) for t in texts])


def test_features_are_computed_once_and_then_read_from_disk(tmp_path):
    encoder = _FakeEncoder()
    cache = FeatureCache(tmp_path, model_sha="0" * 64)
    cache.use_encoder(encoder)
    first = cache.features(["hello", "where is my order"], (6, 10))
    assert encoder.calls == 1 and first.shape == (2, HIDDEN * 2)
    fresh = FeatureCache(tmp_path, model_sha="0" * 64)  # a new process: only the disk is left
    assert np.array_equal(fresh.features(["where is my order"], (10,)), first[1:, HIDDEN:])
    assert fresh.missing(["hello", "new text"], (6,)) == ["new text"]
    assert FeatureCache(tmp_path, model_sha="1" * 64).missing(["hello"], (6,)) == ["hello"]


@pytest.mark.slow
class TestTheShippedModel:
    @pytest.fixture(scope="class")
    def model(self, resources):
        from voice_agent.nlu.finetuned import FineTunedUnderstander

        return FineTunedUnderstander(resources.models.registry.gemma_encoder())

    @pytest.mark.parametrize("lang, text", [
        ("en", "Where is order 1001?"),
        ("es", "¿Dónde está mi pedido mil dos?"),
        ("de", "Ich möchte meine Bestellung stornieren."),
        ("zh", "你们周六几点关门？"),
    ])
    def test_a_caller_asking_for_an_agent_task_is_in_domain(self, model, lang, text):
        u = model.understand(text, lang)
        assert u.in_domain and u.ood_score is not None and u.ood_score <= 1, u

    @pytest.mark.parametrize("lang, text", [
        ("en", "What's the weather going to be like tomorrow?"),
        ("fr", "Vous avez vu le match hier soir ?"),
        ("en", "M M M"),
        ("de", "Die Tür, die Tür so lang der Fisch."),  # robotic-voice mishearing
    ])
    def test_a_caller_off_topic_or_a_garbled_transcript_is_out_of_domain(self, model, lang, text):
        assert not model.understand(text, lang).in_domain
