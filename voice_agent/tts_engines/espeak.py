"""espeak-ng: any language, robotic but intelligible, ~20 ms per sentence on CPU.

For Chinese use the voice `cmn-latn-pinyin`: it reads Hanzi as Mandarin syllables with tones,
where plain `cmn` (espeak-ng 1.51) reads most Hanzi through English letter rules ("nin two").
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Iterator

from voice_agent.tts_engines.base import SpeechError


class EspeakEngine:
    name = "espeak"

    def __init__(self, voice: str, rate: int) -> None:
        self.voice_id = voice
        self._rate = rate

    def stream(self, text: str) -> Iterator[tuple[bytes, int]]:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SpeechError("espeak-ng is not installed (apt-get install espeak-ng)")
        proc = subprocess.run(
            [exe, "-v", self.voice_id, "-s", str(self._rate), "--stdout", text],
            capture_output=True, check=False, timeout=30,
        )
        if proc.returncode != 0 or not proc.stdout:
            raise SpeechError(
                f"espeak-ng failed for voice {self.voice_id!r}: {proc.stderr.decode()[:200]}"
            )
        with wave.open(io.BytesIO(proc.stdout), "rb") as w:
            yield w.readframes(w.getnframes()), w.getframerate()
