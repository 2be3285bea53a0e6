"""The signalling messages of a hub connection (docs/PROTOCOL.md section 7), carried out on this process's
broadcasts: each is checked by `access` first (watch, publish, speak for a hall, give the floor), then
done by the media service; a refusal is answered on the connection as `rtc_error` with its code.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conference.errors import ConferenceError, Forbidden, NotFound
from web.live.protocol import FloorControl, MediaMessage, MediaWatch, RaiseHand, RtcCandidate, RtcClose, RtcOffer, frame
from web.media.broadcast import Connection, Peer
from web.media.errors import MediaRefused
from web.media.floor import FloorError
from web.media.peers import OfferRefused, add_candidate
from web.media.relay import Source

if TYPE_CHECKING:
    from web.media.service import MediaService

log = logging.getLogger(__name__)

PEERS_PER_CONNECTION = 3


class Signalling:
    """Answers one connection's signalling messages, one at a time per message (the caller spawns them)."""

    def __init__(self, media: MediaService) -> None:
        self.media = media
        self.access = media.access

    async def handle(self, conn: Connection, message: MediaMessage) -> None:
        session = getattr(message, "session", None)
        try:
            if isinstance(message, RtcOffer):
                await self._offer(conn, message)
            elif isinstance(message, RtcCandidate):
                peer = self._own_peer(conn, message.pc)
                try:
                    await add_candidate(peer.pc, message.candidate, message.sdp_mid, message.sdp_mline_index)
                except OfferRefused as e:
                    raise MediaRefused("bad_candidate", str(e)) from None
            elif isinstance(message, RtcClose):
                await self.media.close_peer(self._own_peer(conn, message.pc), "closed by the client")
            elif isinstance(message, MediaWatch):
                await self._watch(conn, message.session)
            elif isinstance(message, RaiseHand):
                await self._hand(conn, message)
            elif isinstance(message, FloorControl):
                await self._floor(conn, message)
        except MediaRefused as e:
            conn.push(frame("rtc_error", code=e.code, message=e.message, session=session,
                            ref=getattr(message, "ref", None), pc=getattr(message, "pc", None)))
        except Forbidden as e:
            conn.push(frame("rtc_error", code="forbidden", message=e.message, session=session,
                            ref=getattr(message, "ref", None)))
        except NotFound as e:
            conn.push(frame("rtc_error", code="not_found", message=e.message, session=session,
                            ref=getattr(message, "ref", None)))
        except ConferenceError as e:
            conn.push(frame("rtc_error", code=e.code, message=e.message, session=session))
        except Exception:
            log.exception("media message %s failed", type(message).__name__)
            conn.push(frame("rtc_error", code="internal", message="the media service failed", session=session))

    def _own_peer(self, conn: Connection, peer_id: str) -> Peer:
        """A peer connection is handled only from its socket (or, once that closed, from the next one)."""
        peer = self.media.open_peers.get(peer_id)
        if peer is None or (peer.owner is not None and peer.owner is not conn):
            raise MediaRefused("unknown_pc", "no such peer connection on this socket")
        peer.owner = conn
        return peer

    async def _offer(self, conn: Connection, offer: RtcOffer) -> None:
        media = self.media
        audience = await self.access.audience(conn.user, conn.device, offer.session)
        if sum(p.owner is conn for p in media.open_peers.values()) >= PEERS_PER_CONNECTION:
            raise MediaRefused("too_many", f"at most {PEERS_PER_CONNECTION} peer connections per socket")
        broadcast = media.open_broadcast(audience)
        if offer.role == "view":
            peer, answer = await media.view(broadcast, offer.sdp, conn)
        elif offer.hall is not None or (conn.device is not None and conn.user is None):
            hall = await self.access.speaking_hall(audience, offer.hall)
            if broadcast.floor.holder != hall.id:
                raise MediaRefused("no_floor", "this hall does not have the floor")
            peer, answer = await media.publish(broadcast, offer.sdp, Source(f"hall:{hall.id}", hall.name, hall.id),
                                               conn)
        else:
            live = broadcast.presenter
            takeover = await self.access.require_publish(conn.user, audience, live.user_id if live else None)
            assert conn.user is not None
            peer, answer = await media.publish(broadcast, offer.sdp,
                                               Source("presenter", conn.user.display_name, user_id=conn.user.id), conn)
            if takeover:
                await self.access.record_takeover(conn.user, audience, live.user_id if live else None)
        conn.push(frame("rtc_answer", session=offer.session, role=offer.role, pc=peer.id, sdp=answer, ref=offer.ref))

    async def _watch(self, conn: Connection, session_id: int) -> None:
        audience = await self.access.audience(conn.user, conn.device, session_id)
        broadcast = self.media.open_broadcast(audience)
        broadcast.watchers.add(conn)
        conn.push(self.media.state_frame(broadcast))

    async def _hand(self, conn: Connection, message: RaiseHand) -> None:
        audience = await self.access.audience(conn.user, conn.device, message.session)
        hall = await self.access.speaking_hall(audience, message.hall)
        broadcast = self.media.open_broadcast(audience)
        if message.up:
            broadcast.floor.raise_hand(hall.id, hall.name, datetime.now(UTC))
        else:
            broadcast.floor.lower_hand(hall.id)
        broadcast.dirty = True

    async def _floor(self, conn: Connection, message: FloorControl) -> None:
        audience = await self.access.audience(conn.user, conn.device, message.session)
        if not await self.access.may_control(conn.user, audience):
            raise Forbidden("only the conference's organisers give the floor")
        broadcast = self.media.open_broadcast(audience)
        floor = broadcast.floor
        try:
            if message.action == "order":
                floor.reorder(list(message.halls))
            elif message.action == "give":
                assert message.hall is not None
                await self.media.take_back(broadcast)
                floor.give(message.hall)
            else:
                await self.media.take_back(broadcast)
        except FloorError as e:
            raise MediaRefused("floor", str(e)) from None
        broadcast.choose_on_air()
        broadcast.dirty = True
