"""The `hoinghi` command: demo, serve, import, badges, db upgrade, user add, kiosk, tls selfsigned.

Settings come from the environment (DATABASE_URL, REDIS_URL, HOINGHI_SECRET_KEY, HOINGHI_HOST,
HOINGHI_PORT, …) or a TOML file given with --config. Every expected failure is one line on stderr and
exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from attendance.errors import AttendanceError
from conference.errors import ConferenceError, ImportRefused
from web import account_cli, face_calibrate
from web.settings import Settings, SettingsError, load

DEMO_DIR = Path("var/demo")


def fail(message: str) -> NoReturn:
    print(f"hoinghi: {message}", file=sys.stderr)
    raise SystemExit(2)


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load(os.environ, args.config, **overrides)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    try:
        asyncio.run(coro())  # type: ignore[arg-type]
    except ImportRefused as e:
        print(f"hoinghi: {e.message}", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    except (SettingsError, ConferenceError, AttendanceError) as e:
        fail(getattr(e, "message", str(e)))


def serve_app(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    from web import workers as processes
    from web.app import create_app
    from web.bootstrap import build

    refused = processes.refusal(settings, workers)
    if refused:
        fail(refused)

    async def preflight() -> None:
        async with build(settings):
            pass

    run(preflight)  # a wrong DATABASE_URL or an old schema stops here, in one line
    # A server holding 70,000 credentials, cards and check-ins would otherwise run a full collection
    # (~165 ms) every few hundred scans: keep start-up objects out of collection, collect young ones less.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    from web.live.protocol import WS_MAX_SIZE
    from web.live.wire import WireProtocol
    from web.logs import configure

    log_config = configure(settings.log_format)  # once: timestamps, level, logger, message on stdout
    options: dict[str, Any] = dict(
                host=settings.host, port=settings.port, log_level="info", log_config=log_config,
                access_log=settings.access_log,
                # X-Forwarded-* believed from nginx's address only (HOINGHI_FORWARDED_ALLOW_IPS; else 127.0.0.1)
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips or None,
                # frames are encoded once for all subscribers and written straight to each socket
                # (web/live/wire.py); per-socket zlib state would cost ~50 KiB and defeat that
                ws=WireProtocol, ws_per_message_deflate=False,
                ws_max_size=WS_MAX_SIZE,  # no frame bigger than the protocol's biggest (a camera frame) is read
                ws_ping_interval=None)  # the protocol's own heartbeat (docs/PROTOCOL.md) finds dead clients
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return

    def worker(number: int, sock: socket.socket) -> None:  # in a forked process (web/workers.py)
        own = replace(settings, hub_id=f"{settings.hub_id}-{number}") if settings.hub_id else settings
        server = uvicorn.Server(uvicorn.Config(create_app(own), **options))
        server.run(sockets=[sock])
        if not server.started:
            raise SystemExit(3)  # as uvicorn.run: the application did not start

    raise SystemExit(processes.serve(workers, settings.host, settings.port, worker))


# -- commands ---------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> None:
    serve_app(settings_from(args, host=args.host, port=args.port), args.workers)


def demo_secret(directory: Path) -> str:
    path = directory / "secret-key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def cmd_demo(args: argparse.Namespace) -> None:
    from web.bootstrap import build
    from web.demo import accounts, seeding

    directory: Path = args.dir
    if args.fresh:
        for suffix in ("", "-wal", "-shm"):
            (directory / f"hoinghi-demo.db{suffix}").unlink(missing_ok=True)
    settings = load({}, None, database_url=f"sqlite:///{directory / 'hoinghi-demo.db'}",
                    secret_key=demo_secret(directory), host=args.host, port=args.port, data_dir=directory)

    async def prepare() -> None:
        async with build(settings) as services:
            if not await seeding.is_seeded(services.engine):
                print(f"hoinghi: building the demo province ({args.members:,} members) …", file=sys.stderr)
                await seeding.seed(services.engine, services.conference.passwords, services.conference.clock(),
                                  members=args.members)
            elif await seeding.keep_open(services.engine, services.conference.clock()):
                print("hoinghi: the demo's sessions moved to start from now", file=sys.stderr)
            print(accounts.banner(f"http://{settings.host}:{settings.port}/", members=args.members), flush=True)

    run(prepare)
    serve_app(settings)


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from web import db
    from web.bootstrap import check_database

    settings = settings_from(args, auto_migrate=True)

    async def upgrade() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            await check_database(engine, settings)
        finally:
            await engine.dispose()
        print("hoinghi: the database schema is up to date")

    run(upgrade)


def cmd_import(args: argparse.Namespace) -> None:
    from conference.importer import text_progress_bar
    from web.bootstrap import build

    settings = settings_from(args)
    for path in args.files:
        if not path.is_file():
            fail(f"no such file: {path}")

    async def do_import() -> None:
        async with build(settings) as services:
            counts = await services.roster.import_files(args.files, actor=None, progress=text_progress_bar(sys.stderr))
            services.conference.forget_units()
        print(f"hoinghi: units +{counts.units_added} ~{counts.units_changed}, "
              f"persons +{counts.persons_added} ~{counts.persons_changed}"
              + ("" if counts.changed_anything else " (nothing changed)"))

    run(do_import)


def cmd_keys(args: argparse.Namespace) -> None:
    """The credential signing keys: list them, rotate to a new one, withdraw one (its credentials refused);
    everything sealed at rest sealed again with the current data key."""
    from conference.text import thousands
    from web.bootstrap import build

    settings = settings_from(args)

    async def keys() -> None:
        async with build(settings) as services:
            credentials = services.credentials
            if args.keys_command == "rotate":
                key = await credentials.rotate()
                print(f"hoinghi: signing key {key.key_id} ({key.fingerprint}) signs new credentials; "
                      "the earlier keys still verify until withdrawn")
            elif args.keys_command == "withdraw":
                await credentials.withdraw(args.key_id)
                print(f"hoinghi: signing key {args.key_id} withdrawn: the credentials it signed are refused")
            elif args.keys_command == "reseal":
                keys, templates = await credentials.reseal(), await services.biometrics.faces.reseal()
                print(f"hoinghi: {keys} signing keys and {thousands(templates)} face templates sealed again with "
                      "HOINGHI_DATA_KEY; HOINGHI_OLD_DATA_KEYS is no longer needed")
            for k in await credentials.keys():
                state = "withdrawn" if k.withdrawn_at else "current" if k.active else "verifies"
                print(f"{k.key_id}\t{k.fingerprint}\t{k.created_at:%Y-%m-%d %H:%M}\t{state}")

    run(keys)


def cmd_badges(args: argparse.Namespace) -> None:
    """A PDF of QR badges for a unit's subtree or a hall's invitees, with a progress bar on stderr."""
    from conference.importer import text_progress_bar
    from web.bootstrap import build
    from web.i18n import translator
    from web.render.badges import FontMissing, font_files, render

    settings = settings_from(args)
    try:
        font_files(settings.pdf_font_dir)
    except FontMissing as e:
        fail(e.message)

    async def make() -> None:
        async with build(settings) as services:
            cards = services.cards
            if args.unit is not None:
                by_code = {u.code: u.id for u in await services.conference.units()}
                if args.unit not in by_code:
                    fail(f"no unit with code {args.unit}")
                plan = await cards.unit_plan(None, by_code[args.unit], args.conference)
            else:
                plan = await cards.hall_plan(None, args.hall)
            sheet = await cards.sheet(plan, translator("vi")("qr_hint"))
        pdf = await asyncio.to_thread(render, sheet, settings.pdf_font_dir, text_progress_bar(sys.stderr, "thẻ"))
        args.output.write_bytes(pdf)
        print(f"hoinghi: {len(sheet.badges)} badges written to {args.output}")

    run(make)


def cmd_kiosk(args: argparse.Namespace) -> None:
    """A hall PC with a USB camera as a kiosk: the same protocol as the kiosk page, verdicts printed."""
    from web.kiosk.client import KioskFailed, Options, run

    token = args.token or os.environ.get("HOINGHI_KIOSK_TOKEN", "")
    if not token:
        fail("give the kiosk's device token with --token or HOINGHI_KIOSK_TOKEN")
    options = Options(args.server, token, args.session, args.camera, args.video, args.fps,
                      "face" if args.face else "qr", args.lang)
    try:
        run(options, sys.stdout, sys.stderr)
    except KioskFailed as e:
        fail(str(e))


def cmd_tls_selfsigned(args: argparse.Namespace) -> None:
    """A local CA (kept and reused) and a server certificate for nginx (web/tls.py)."""
    from web.tls import TlsError, selfsigned

    if args.if_missing and (args.out / "server.crt").is_file() and (args.out / "server.key").is_file():
        print(f"hoinghi: {args.out} already holds a server certificate; kept")
        return
    try:
        issued = selfsigned(args.out, args.host or [], args.ip or [])
    except TlsError as e:
        fail(str(e))
    print(f"hoinghi: {'a new' if issued.ca_created else 'the existing'} CA {issued.ca}; server certificate for "
          f"{', '.join(issued.names + issued.addresses)} until {issued.not_after:%d/%m/%Y} in {issued.directory}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hoinghi", description=__doc__.splitlines()[0] if __doc__ else None)
    top.add_argument("--config", type=Path, help="a TOML settings file (keys: database_url, redis_url, secret_key, "
                                                 "host, port, …); the environment overrides it")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="serve a demo province on SQLite (no other service needed)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--members", type=int, default=70_000, help="party members in the demo province")
    demo.add_argument("--dir", type=Path, default=DEMO_DIR, help="where the demo database lives")
    demo.add_argument("--fresh", action="store_true", help="rebuild the demo database from scratch")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve with the configured database and bus")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes behind the port (PostgreSQL and Redis only; web/workers.py)")
    serve.set_defaults(func=cmd_serve)

    imp = sub.add_parser("import", help="import units and persons from CSV or XLSX files")
    imp.add_argument("files", nargs="+", type=Path)
    imp.set_defaults(func=cmd_import)

    dbp = sub.add_parser("db", help="database schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply every pending migration").set_defaults(func=cmd_db_upgrade)

    badges = sub.add_parser("badges", help="print QR badges (PDF, A4) for a unit's members or a hall's invitees")
    which = badges.add_mutually_exclusive_group(required=True)
    which.add_argument("--unit", help="code of the unit: everyone in its subtree")
    which.add_argument("--hall", type=int, help="id of the hall: everyone invited to it")
    badges.add_argument("--conference", type=int, help="id of the conference whose title goes on a unit's badges")
    badges.add_argument("-o", "--output", type=Path, required=True, help="the PDF file to write")
    badges.set_defaults(func=cmd_badges)

    face_calibrate.add_parser(sub)  # hoinghi faces calibrate DIR (web/face_calibrate.py)
    account_cli.add_parser(sub)  # hoinghi user add, hoinghi accounts deactivate|activate|role (web/account_cli.py)

    keysp = sub.add_parser("keys", help="the credential (QR) signing keys")
    keysub = keysp.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keysub.add_parser("list", help="every signing key and its state").set_defaults(func=cmd_keys)
    keysub.add_parser("rotate", help="a new signing key signs new credentials; the old ones still verify",
                      ).set_defaults(func=cmd_keys)
    withdraw = keysub.add_parser("withdraw", help="a signing key no longer accepted: its credentials are refused")
    withdraw.add_argument("key_id", type=int)
    withdraw.set_defaults(func=cmd_keys)
    keysub.add_parser("reseal", help="seal the signing keys and face templates again with HOINGHI_DATA_KEY (after "
                                     "a data key rotation: then HOINGHI_OLD_DATA_KEYS can be emptied)",
                      ).set_defaults(func=cmd_keys)

    kiosk = sub.add_parser("kiosk", help="run a check-in kiosk from this PC's camera (or a video file)",
                           description="Send camera frames to the server's live hub at a bounded rate and print "
                                       "each check-in verdict (docs/KIOSK.md).")
    kiosk.add_argument("--server", required=True, help="the server's address, e.g. https://hoinghi.example.vn")
    kiosk.add_argument("--token", help="the kiosk's device token (default: $HOINGHI_KIOSK_TOKEN, which keeps it "
                                       "out of the process list)")
    kiosk.add_argument("--session", type=int, required=True, help="id of the session to check people in to")
    source = kiosk.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="camera index (default 0)")
    source.add_argument("--video", type=Path, help="a video file to play instead of a camera (ends when it does)")
    kiosk.add_argument("--fps", type=float, default=5.0, help="frames sent per second (0.2 to 15, default 5)")
    kiosk.add_argument("--face", action="store_true", help="also recognise enrolled faces (opt-in)")
    kiosk.add_argument("--lang", choices=["vi", "en"], default="vi", help="language of the verdicts")
    kiosk.set_defaults(func=cmd_kiosk)

    tlsp = sub.add_parser("tls", help="certificates for a closed network")
    tlssub = tlsp.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    selfp = tlssub.add_parser("selfsigned", help="a local CA (made once) and a server certificate it signs")
    selfp.add_argument("--host", action="append", help="a DNS name of the server (repeatable)")
    selfp.add_argument("--ip", action="append", help="an IP address of the server (repeatable)")
    selfp.add_argument("--out", type=Path, default=Path("tls"), help="the directory (default ./tls)")
    selfp.add_argument("--if-missing", action="store_true",
                       help="do nothing if the directory holds a server certificate (yours or an earlier one)")
    selfp.set_defaults(func=cmd_tls_selfsigned)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except SettingsError as e:
        fail(str(e))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
