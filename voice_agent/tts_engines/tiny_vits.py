"""A tiny VITS with random weights, built from Coqui's own `VitsConfig` and saved as a model
folder (config.json + model.pth, ~1.8 MB). It speaks noise, but drives the real loading and
synthesis path (`TTS.api.TTS(model_path=…, config_path=…)`) in tests and benchmarks, since no
package ships Coqui weights.
"""

from __future__ import annotations

from pathlib import Path

LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñüàâçèêëîïôùûäöß"
PUNCTUATION = "!¡'(),-.:;¿? "


def build_tiny_vits(folder: Path, sample_rate: int = 16000, seed: int = 0) -> Path:
    """Write a random-weight VITS model folder; returns the folder."""
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(seed)
    args = VitsArgs(
        hidden_channels=32, hidden_channels_ffn_text_encoder=64, num_heads_text_encoder=2,
        num_layers_text_encoder=2, num_layers_posterior_encoder=2, num_layers_flow=2,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=32,
        upsample_kernel_sizes_decoder=[16, 16, 8], use_sdp=False, init_discriminator=False,
    )  # the decoder upsamples 8*8*4 = 256 = the hop length
    config = VitsConfig(
        model_args=args, use_phonemes=False, text_cleaner="multilingual_cleaners",
        characters=CharactersConfig(
            characters=LETTERS, punctuations=PUNCTUATION, pad="<PAD>", eos="<EOS>",
            bos="<BOS>", blank="<BLNK>", characters_class="TTS.tts.models.vits.VitsCharacters",
        ),
    )
    config.audio.sample_rate = sample_rate
    model = Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder
