"""The SIP trunk endpoint: one UDP socket, an allow-list of trunk addresses, a call cap.

Each datagram is parsed strictly. Malformed → 400 (when it can be routed) or dropped; a request
from an address outside `sip.allowed_addresses` → 403; an INVITE beyond `sip.max_calls` (this
trunk) or `server.max_calls` (every edge's calls together) → 486; an offer without PCMU/8000 →
488; no free RTP port → 503. Everything else belongs to a dialog
(`SipCall`), keyed by Call-ID. Nothing a peer sends can raise into the server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from loguru import logger

from voice_agent.events import CallError, CallEvent, TransferRequested
from voice_agent.pipeline.factory import CallFactory
from voice_agent.telephony.sip.call import ALLOW, SipCall
from voice_agent.telephony.sip.message import (
    SipMessage,
    SipParseError,
    minimal_400,
    parse,
    response,
)
from voice_agent.telephony.sip.sdp import SdpError, parse_offer
from voice_agent.telephony.sip.transport import RtpMedia


class SipEndpoint(asyncio.DatagramProtocol):
    def __init__(self, factory: CallFactory) -> None:
        self.factory = factory
        self.settings = factory.settings.sip
        self.calls: dict[str, SipCall] = {}  # Call-ID → live call
        self.by_call_id: dict[str, SipCall] = {}  # our call id → live call (events)
        self.rejected: dict[int, int] = {}  # status → count (tests, metrics)
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()
        self._allowed = [ipaddress.ip_network(a, strict=False)
                         for a in self.settings.allowed_addresses]
        self._starting: set[str] = set()  # Call-IDs whose INVITE is being set up
        self.local: tuple[str, int] = (self.settings.host, self.settings.port)

    # ---- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.settings.host, self.settings.port))
        port = transport.get_extra_info("sockname")[1]
        self.local = (self._advertised_ip(), port)
        self.factory.bus.on_event(self._on_event)
        logger.info(f"SIP trunk endpoint on udp:{self.settings.host}:{port}")

    async def stop(self) -> None:
        await asyncio.gather(*(call.hang_up("agent", "server_shutdown")
                               for call in list(self.calls.values())))
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def _advertised_ip(self) -> str:
        if self.settings.advertise_ip:
            return self.settings.advertise_ip
        if self.settings.host not in ("0.0.0.0", ""):
            return self.settings.host
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the route's source IP
            s.connect((str(self._allowed[0].network_address) if self._allowed else "8.8.8.8", 9))
            return s.getsockname()[0]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._udp = transport  # type: ignore[assignment]

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(data, addr)

    # ---- incoming datagrams ----------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._received(data, addr)
        except Exception as e:  # a bug for one datagram must not stop the endpoint
            logger.exception(f"SIP datagram from {addr[0]} failed: {e}")

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # CRLF keep-alives (RFC 5626)
        allowed = self._is_allowed(addr[0])
        try:
            msg = parse(data)
        except SipParseError as e:
            logger.warning(f"malformed SIP from {addr[0]}:{addr[1]}: {e}")
            answer = minimal_400(data) if allowed else None
            if answer:
                self._count(400)
                self.send(answer, addr)
            return
        if not msg.is_request:
            call = self.calls.get(msg.call_id)
            if call is not None and allowed:
                call.on_response(msg)
            return
        if not allowed:
            if msg.method != "ACK":
                self._reject(msg, addr, 403)
            return
        call = self.calls.get(msg.call_id)
        if call is not None:
            if msg.method == "INVITE" and msg.to_tag is None:  # retransmitted initial INVITE
                if call.final_response:
                    self.send(call.final_response, addr)
                return
            if msg.method != "CANCEL" and msg.to_tag != call.ids.local_tag:
                if msg.method != "ACK":  # not this dialog (a stale or forged request)
                    self._reject(msg, addr, 481)
                return
            self._spawn(call.on_request(msg, addr))
        elif msg.method == "INVITE" and msg.to_tag is None:
            self._invite(msg, addr)
        elif msg.method == "OPTIONS":
            self.send(response(msg, 200, headers=[("allow", ALLOW)]).encode(), addr)
        elif msg.method != "ACK":  # an ACK for a call we refused needs no answer
            self._reject(msg, addr, 481 if msg.method in ("BYE", "CANCEL", "INVITE") else 405)

    def _is_allowed(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._allowed)

    def _reject(self, msg: SipMessage, addr: tuple[str, int], status: int) -> None:
        self._count(status)
        headers = [("allow", ALLOW)] if status == 405 else []
        self.send(response(msg, status, to_tag="rejected", headers=headers).encode(), addr)

    def _count(self, status: int) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1

    # ---- new calls -------------------------------------------------------------------------

    def _invite(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        if msg.call_id in self._starting:
            return  # a retransmission while its RTP port is being bound
        starting = len(self._starting)
        trunk_full = len(self.calls) + starting >= self.settings.max_calls
        lines = self.factory.calls
        if trunk_full or len(lines) + starting >= lines.max_calls:
            self._reject(msg, addr, 486)
            return
        try:
            offer = parse_offer(msg.body)
        except SdpError as e:
            logger.warning(f"INVITE {msg.call_id}: {e}")
            self._reject(msg, addr, 488 if msg.body else 400)
            return
        if offer.pcmu_pt is None:
            self._reject(msg, addr, 488)
            return
        self.send(response(msg, 100).encode(), addr)
        self._starting.add(msg.call_id)
        self._spawn(self._start_call(msg, addr, offer))

    async def _start_call(self, msg: SipMessage, addr: tuple[str, int], offer) -> None:
        s = self.settings
        try:
            media = await RtpMedia.bind(
                s.host, range(s.rtp_port_min, s.rtp_port_max + 1, 2),
                (offer.address, offer.port), offer.pcmu_pt, offer.telephone_event_pt,
            )
            if media is None:
                logger.warning("no free RTP port: refusing the call")
                self._reject(msg, addr, 503)
                return
            try:
                call = SipCall(msg, addr, offer, media, self.factory, self.send, self.local)
            except Exception as e:  # e.g. the pipeline could not be built: only this call
                logger.exception(f"INVITE {msg.call_id}: call setup failed: {e}")
                media.close()
                self._reject(msg, addr, 500)
                return
            self.calls[msg.call_id] = call
            self.by_call_id[call.state.call_id] = call
        finally:
            self._starting.discard(msg.call_id)
        call.answer()
        try:
            await call.run()
        finally:
            self.calls.pop(msg.call_id, None)
            self.by_call_id.pop(call.state.call_id, None)

    # ---- events from the call's pipeline ---------------------------------------------------

    def _on_event(self, event: CallEvent) -> None:
        call = self.by_call_id.get(event.call_id)
        if call is None:
            return
        call.on_event(event)
        if not isinstance(event, TransferRequested):
            return
        target = self.factory.settings.transfer.sip_uri
        if target and self.settings.refer and call.trunk_allows_refer:
            self._spawn(call.transfer(target, event.reason))
        else:
            call.state.publish(CallError(
                call_id=event.call_id,
                message="transfer requested but no REFER target (transfer.sip_uri) or the "
                        "trunk does not allow REFER; the agent keeps the call",
            ))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
