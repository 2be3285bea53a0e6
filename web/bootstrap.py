"""The process's services, built once in the app's lifespan from the settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from attendance.face_engine import EngineConfig, FaceEngine
from attendance.face_match import MatchPolicy
from attendance.face_service import FaceService
from attendance.issuer import Credentials
from attendance.keys import Sealer
from attendance.ledger import Ledger
from attendance.liveness import LivenessMode, LivenessPolicy
from attendance.rules import WrongHallPolicy
from attendance.service import DeviceService
from attendance.store import AttendanceStore, FaceStore, LedgerStore
from conference.blobs import BlobStore
from conference.importer import RosterImporter
from conference.library import DocumentLibrary
from conference.passwords import Passwords
from conference.service import ConferenceService
from conference.store import ConferenceStore
from conference.store.jobs import JobStore
from web import db, metrics
from web.kiosk.vision import FramePool
from web.live.bus import bus_from_url
from web.live.hub import Hub
from web.live.identity import Identity
from web.media.ice import parse_ice_servers, parse_turn
from web.media.service import MediaConfig, MediaService
from web.media.viewing import facts_from_url
from web.settings import Settings, SettingsError
from web.throttle.backends import throttle_from_url
from web.throttle.rule import Backoff
from web.usecases.attendance import Attendance
from web.usecases.badge_jobs import BadgeJobs
from web.usecases.biometrics import Biometrics, HallInvitees
from web.usecases.cards import Cards
from web.usecases.checkin import CheckIns
from web.usecases.facts import ConferenceFacts
from web.usecases.guarded import Guarded, Limits
from web.usecases.health import Health
from web.usecases.reports import Reports


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    conference: ConferenceService
    roster: RosterImporter
    devices: DeviceService
    facts: ConferenceFacts
    credentials: Credentials
    ledger: Ledger
    hub: Hub
    biometrics: Biometrics  # face enrolment and recognition (opt-in)
    media: MediaService  # the livestream: WebRTC relay, HLS, recordings (docs/MEDIA.md)
    frames: FramePool  # kiosk camera frames are read in these threads
    cards: Cards  # QR cards: own code, re-issue, badge sheets
    library: DocumentLibrary  # conference documents and their files
    attendance: Attendance  # one session's attendance as every screen counts it; the hall page
    reports: Reports  # report tables, the result report, the audit view
    badge_jobs: BadgeJobs  # badge PDFs made in the background
    health: Health  # /healthz, /readyz (web/routes/health.py); metrics in web/metrics.py
    checkins: CheckIns  # scans, uploads, faces -> check-in, undo, absence, headcount (web/usecases/checkin.py)
    guarded: Guarded  # sign-in, password change, kiosk enrolment, receipts: throttled (web/usecases/guarded.py)


async def check_database(engine: AsyncEngine, settings: Settings) -> None:
    """Fail with one clear line when the database cannot be reached or its schema is behind."""
    try:
        if settings.auto_migrate:
            await db.upgrade(engine)
        elif await db.needs_upgrade(engine):
            raise SettingsError("the database schema is not up to date: run `hoinghi db upgrade`")
    except (OperationalError, DBAPIError, OSError) as e:
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise SettingsError(f"cannot use the database at {safe_url(settings.database_url)}: {reason}") from None


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Services]:
    engine = db.create_engine(settings.database_url)
    try:
        await check_database(engine, settings)
        passwords = Passwords(settings.password_time_cost, settings.password_memory_kib, settings.password_workers)
        store = ConferenceStore(engine)
        conference = ConferenceService(store, passwords, utc_now)
        facts = ConferenceFacts(conference, WrongHallPolicy(settings.wrong_hall), settings.admit_uninvited)
        ledger_store = LedgerStore(engine)
        sealer = Sealer(settings.data_keys[0], settings.data_keys[1:])
        credentials = Credentials(ledger_store, sealer, utc_now)
        ledger = Ledger(ledger_store, credentials, facts, utc_now)
        attendance = Attendance(conference, ledger_store, facts)
        await ledger.start()
        devices = DeviceService(AttendanceStore(engine), utc_now)
        bus = bus_from_url(settings.redis_url)
        viewing = facts_from_url(settings.redis_url)  # on air, whose media flows: told by media, read by the hub
        hub = Hub(settings.hub_id or f"hub-{os.getpid()}", bus, conference, facts, ledger, settings.zone,
                  Identity(settings.secret_key, conference, devices, bus), settings.online_after_minutes * 60,
                  viewing)
        devices.revoked.append(lambda device_id: hub.end(devices=[device_id]))  # its sockets closed on every hub
        conference.sessions_ended.append(lambda user_id: hub.end(users=[user_id]))  # signed out: likewise
        devices.audited.append(conference.record_device_change)  # codes, enrolments, revocations: the audit log
        await hub.start()
        media = MediaService(media_config(settings), conference, facts, viewing=viewing)
        await media.start()
        hub.users_ended.append(media.end_users)  # an account ended on any hub: its WebRTC media closes too
        frames = FramePool(settings.kiosk_workers)
        biometrics = face_services(settings, engine, conference, facts, sealer)
        await biometrics.purge_expired()
        badge_jobs = BadgeJobs(JobStore(engine), BlobStore(settings.badges_path), utc_now)
        ledger.observers.append(metrics.committed)
        monitor = metrics.Monitor(hub, media)
        await monitor.start()
        health = Health(hub.hub_id, engine, settings.redis_url)
        throttle = throttle_from_url(settings.redis_url)
        try:
            yield Services(
                settings=settings,
                engine=engine,
                conference=conference,
                roster=RosterImporter(store, utc_now),
                devices=devices,
                facts=facts,
                credentials=credentials,
                ledger=ledger,
                hub=hub,
                biometrics=biometrics,
                media=media,
                frames=frames,
                cards=Cards(conference, credentials),
                library=DocumentLibrary(conference, BlobStore(settings.documents_path)),
                attendance=attendance,
                reports=Reports(conference, ledger_store, settings.zone, attendance),
                badge_jobs=badge_jobs,
                health=health,
                checkins=CheckIns(conference, facts, ledger, credentials, settings.zone, utc_now,
                                  settings.secret_key),
                guarded=Guarded(throttle, throttle_limits(settings), conference, devices),
            )
        finally:
            await throttle.close()
            passwords.close()
            await badge_jobs.close()
            await health.close()
            await monitor.stop()
            await media.stop()
            await hub.stop()
            await viewing.close()
            await biometrics.faces.engine.close()
            frames.close()
            await ledger.stop()
    finally:
        await engine.dispose()


def throttle_limits(settings: Settings) -> Limits:
    longest = float(settings.throttle_longest_seconds)
    return Limits(Backoff(settings.signin_account_attempts, min(1.0, longest), longest, max(900.0, longest)),
                  Backoff(settings.signin_address_attempts, min(1.0, longest), longest, max(900.0, longest)))


def media_config(settings: Settings) -> MediaConfig:
    return MediaConfig(settings.media_root, parse_ice_servers(settings.ice_servers), settings.media_codec,
                       tuple(a.strip() for a in settings.media_addresses.split(",") if a.strip()),
                       record=settings.record_broadcasts, segment_seconds=float(settings.hls_segment_seconds),
                       max_viewers=settings.media_max_viewers, viewer_secret=settings.secret_key,
                       turn=parse_turn(settings.turn_urls, settings.turn_secret, settings.turn_ttl_seconds))


def face_services(settings: Settings, engine: AsyncEngine, conference: ConferenceService, facts: ConferenceFacts,
                  sealer: Sealer) -> Biometrics:
    roster = HallInvitees(facts)
    faces = FaceService(
        FaceStore(engine), FaceEngine(EngineConfig(min_face=settings.face_min_size, workers=settings.face_workers)),
        sealer, utc_now, roster,
        MatchPolicy(settings.face_threshold, settings.face_margin, settings.face_confirm_band,
                    settings.face_verify_threshold),
        LivenessPolicy(mode=LivenessMode(settings.face_liveness)),
        timedelta(days=settings.face_retention_days) if settings.face_retention_days else None)
    return Biometrics(conference, faces, roster, settings.face_retention_days)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc
