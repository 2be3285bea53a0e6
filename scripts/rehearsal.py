"""Full rehearsal at province scale: the scaled-out deployment, a whole conference, and faults.

Starts, on this machine and without Docker, what docker-compose.yml describes (scripts/rehearse/
deployment.py): a throwaway PostgreSQL cluster and Redis, the schema migrated by the `migrate`
service's command, the three hubs with the compose file's command line and environment, and nginx
with deploy/nginx.conf in front of them. Then it plays a conference through nginx:

- the demo province (71,430 members: 70,000 expected) in 120 halls of all four channels;
- check-ins arriving the way people arrive (most in the last 20 minutes before the opening, compressed
  into `--minutes` of real time) at about 250 kiosks, each scanning people's real QR credentials
  (repeats, another hall's kiosk and forged codes among them), a face kiosk recognising the people of
  the shared face photos, and kiosks that hold the live hub's socket so their halls show online;
- 5,000 participants watching from their browsers (ticket, viewer topic, heartbeats, and a player pulling
  the HLS stream with their own viewer key: only media that flows counts online), of whom
  `--sign-ins` sign in through the sign-in page during the rehearsal;
- 20 organisers' dashboards on the province's live attendance, and a presenter on air (aiortc's test
  picture, published again after a hub dies: scripts/rehearse/media.py).

Faults (scripts/rehearse/faults.py; `--faults all` for all of them):

    --kill-hub               SIGKILL of a hub mid-storm; compose's restart policy brings it back
    --stop-redis SECONDS     Redis stopped, then started again
    --restart-postgres       PostgreSQL stopped (fast shutdown) and started again
    --offline-kiosk SCANS    a kiosk offline for 10 minutes uploads its queue at once
    --reconnect-storm N      N participants reconnecting at the same moment

At the end it checks the store (every acknowledged check-in there, nobody twice), waits for every
dashboard to show the store's numbers, and prints a report whose last line is

    halls=<n> checkins=<n> lost=<n> duplicates=<n> dashboard_lag_p99_ms=<float> errors=<n>

    uv run python scripts/rehearsal.py                      # the province: about 10 minutes
    uv run python scripts/rehearsal.py --faults all         # the same with every fault
    uv run python scripts/rehearsal.py --members 12000 --halls 6 --people 1500 --viewers 200 \\
        --dashboards 3 --minutes 0.75 --faults all --offline-kiosk 300 --reconnect-storm 100   # small
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import check_store
from rehearse.client import Front, HttpError, device_address, sign_in
from rehearse.compose import ROOT
from rehearse.crowd import Dashboards, Viewers, Worker
from rehearse.deployment import Deployment
from rehearse.faults import FaultOptions, Faults
from rehearse.kiosks import Kiosks, _form
from rehearse.media import Presenter
from rehearse.plan import Laps, Plan, Sizes, prepare
from rehearse.report import Run, report
from rehearse.retry import Attempts, persist
from scan_plan import largest_remainder

from attendance import tables as at
from web.db import create_engine
from web.settings import load

MEMBERS = 71_430  # the demo province with 70,000 expected (invited, not exempt)
PROGRESS_S = 15.0
SIZES: tuple[tuple[str, type, float | None, str], ...] = (
    ("--members", int, MEMBERS, "members of the demo province"),
    ("--halls", int, None, "halls with kiosks, taken in turn from each channel (default: all)"),
    ("--people", int, None, "people who come in person (default: all who do)"),
    ("--viewers", int, 5000, "participants watching from a browser"),
    ("--sign-ins", int, 100, "of them, those who sign in through the page during the rehearsal (the others did "
                             "before)"),
    ("--dashboards", int, 20, "organisers' dashboards"),
    ("--minutes", float, 5.0, "real minutes the arrivals are compressed into"),
    ("--per-kiosk", int, 300, "people per kiosk (a hall has at least one)"),
    ("--absent", float, 0.03, "share of the invited who stay away"),
    ("--repeats", float, 0.02, "share who scan twice"),
    ("--forged", float, 0.002, "share who show a forged code"),
    ("--wrong-hall", float, 0.01, "share who scan at another hall's kiosk"),
    ("--viewer-procs", int, None, "client processes for the participants (default: one per 2,500)"),
)


def options() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_argument_group("size")
    for flag, kind, default, text in SIZES:
        size.add_argument(flag, type=kind, default=default, help=text)
    fault = p.add_argument_group("faults")
    fault.add_argument("--faults", choices=["all"], help="every fault, with its default size unless given")
    fault.add_argument("--kill-hub", action="store_true", help="SIGKILL a hub mid-storm")
    fault.add_argument("--hub-down", type=float, default=5.0, help="seconds until the killed hub is started again")
    fault.add_argument("--stop-redis", type=float, metavar="SECONDS", help="stop Redis for this long (all: 10)")
    fault.add_argument("--restart-postgres", action="store_true", help="restart PostgreSQL mid-storm")
    fault.add_argument("--postgres-down", type=float, default=5.0, help="seconds PostgreSQL stays down")
    fault.add_argument("--offline-kiosk", type=int, metavar="SCANS", help="an offline kiosk's queue (all: 2000)")
    fault.add_argument("--reconnect-storm", type=int, metavar="N", help="participants reconnecting at once "
                                                                        "(all: 1000)")
    other = p.add_argument_group("other")
    other.add_argument("--online-after", type=float, default=2.0,
                       help="HOINGHI_ONLINE_AFTER_MINUTES for the run (the conference is compressed too)")
    other.add_argument("--postgres", metavar="ADMIN_URL", help="use this PostgreSQL server (a throwaway database; "
                                                                "no --restart-postgres) instead of a cluster of the "
                                                                "run's own")
    other.add_argument("--faces", type=Path, default=Path(os.environ.get("HOINGHI_FACES_DIR",
                                                                         ROOT.parent / "shared" / "faces")),
                       help="the shared face photos (default: HOINGHI_FACES_DIR or ../shared/faces)")
    other.add_argument("--no-faces", action="store_true", help="no face check-ins")
    other.add_argument("--converge-timeout", type=float, default=90.0, help="seconds to wait for the dashboards")
    other.add_argument("--seed", type=int, default=2026)
    other.add_argument("--keep", action="store_true", help="keep the run's directory (logs, databases)")
    args = p.parse_args()
    if args.faults == "all":
        args.kill_hub = args.restart_postgres = True
        args.stop_redis = 10.0 if args.stop_redis is None else args.stop_redis
        args.offline_kiosk = 2000 if args.offline_kiosk is None else args.offline_kiosk
        args.reconnect_storm = 1000 if args.reconnect_storm is None else args.reconnect_storm
    if args.restart_postgres and args.postgres:
        p.error("--restart-postgres needs the run's own PostgreSQL cluster: leave out --postgres")
    if args.minutes <= 0 or args.viewers < 0 or args.dashboards < 1:
        p.error("need --minutes > 0, --viewers ≥ 0 and --dashboards ≥ 1")
    return args


def say(text: str) -> None:
    print(f"rehearsal: {text}", file=sys.stderr, flush=True)


async def enrol_faces(plan: Plan, front: Front) -> list[dict[str, Any]]:
    """The face kiosk's hall clerk (here the administrator) enrols the people of the shared photos, with
    their recorded consent: POST /api/persons/{id}/face."""
    if not plan.faces:
        return []
    http = front.http(device_address(3, 250))  # the registration desk's PC
    csrf = await sign_in(http, *plan.admin)
    out = []
    attempts = Attempts()
    for face in plan.faces:
        body, content_type = _form({"consent": "true", "channel": "hall_operator"},
                                   {"image": (face.enrol_photo.name, face.enrol_photo.read_bytes())})
        path = f"/api/persons/{face.person_id}/face"

        async def send(path: str = path, body: bytes = body, content_type: str = content_type) -> tuple[int, bytes]:
            try:
                answer = await http.request("POST", path, body, {"Content-Type": content_type, "X-CSRF-Token": csrf},
                                            timeout=120)
            except HttpError as e:
                return 0, e.text.encode()
            return answer.status, answer.body

        status, data, _ = await persist(send, attempts)
        out.append({"name": face.name, "ok": status == 201, "status": status, "detail": data[:200].decode()})
    http.close()
    return out


async def store_counts(url: str, session_id: int) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as c:
            rows = await c.execute(select(at.checkins.c.status, func.count()).where(
                at.checkins.c.session_id == session_id).group_by(at.checkins.c.status))
            return {str(status): int(n) for status, n in rows}
    finally:
        await engine.dispose()


async def present_online(url: str, session_id: int) -> set[int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as c:
            return {int(p) for p, in await c.execute(select(at.checkins.c.person_id).where(
                at.checkins.c.session_id == session_id, at.checkins.c.status == "present_online"))}
    finally:
        await engine.dispose()


def converge(url: str, plan: Plan, dashboards: Worker, viewers: list[Worker], timeout: float) -> dict[str, Any]:
    """Until every dashboard shows the store's counts (in person, online) and the participants watching."""
    started = time.monotonic()
    detail = ""
    while True:
        counts = asyncio.run(store_counts(url, plan.session_id))
        watching = len({p for w in viewers for p in w.ask("status", "status")["persons"]})
        shown = dashboards.ask("status", "status")["totals"]
        want = (counts.get("present_in_person", 0), counts.get("present_online", 0), watching)
        got = [(t["in_person"], t["online"], t["viewers"]) if t else None for t in shown]
        detail = (f"store in person {want[0]:,}, online {want[1]:,}, {want[2]:,} watching; dashboards "
                  + ", ".join(sorted({str(g) for g in got})))
        if all(g == want for g in got):
            return {"ok": True, "seconds": time.monotonic() - started, "detail": f"{len(got)} dashboards show "
                    f"in person {want[0]:,}, online {want[1]:,}, viewers {want[2]:,} = the store and the watchers"}
        if time.monotonic() - started > timeout:
            return {"ok": False, "seconds": time.monotonic() - started, "detail": detail}
        time.sleep(1.0)


