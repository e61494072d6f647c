"""The SIP call's media edge: one RTP socket per call and the pipecat transport around it.

Caller RTP (PCMU) becomes 8 kHz `InputAudioRawFrame`s; RFC 4733 key presses become
`InputDTMFFrame`s (the dialogue publishes `DtmfPressed` with the configured action); the bot's
audio leaves as 20 ms PCMU packets on an absolute clock, and the playout's marks are echoed
once the audio before them has been sent. Packets from another address or with a payload type we
did not negotiate are counted and dropped: they never reach the pipeline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    InputAudioRawFrame,
    InputDTMFFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    StartFrame,
)
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voice_agent.audio import PHONE_FRAME_BYTES, PHONE_RATE, resample, ulaw_decode, ulaw_encode
from voice_agent.events import DtmfPressed
from voice_agent.pipeline.call_state import CallState
from voice_agent.pipeline.frames import MarkEchoFrame, PlayoutMarkFrame
from voice_agent.telephony.sip.rtp import DtmfDetector, Packetiser, RtpError, parse_rtp

FRAME_S = 0.02
KEYPAD = {k.value for k in KeypadEntry}
LOSS_FILL_S = 0.06  # no caller packet for this long → feed as much silence to the pipeline
IDLE_GAP_S = 0.1  # a pause longer than this in our audio restarts the clock (new talkspurt)


@dataclass
class MediaStats:
    received: int = 0  # PCMU packets that reached the pipeline
    ignored_address: int = 0
    ignored_payload: int = 0
    malformed: int = 0
    dtmf: int = 0
    overflow: int = 0  # dropped because the pipeline had 500 packets (10 s) waiting


class RtpMedia(asyncio.DatagramProtocol):
    """One call's RTP socket. `remote` comes from the caller's SDP (updated by a re-INVITE)."""

    def __init__(self, remote: tuple[str, int], pcmu_pt: int, dtmf_pt: int | None) -> None:
        self.remote = remote
        self.pcmu_pt = pcmu_pt
        self.dtmf_pt = dtmf_pt
        self.stats = MediaStats()
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=500)
        self.packetiser = Packetiser(pcmu_pt)
        self._dtmf = DtmfDetector()
        self._udp: asyncio.DatagramTransport | None = None
        self.local_port = 0

    @classmethod
    async def bind(
        cls, host: str, ports: range, remote: tuple[str, int], pcmu_pt: int, dtmf_pt: int | None,
    ) -> RtpMedia | None:
        """The first free even port of the range, or None when all are taken."""
        loop = asyncio.get_running_loop()
        for port in ports:
            media = cls(remote, pcmu_pt, dtmf_pt)
            try:
                await loop.create_datagram_endpoint(lambda m=media: m, local_addr=(host, port))
            except OSError:
                continue
            media.local_port = port
            return media
        return None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._udp = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[0] != self.remote[0]:  # only the IP the SDP named (ports change behind NATs)
            self.stats.ignored_address += 1
            return
        try:
            packet = parse_rtp(data)
            if packet.payload_type == self.pcmu_pt:
                self._put(("audio", packet.payload))
                self.stats.received += 1
            elif packet.payload_type == self.dtmf_pt:
                digit = self._dtmf.feed(packet)
                if digit:
                    self.stats.dtmf += 1
                    self._put(("dtmf", digit.encode()))
            else:
                self.stats.ignored_payload += 1
        except RtpError:
            self.stats.malformed += 1

    def _put(self, item: tuple[str, bytes]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # the pipeline is stalled: drop rather than grow
            self.stats.overflow += 1

    def send(self, ulaw: bytes) -> None:
        if self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(self.packetiser.packet(ulaw), self.remote)

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()


class SipInputTransport(BaseInputTransport):
    def __init__(self, transport: SipTransport, params: TransportParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._reader: asyncio.Task | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._reader is None:
            self._reader = self.create_task(self._read())

    async def _stop_reader(self) -> None:
        if self._reader:
            await self.cancel_task(self._reader)
            self._reader = None

    async def stop(self, frame) -> None:
        await self._stop_reader()
        await super().stop(frame)

    async def cancel(self, frame) -> None:
        await self._stop_reader()
        await super().cancel(frame)

    async def _read(self) -> None:
        media, state = self._transport.media, self._transport.state
        silence = bytes(PHONE_FRAME_BYTES * 2)
        while True:
            try:
                kind, data = await asyncio.wait_for(media.queue.get(), LOSS_FILL_S)
            except TimeoutError:  # no packets (silence suppression, loss): time still passes,
                for _ in range(int(LOSS_FILL_S / FRAME_S)):  # so the VAD can end the turn
                    await self.push_audio_frame(InputAudioRawFrame(silence, PHONE_RATE, 1))
                continue
            if kind == "audio":
                pcm = ulaw_decode(data)
                await self.push_audio_frame(InputAudioRawFrame(pcm, PHONE_RATE, 1))
                continue
            digit = data.decode()
            if digit in KEYPAD:  # the dialogue publishes DtmfPressed with the digit's action
                await self.push_frame(InputDTMFFrame(button=KeypadEntry(digit)))
            else:  # A–D: no keypad frame in pipecat, still an event
                state.publish(DtmfPressed(call_id=state.call_id, digit=digit))


class SipOutputTransport(BaseOutputTransport):
    def __init__(self, transport: SipTransport, params: TransportParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._pending = b""
        self._next_at = 0.0

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        media = self._transport.media
        self._pending += ulaw_encode(resample(frame.audio, frame.sample_rate, PHONE_RATE))
        while len(self._pending) >= PHONE_FRAME_BYTES:
            chunk, self._pending = (self._pending[:PHONE_FRAME_BYTES],
                                    self._pending[PHONE_FRAME_BYTES:])
            now = time.monotonic()
            if now - self._next_at > IDLE_GAP_S:  # we were quiet: restart the media clock
                if self._next_at:
                    media.packetiser.gap(now - self._next_at)
                self._next_at = now
            await asyncio.sleep(max(0.0, self._next_at - now))
            media.send(chunk)
            self._next_at += FRAME_S
        return True

    async def send_message(self, frame: OutputTransportMessageFrame) -> None:
        """A playout mark: echo it once the audio sent before it has been played out."""
        if isinstance(frame, PlayoutMarkFrame):
            delay = max(0.0, self._next_at - time.monotonic())
            self.create_task(self._echo_mark(frame.mark, delay))

    async def _echo_mark(self, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._transport.input().push_frame(MarkEchoFrame(name))


class SipTransport(BaseTransport):
    """Interchangeable with the Twilio and replay edges: same pipeline, RTP for a phone line."""

    def __init__(self, media: RtpMedia, state: CallState) -> None:
        super().__init__()
        self.media = media
        self.state = state
        params = TransportParams(
            audio_in_enabled=True, audio_out_enabled=True,
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            audio_out_10ms_chunks=2,  # 20 ms: one RTP packet per chunk
        )
        self._input = SipInputTransport(self, params, name="sip-input")
        self._output = SipOutputTransport(self, params, name="sip-output")

    def input(self) -> SipInputTransport:
        return self._input

    def output(self) -> SipOutputTransport:
        return self._output
