"""Understanding with the project's fine-tuned model: Gemma features → trained linear heads.

Intent, sentiment and (for `change_language`) the target language come from the heads; the
order number from the transcript itself (numbers.py), never from a model's guess.
"""

from __future__ import annotations

import json
from pathlib import Path

from voice_agent.models import ModelNotAvailable
from voice_agent.nlu.gemma import GemmaEncoder
from voice_agent.nlu.head import load_heads
from voice_agent.nlu.numbers import extract_order_number
from voice_agent.nlu.ood import OOD_FILE, OodModel, in_domain
from voice_agent.nlu.train import HEADS_FILE, METADATA_FILE, MODEL_DIR
from voice_agent.nlu.understanding import Understanding


def trained_model_exists(model_dir: Path = MODEL_DIR) -> bool:
    return (model_dir / HEADS_FILE).exists() and (model_dir / METADATA_FILE).exists()


class FineTunedUnderstander:
    name = "finetuned"

    def __init__(self, encoder: GemmaEncoder, model_dir: Path = MODEL_DIR) -> None:
        if not trained_model_exists(model_dir):
            raise ModelNotAvailable(f"no trained model in {model_dir}: run `voice-agent train`")
        self.metadata = json.loads((model_dir / METADATA_FILE).read_text())
        if tuple(self.metadata["layers"]) != encoder.layers:
            raise ModelNotAvailable(
                f"model was trained on layers {self.metadata['layers']}, encoder has "
                f"{list(encoder.layers)}"
            )
        self._encoder = encoder
        self._heads = load_heads(model_dir / HEADS_FILE)
        # Models trained before the OOD score existed have no ood file: no score, all in domain
        ood_path = model_dir / OOD_FILE
        self._ood = OodModel.load(ood_path) if ood_path.exists() else None

    def understand(self, text: str, language: str) -> Understanding:
        return self.understand_many([text], language)[0]

    def understand_many(self, texts: list[str], language: str) -> list[Understanding]:
        features = self._encoder.embed(texts)
        head = self._heads["intent"]
        probabilities = head.probabilities(features)
        intents = [(head.labels[i], float(p[i])) for p, i in
                   zip(probabilities, probabilities.argmax(1), strict=True)]
        scores = (self._ood.combined(features, probabilities, head.labels).tolist()
                  if self._ood is not None else [None] * len(texts))
        sentiments = self._heads["sentiment"].predict(features)
        targets = (self._heads["target_language"].predict(features)
                   if "target_language" in self._heads else [None] * len(texts))
        out = []
        for text, (intent, p), (sentiment, ps), target, score in zip(
            texts, intents, sentiments, targets, scores, strict=True
        ):
            slots: dict[str, str] = {}
            number = extract_order_number(text, language)
            if number:
                slots["order_number"] = number
            if intent == "change_language" and target is not None:
                slots["language"] = target[0]
            out.append(Understanding(
                intent, round(p, 4), language, slots, sentiment=sentiment,
                sentiment_confidence=round(ps, 4), text=text,
                ood_score=None if score is None else round(score, 4),
                in_domain=in_domain(intent, score),
            ))
        return out