def progress(t0: float, kiosks: Worker, viewers: list[Worker], dashboards: Worker) -> dict[str, Any]:
    k: dict[str, Any] = kiosks.ask("status", "status")
    v = [w.ask("status", "status") for w in viewers]
    d = dashboards.ask("status", "status")
    shown = [t["in_person"] for t in d["totals"] if t]
    say(f"{time.monotonic() - t0:5.0f} s  scans {k['done']:,}/{k['total']:,}  accepted {k['accepted']:,}  "
        f"in flight {k['running']}  failed tries {k['retries']:,}  watching {sum(x['connected'] for x in v):,}/"
        f"{sum(x['viewers'] for x in v):,}  dashboards {d['connected']}/{len(d['totals'])} showing "
        f"{min(shown, default=0):,}–{max(shown, default=0):,}  hall links {k['hall_links']}")
    return k


def main() -> None:
    args = options()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # nginx and the hubs inherit it
    faults = FaultOptions(args.kill_hub, args.hub_down, args.stop_redis or 0.0, args.restart_postgres,
                          args.postgres_down, args.offline_kiosk or 0, args.reconnect_storm or 0)
    seconds = args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-rehearsal-"))
    overrides = {"HOINGHI_FACE_LIVENESS": "off",  # the kiosk shows still photos: nobody blinks
                 "HOINGHI_ONLINE_AFTER_MINUTES": f"{args.online_after:g}"}
    deployment = Deployment(workdir, args.postgres, overrides)
    workers: list[Worker] = []
    laps = Laps()
    try:
        say(f"starting PostgreSQL and Redis, migrating ({workdir})")
        deployment.start_stores()
        laps.lap("stores and migration")
        settings = load(deployment.env, None, password_time_cost=1, password_memory_kib=8192)
        say(f"preparing the province ({args.members:,} members) …")
        faces_dir = None if args.no_faces else args.faces
        if faces_dir is not None and not faces_dir.is_dir():
            say(f"warning: no face photos at {faces_dir}: no face check-ins")
            faces_dir = None
        plan = asyncio.run(prepare(settings, Sizes(
            args.members, args.halls, args.people, args.viewers, min(args.sign_ins, args.viewers), seconds,
            faults.offline_kiosk, args.per_kiosk, args.absent, args.repeats, args.forged, args.wrong_hall, args.seed),
            faults.client_schedule(seconds), faces_dir))
        laps.times.update({f"prepare: {k}": v for k, v in plan.timings.items()})
        laps.mark = time.perf_counter()
        say("starting the hubs and nginx")
        deployment.start_hubs()
        laps.lap("hubs and nginx")
        face_enrolments = asyncio.run(enrol_faces(plan, deployment.front))
        laps.lap("face enrolments")

        procs = args.viewer_procs or max(1, -(-len(plan.viewers) // 2500))
        shares = [plan.viewers[i::procs] for i in range(procs)]
        storm = largest_remainder(min(faults.reconnect_storm, len(plan.viewers)), [float(len(s)) for s in shares])
        say(f"{len(plan.kiosks)} kiosks, {len(plan.viewers):,} participants in {procs} processes, "
            f"{args.dashboards} dashboards: connecting")
        kiosks = Worker("kiosks", Kiosks(plan, deployment.front))
        viewers = [Worker(f"viewers{i}", Viewers(plan, deployment.front, s, n))
                   for i, (s, n) in enumerate(zip(shares, storm, strict=True))]
        dashboards = Worker("dashboards", Dashboards(plan, deployment.front, args.dashboards))
        presenter = Worker("presenter", Presenter(plan, deployment.front))  # on air: participants count online
        workers = [kiosks, *viewers, dashboards, presenter]
        for w in workers:
            w.receive("ready", 600)
        laps.lap("clients connected")

        t0 = time.monotonic() + 1.0
        for w in workers:
            w.tell("go", t0)
        chosen = [k for k, v in vars(faults).items() if v and not k.endswith("_down")]
        say(f"arrivals for {seconds:.0f} s (peak {plan.peak_per_s:,.0f}/s)"
            + (f"; faults: {', '.join(chosen)}" if chosen else ""))
        schedule = Faults(deployment, faults, t0, seconds)
        crashed: set[str] = set()
        next_progress = t0 + PROGRESS_S
        while True:
            now = time.monotonic()
            schedule.tick(now, say)
            crashed.update(deployment.crashed())
            if now >= next_progress:
                next_progress += PROGRESS_S
                k = progress(t0, kiosks, viewers, dashboards)
                if k["finished"] and not schedule.pending and now > t0 + seconds:
                    break
            time.sleep(0.1)
        ended = time.monotonic()
        say("arrivals over: waiting for the dashboards to show the store's numbers")
        result = converge(deployment.env["DATABASE_URL"], plan, dashboards, viewers, args.converge_timeout)
        crashed.update(deployment.crashed())
        reports = {w.name: w.ask("finish", "report", timeout=120) for w in workers}
        media = reports["presenter"], [(r["segments"], r["pull_failures"]) for r in (reports[w.name] for w in viewers)]
        say(f"the presenter published {media[0]['publishes']} times (failures {media[0]['failures']}); "
            f"participants' players fetched {sum(n for n, _ in media[1]):,} segments, "
            f"{sum(f for _, f in media[1]):,} fetches failed")
        k = reports["kiosks"]
        accepted = {d.person_id for d in k["done"] if d.outcome == "accepted"}
        nonces = {d.nonce for d in k["done"] if d.status == 200}
        store = asyncio.run(check_store(deployment.env["DATABASE_URL"], plan.session_id, accepted, nonces))
        counts = asyncio.run(store_counts(deployment.env["DATABASE_URL"], plan.session_id))
        online = asyncio.run(present_online(deployment.env["DATABASE_URL"], plan.session_id))
        run = Run(plan, shlex.join(["uv", "run", "python", "scripts/rehearsal.py", *sys.argv[1:]]), t0, ended, k,
                  [reports[w.name] for w in viewers], reports["dashboards"], store, counts, result, schedule.marks,
                  sorted(crashed), [h.log for h in deployment.hubs],
                  deployment.nginx.log if deployment.nginx else workdir, face_enrolments, laps.times, online,
                  args.online_after * 60)
        text, figures = report(run)
        if args.keep:
            (workdir / "figures.json").write_text(json.dumps(figures))
        print(text, flush=True)
    finally:
        for w in workers:
            w.close()
        deployment.close()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
