"""One SIP dialog = one call: answer, run the shared pipeline, hang up (BYE either way), REFER.

The endpoint routes every message of the dialog here. Requests we send (BYE, REFER) go to the
address the INVITE came from (the trunk), retransmitted on RFC 3261's timer until answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

from voice_agent.events import (
    BotReply,
    CallError,
    CallEvent,
    CallStatus,
    CallTransferred,
    ReplyPlayed,
)
from voice_agent.pipeline.edge import EdgeCapabilities
from voice_agent.pipeline.factory import CallFactory
from voice_agent.telephony.sip.message import (
    SipMessage,
    header_uri,
    new_branch,
    new_tag,
    response,
    uri_user,
)
from voice_agent.telephony.sip.sdp import SdpError, SdpOffer, build_answer, parse_offer
from voice_agent.telephony.sip.transport import RtpMedia, SipTransport

T1 = 0.5  # RFC 3261 round-trip estimate; retransmit at T1, 2·T1, … up to 64·T1
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY"

Send = Callable[[bytes, tuple[str, int]], None]


@dataclass
class DialogIds:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # the INVITE's To (us)
    remote_uri: str  # the INVITE's From (the caller)
    remote_target: str  # the caller's Contact: where in-dialog requests are addressed
    route: list[str] = field(default_factory=list)  # Record-Route of the INVITE


# an RTP line plays what it is sent: nothing can be taken back; marks echo as audio goes out
SIP_EDGE = EdgeCapabilities("sip", takes_back_unplayed=False, echoes_marks=True)


class SipCall:
    def __init__(
        self, invite: SipMessage, source: tuple[str, int], offer: SdpOffer, media: RtpMedia,
        factory: CallFactory, send: Send, local: tuple[str, int],
    ) -> None:
        self.invite = invite
        self.source = source  # the trunk's signalling address
        self.offer = offer
        self.media = media
        self.factory = factory
        self._send = send
        self.local = local  # our advertised (ip, SIP port)
        self.ids = DialogIds(
            call_id=invite.call_id, local_tag=new_tag(), remote_tag=invite.from_tag or "",
            local_uri=invite.get("to") or "", remote_uri=invite.get("from") or "",
            remote_target=header_uri(invite.get("contact") or "") or header_uri(
                invite.get("from") or ""),
            route=invite.get_all("record-route"),
        )
        allow = invite.get("allow")
        self.trunk_allows_refer = allow is None or "REFER" in allow.upper()
        self.sdp_version = 1
        self.final_response: bytes | None = None
        self.acked = asyncio.Event()
        self.ended = asyncio.Event()
        self.hung_up_by: str | None = None
        self._local_cseq = 0
        self.last_reply_turn = -1  # from BotReply / ReplyPlayed events (the endpoint routes them)
        self.played_turn = -1
        self._reply_changed = asyncio.Event()
        self._pending: dict[tuple[int, str], asyncio.Future[SipMessage]] = {}
        self._tasks: set[asyncio.Task] = set()
        sip_headers = {k: v for k, v in invite.headers if k.startswith("x-")}
        self.call = factory.new_call(
            SIP_EDGE, caller=uri_user(header_uri(self.ids.remote_uri)) or self.ids.remote_uri,
            callee=uri_user(header_uri(self.ids.local_uri)), provider_call_id=self.ids.call_id,
            sip_headers=sip_headers,
        )
        self.state = self.call.state
        self.transport = SipTransport(media, self.state)
        factory.build(self.call, self.transport)

    # ---- answering -------------------------------------------------------------------------

    def answer(self) -> None:
        """200 OK with our SDP, retransmitted until the ACK (RFC 3261 §13.3.1.4)."""
        ok = self._ok_with_sdp(self.invite)
        self.final_response = ok
        self._send(ok, self.source)
        self._spawn(self._retransmit_until_ack(ok, self.source))

    def _ok_with_sdp(self, request: SipMessage) -> bytes:
        body = build_answer(self.local[0], self.media.local_port, self.offer,
                            session_id=abs(hash(self.ids.call_id)) % 10**9,
                            version=self.sdp_version)
        return response(request, 200, to_tag=self.ids.local_tag, headers=[
            ("contact", f"<sip:agent@{self.local[0]}:{self.local[1]}>"), ("allow", ALLOW),
            ("content-type", "application/sdp"),
        ], body=body).encode()

    async def _retransmit_until_ack(self, ok: bytes, addr: tuple[str, int]) -> None:
        delay = T1
        for _ in range(7):  # 0.5 + 1 + 2 + 4 + 4 … ≈ 32 s (64·T1)
            try:
                await asyncio.wait_for(self.acked.wait(), delay)
                return
            except TimeoutError:
                if self.ended.is_set():
                    return
                self._send(ok, addr)
                delay = min(delay * 2, 4.0)
        logger.warning(f"{self.state.call_id}: no ACK for our 200 OK; hanging up")
        self.state.end_reason = "no_ack"
        await self.call.hang_up("no_ack")

    async def run(self) -> None:
        """The call's life: the pipeline until someone hangs up, then BYE if it was us."""
        try:
            await self.factory.run(self.call)
        except Exception as e:  # one call's failure must not reach the endpoint
            logger.exception(f"{self.state.call_id}: call failed: {e}")
            self.state.publish(CallError(call_id=self.state.call_id, message=str(e), fatal=True))
        finally:
            self.media.close()
            logger.info(f"{self.state.call_id}: RTP {self.media.stats}, "
                        f"sent {self.media.packetiser.packets_sent} packets")
            if not self.ended.is_set():  # the pipeline ended by itself ("goodbye")
                self.ended.set()
                self.hung_up_by = "agent"
            if self.hung_up_by == "agent":  # while the dialog is still routed to us
                await self._request("BYE")
            self.state.publish(CallStatus(
                call_id=self.state.call_id, status="completed",
                duration_s=round(self.state.duration_s, 3), hung_up_by=self.hung_up_by,
                provider_call_id=self.ids.call_id,
            ))
            for task in list(self._tasks):
                task.cancel()

    # ---- requests and responses from the trunk ---------------------------------------------

    async def on_request(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        """A request in this dialog; answered where it came from (RFC 3261 §18.2.2)."""
        method = msg.method
        if method == "INVITE":  # re-INVITE: new media address (hold, SBC failover)
            await self._reinvite(msg, addr)
        elif method == "ACK":
            self.acked.set()
        elif method == "BYE":
            self._send(response(msg, 200, to_tag=self.ids.local_tag).encode(), addr)
            await self.hang_up("caller", "caller_hangup")
        elif method == "CANCEL":  # we answer at once, so a CANCEL always comes too late
            self._send(response(msg, 200, to_tag=self.ids.local_tag).encode(), addr)
        elif method == "NOTIFY":  # progress of our REFER (RFC 3515 sipfrag)
            self._send(response(msg, 200, to_tag=self.ids.local_tag).encode(), addr)
            if msg.body.startswith(b"SIP/2.0 2"):
                await self.hang_up("agent", "transferred")
        elif method == "OPTIONS":
            self._send(response(msg, 200, to_tag=self.ids.local_tag,
                                headers=[("allow", ALLOW)]).encode(), addr)
        else:
            self._send(response(msg, 405, to_tag=self.ids.local_tag,
                                headers=[("allow", ALLOW)]).encode(), addr)

    async def _reinvite(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        if msg.body:
            try:
                offer = parse_offer(msg.body)
            except SdpError:
                offer = None
            if offer is None or offer.pcmu_pt is None:
                self._send(response(msg, 488, to_tag=self.ids.local_tag).encode(), addr)
                return
            self.offer = offer
            self.media.remote = (offer.address, offer.port)
            self.sdp_version += 1
        self.acked.clear()
        ok = self._ok_with_sdp(msg)
        self._send(ok, addr)
        self._spawn(self._retransmit_until_ack(ok, addr))

    def on_response(self, msg: SipMessage) -> None:
        future = self._pending.get(msg.cseq)
        if future is not None and not future.done() and msg.status and msg.status >= 200:
            future.set_result(msg)

    async def hang_up(self, by: str, reason: str) -> None:
        """End the call: BYE from the caller, a completed transfer, or the operator."""
        if self.ended.is_set():
            return
        self.ended.set()
        self.hung_up_by = by
        self.state.end_reason = reason
        await self.call.hang_up(reason)  # `run` ends the pipeline, then sends our BYE if it is ours

    # ---- transfer --------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        if isinstance(event, BotReply):
            self.last_reply_turn = max(self.last_reply_turn, event.turn)
        elif isinstance(event, ReplyPlayed):
            self.played_turn = max(self.played_turn, event.turn)
            self._reply_changed.set()

    async def _wait_reply_played(self, timeout_s: float) -> bool:
        """Until the last reply (the hand-over sentence) has played, as its marks say."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.played_turn < self.last_reply_turn and not self.ended.is_set():
            self._reply_changed.clear()
            try:
                await asyncio.wait_for(self._reply_changed.wait(), deadline - loop.time())
            except TimeoutError:
                return False
        return not self.ended.is_set()

    async def transfer(self, target: str, reason: str) -> None:
        """REFER the caller to `target` once the hand-over sentence has been played."""
        started = asyncio.get_running_loop().time()
        timeout = self.factory.settings.transfer.reply_played_timeout_s
        played = await self._wait_reply_played(timeout)
        if self.ended.is_set():
            return
        if not played:
            logger.warning(f"{self.state.call_id}: hand-over sentence not confirmed played; "
                           "transferring anyway")
        answer = await self._request("REFER", [
            ("refer-to", f"<{target}>"), ("referred-by", f"<sip:agent@{self.local[0]}>"),
        ])
        if answer is None or answer.status not in (200, 202):
            status = answer.status if answer else "no answer"
            self.state.publish(CallError(
                call_id=self.state.call_id, message=f"REFER to {target} refused: {status}"))
            return
        self.state.publish(CallTransferred(
            call_id=self.state.call_id, reason=reason, target=target,
            waited_s=round(asyncio.get_running_loop().time() - started, 3), reply_played=played,
        ))

    # ---- our requests ----------------------------------------------------------------------

    async def _request(
        self, method: str, headers: list[tuple[str, str]] | None = None,
    ) -> SipMessage | None:
        """Send an in-dialog request; retransmit (non-INVITE timer E) until a final answer."""
        self._local_cseq += 1
        key = (self._local_cseq, method)
        ids = self.ids
        msg = SipMessage(method=method, uri=ids.remote_target, headers=[
            ("via", f"SIP/2.0/UDP {self.local[0]}:{self.local[1]};branch={new_branch()};rport"),
            ("max-forwards", "70"),
            *[("route", r) for r in ids.route],
            ("from", f"{ids.local_uri};tag={ids.local_tag}"),
            ("to", ids.remote_uri), ("call-id", ids.call_id),
            ("cseq", f"{self._local_cseq} {method}"),
            ("contact", f"<sip:agent@{self.local[0]}:{self.local[1]}>"),
            *(headers or []),
        ])
        data = msg.encode()
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        delay, waited = T1, 0.0
        try:
            while waited < 32 * T1:
                self._send(data, self.source)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), delay)
                except TimeoutError:
                    waited += delay
                    delay = min(delay * 2, 4.0)
            logger.warning(f"{self.state.call_id}: no answer to our {method}")
            return None
        finally:
            self._pending.pop(key, None)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
