"""pipecat TTS service over the process-wide `Synthesizer`: the voice follows the call's language.

Cached phrases go out at once; others stream sentence by sentence (Piper yields one chunk per
sentence) and are resampled, anti-aliased, to the transport's rate by pipecat's soxr resampler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings as PipecatTTSSettings
from pipecat.services.tts_service import TTSService

from voice_agent.pipeline.call_state import CallState
from voice_agent.speech import Synthesizer

_DONE = object()


async def _in_thread(iterator: Iterator[tuple[bytes, int]]) -> AsyncIterator[tuple[bytes, int]]:
    """Drive a blocking iterator from a worker thread, one item at a time."""
    while True:
        item = await asyncio.to_thread(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item  # type: ignore[misc]


class CallTTSService(TTSService):
    """Speaks each sentence in the call's current reply language."""

    def __init__(self, *, synthesizer: Synthesizer, state: CallState, **kwargs) -> None:
        super().__init__(
            push_start_frame=True, push_stop_frames=True,
            # voice and language follow the call's state per sentence, not pipecat settings
            settings=PipecatTTSSettings(model=None, voice=None, language=None),
            **kwargs,
        )
        self._synth = synthesizer
        self._state = state

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        language = self._state.language
        cached = self._synth.cached(text, language, self.sample_rate)
        if cached is not None:
            yield TTSAudioRawFrame(cached, self.sample_rate, 1, context_id=context_id)
            return
        try:
            chunks = _in_thread(self._synth.stream(text, language))
            first = await anext(chunks, None)
            if first is None:
                return
            rate = first[1]

            async def pcm() -> AsyncIterator[bytes]:
                yield first[0]
                async for chunk, _ in chunks:
                    yield chunk

            async for frame in self._stream_audio_frames_from_iterator(
                pcm(), in_sample_rate=rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:  # a voice failure is reported; the call goes on
            yield ErrorFrame(error=f"TTS failed for {language}: {e}")
