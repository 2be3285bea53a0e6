"""What a rehearsal found: the table, one section per fault, and the last line.

- lost: check-ins acknowledged as accepted whose person is not present in the store at the end;
- duplicates: people with more than one check-in row or accepted scan event for the session, plus
  every dashboard whose count ever went above the store's final count (by how much);
- dashboard_lag_p99_ms: for the k-th accepted check-in (acknowledgements in time order) and every
  dashboard, the first frame whose `in_person` counts it, less the acknowledgement;
- errors: scans that finally failed (after retries) or got an answer they should not have, offline
  items or face check-ins not accepted, face enrolments that failed, WebSocket clients that could not
  get back in (not connected at the end, or away longer than 60 s), participants who watched longer
  than the online threshold (and a margin) but are not present online (or present online without
  watching), hubs or nginx down without a fault, kiosk tries answered 500 (a server error: a fault
  must be refused as retryable, 503) and tracebacks in the hub logs, acknowledged scans without a scan
  event, and dashboards that did not converge on the store.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanout_storm import latencies, regressions
from harness import StoreCheck, percentile

from .kiosks import Done
from .live import OUTAGE_MAX_S
from .plan import EXPECTED_OUTCOME, Plan

ONLINE_MARGIN_S = 45.0  # a viewer's watch time reaches the store in rounds (pings every 15 s, stored every 10 s)


@dataclass
class Run:
    """Everything a rehearsal collected."""

    plan: Plan
    command: str
    t0: float
    ended: float  # when the last scan was answered
    kiosks: dict[str, Any]
    viewers: list[dict[str, Any]]
    dashboards: dict[str, Any]
    store: StoreCheck
    counts: dict[str, int]  # the store's check-ins by status, at the end
    converge: dict[str, Any]
    marks: dict[str, float]
    crashed: list[str]
    hub_logs: list[Path]
    nginx_log: Path
    face_enrolments: list[dict[str, Any]]
    setup_s: dict[str, float]
    online: set[int]  # people present online in the store at the end
    online_after_s: float  # HOINGHI_ONLINE_AFTER_MINUTES of the run, in seconds
    notes: list[str] = field(default_factory=list)


def _ms(values: list[float]) -> str:
    s = sorted(values)
    return " / ".join(f"{percentile(s, q):,.0f}" for q in (50, 90, 99, 100)) if s else "–"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def merged(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The viewer processes' link summaries as one."""
    out: dict[str, Any] = {"clients": 0, "connected": 0, "drops": 0, "outages": [], "failures": Counter(),
                           "could_not_return": 0, "gaps": 0}
    for r in reports:
        links = r["links"]
        for key in ("clients", "connected", "drops", "could_not_return", "gaps"):
            out[key] += links[key]
        out["outages"] += links["outages"]
        out["failures"].update(links["failures"])
    out["outages"].sort()
    return out


def dropped_at(links: dict[str, Any], start: float, stop: float) -> str:
    """How many clients dropped between `start` and `stop`, and how long until the last was back."""
    away = [seconds for at, seconds in links["outages"] if start <= at <= stop]
    return f"{len(away):,} (back within {max(away):.1f} s)" if away else "0"


def catch_up(frames: list[list[tuple[float, int, int, int]]], acks: list[float], at: float) -> float | None:
    """Seconds after `at` until every dashboard counted every check-in acknowledged by `at` (None: never)."""
    wanted = bisect.bisect_right(acks, at)
    worst = 0.0
    for seen in frames:
        first = next((t for t, n, _, _ in seen if t >= at and n >= wanted), None)
        if first is None:
            return None
        worst = max(worst, first - at)
    return worst


def lag_between(frames: list[list[tuple[float, int, int, int]]], acks: list[float], start: float, stop: float,
                ended: float) -> list[float]:
    """Every dashboard's lag (ms) for the check-ins acknowledged from `start` to `stop`, sorted."""
    chosen = [k for k, t in enumerate(acks) if start <= t <= stop]
    out: list[float] = []
    for seen in frames:
        lag = latencies([(t, n) for t, n, _, _ in seen], 0, acks, acks, ended)[0]
        out += [lag[k] for k in chosen]
    return sorted(out)


def failed_tries(attempts: list[tuple[float, int, str]], start: float, stop: float) -> str:
    seen = Counter(f"{status or 'no answer'} {reason}".strip() for t, status, reason in attempts if start <= t <= stop)
    return ", ".join(f"{k} ×{v:,}" for k, v in seen.most_common(6)) or "none"


def log_findings(paths: list[Path]) -> tuple[int, Counter[str]]:
    """Tracebacks in the hub logs, and their other lines than uvicorn's INFO and traceback frames (the
    application's warnings come without a level), numbers folded, by count."""
    tracebacks = 0
    lines: Counter[str] = Counter()
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        tracebacks += text.count("Traceback")
        for line in text.splitlines():
            if line.strip() and not line.startswith(("INFO:", " ", "Traceback", "^")):
                lines[re.sub(r"\d+", "N", line)[:150]] += 1
    return tracebacks, lines


def nginx_findings(path: Path) -> Counter[str]:
    """nginx's errors by kind and request (time, connection and client left out)."""
    found: Counter[str] = Counter()
    for line in (path.read_text(errors="replace").splitlines() if path.exists() else []):
        m = re.search(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?([^,]*)(?:.*?request: \"(\w+ \S+))?", line)
        if m:
            found[f"[{m.group(1)}] {m.group(2)}" + (f" ({m.group(3)})" if m.group(3) else "")] += 1
    return found


def report(run: Run) -> tuple[str, dict[str, Any]]:
    """The printed report (its last line the machine-readable one) and the figures of that line."""
    plan, k = run.plan, run.kiosks
    done: list[Done] = k["done"]
    accepted = sorted((d for d in done if d.outcome == "accepted"), key=lambda d: d.done)
    acks = [d.done for d in accepted]
    dues = sorted(d.due for d in accepted)
    scans = [d for d in done if d.kind in EXPECTED_OUTCOME]
    failed = [d for d in done if d.status != 200]
    unexpected = Counter(f"{d.kind} → {d.outcome}" for d in scans
                         if d.status == 200 and d.outcome != EXPECTED_OUTCOME[d.kind])
    unexpected.update(f"{d.kind} → {d.outcome}" for d in done
                      if d.kind.startswith("offline") and d.status == 200 and d.outcome != "accepted")
    wrong_person = sum(1 for d in done if d.status == 200 and d.kind != "forged" and d.answered_person is not None
                       and d.answered_person != d.person_id)
    viewers = merged(run.viewers)
    links = k["links"]
    dash = run.dashboards["links"]
    frames: list[list[tuple[float, int, int, int]]] = run.dashboards["frames"]
    lat: list[float] = []
    from_due: list[float] = []
    censored = 0
    backwards = 0
    for seen in frames:
        counts = [(t, n) for t, n, _, _ in seen]
        a, b, c = latencies(counts, 0, acks, dues, run.ended + 60)
        lat += a
        from_due += b
        censored += c
        backwards += len(regressions(counts))
    store_in_person = run.counts.get("present_in_person", 0)
    overcount = sum(max(0, max((n for _, n, _, _ in seen), default=0) - store_in_person) for seen in frames)
    faces = k["faces"]
    face_failed = sum(f["outcome"] != "accepted" for f in faces) + sum(not e["ok"] for e in run.face_enrolments)
    offline = k["offline"]
    offline_failed = 0
    if plan.offline is not None:
        offline_failed = offline.get("items", len(plan.offline.items)) - offline.get("outcomes", Counter()).get(
            "accepted", 0)
    tracebacks, log_lines = log_findings(run.hub_logs)
    watched = {p: s for v in run.viewers for p, s in v["watched"].items()}
    long_enough = {p for p, s in watched.items() if s >= run.online_after_s + ONLINE_MARGIN_S}
    not_online = long_enough - run.online
    online_elsewhere = run.online - set(watched)
    errors = {
        "scans that finally failed": len([d for d in failed if not d.kind.startswith("offline")]),
        "unexpected answers": sum(unexpected.values()) + wrong_person,
        "offline items not accepted": offline_failed,
        "face check-ins or enrolments failed": face_failed,
        "participants who could not get back in": viewers["could_not_return"],
        "dashboards that could not get back in": dash["could_not_return"],
        "participants who watched long enough but are not present online": len(not_online),
        "present online without watching": len(online_elsewhere),
        "kiosk hall links that could not get back in": links["could_not_return"],
        "hubs or nginx down without a fault": len(run.crashed),
        # a failure is answered as retryable (503, Retry-After) or is a bug, even if the kiosk's retry hid it
        "kiosk tries answered 500 (a server error, not a retryable refusal)":
            sum(status == 500 for _, status, _ in run.kiosks["attempts"]),
        "tracebacks in the hub logs": tracebacks,
        "acknowledged scans without a scan event": run.store.events_missing,
        "dashboards not converged on the store": 0 if run.converge["ok"] else 1,
    }
    duplicates = run.store.duplicates + overcount
    p99 = percentile(sorted(lat), 99)
    elapsed = run.ended - run.t0
    out: list[str] = []
    channels = ", ".join(f"{c} {n}" for c, n in sorted(Counter(h.channel for h in plan.halls).items()))
    rows: list[tuple[str, str]] = [
        ("command", run.command),
        ("machine", f"{os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at "
                    "the end"),
        ("province", f"{plan.members:,} members, {plan.expected:,} expected; {plan.all_halls} halls, "
                     f"{len(plan.halls)} with kiosks ({channels})"),
        ("kiosks", f"{len(plan.kiosks)} (+ offline {int(plan.offline is not None)}, faces "
                   f"{int(plan.face_kiosk is not None)}); hall links connected at the end {links['connected']}"
                   f"/{links['clients']}"),
        ("arrivals", f"{len(scans):,} scans over {plan.seconds:.0f} s (peak {plan.peak_per_s:,.0f}/s planned): "
                     + ", ".join(f"{kind} {n:,}" for kind, n in sorted(plan.kinds.items()))),
        *[(f"setup: {name} s", f"{seconds:.1f}") for name, seconds in run.setup_s.items()],
        ("scans answered / retried / failed", f"{len(scans) - len([d for d in scans if d.status != 200]):,} / "
                                              f"{sum(d.tries > 1 for d in done):,} / {len(failed):,}"),
        ("outcomes", ", ".join(f"{o} {n:,}" for o, n in Counter(d.outcome for d in done).most_common())),
        ("check-ins acknowledged (QR, face, offline)", f"{len(accepted):,} in {elapsed:.0f} s "
                                                      f"({len(accepted) / elapsed if elapsed > 0 else 0:,.0f}/s)"),
        ("scan wait from due ms p50 / p90 / p99 / max", _ms([d.wait * 1000 for d in scans if d.status == 200])),
        ("store: present in person / online / rows", f"{store_in_person:,} / {run.counts.get('present_online', 0):,}"
                                                     f" / {run.store.checkin_rows:,}"),
        ("participants watching at the end", f"{viewers['connected']:,} of {viewers['clients']:,} "
                                             f"(drops {viewers['drops']:,}, back in p50 / p99 / max "
                                             f"{_outage(sorted(s for _, s in viewers['outages']))})"),
        ("participants signed in through the page", _signins(run.viewers)),
        (f"present online (watched {run.online_after_s / 60:g} min or more)",
         f"{len(run.online):,}; {len(long_enough):,} watched {run.online_after_s + ONLINE_MARGIN_S:.0f} s or more, "
         f"{len(not_online):,} of them not present online"),
        ("dashboards connected at the end", f"{dash['connected']} of {dash['clients']} (drops {dash['drops']}, "
                                            f"resume gaps {dash['gaps']})"),
        ("dashboard lag ms from ack p50 / p90 / p99 / max", _ms(lat)),
        ("dashboard lag ms from due p50 / p90 / p99 / max", _ms(from_due)),
        ("lag samples (censored) / frames going back", f"{len(lat):,} ({censored:,}) / {backwards:,}"),
        ("converged on the store", _converge(run.converge)),
        ("hub logs: tracebacks / other lines", f"{tracebacks} / {sum(log_lines.values()):,}"),
    ]
    if plan.faces or run.face_enrolments:
        rows.append(("faces: enrolled / checked in", f"{sum(e['ok'] for e in run.face_enrolments)} / "
                     + ", ".join(f"{f['name']} {f['outcome']} by {f.get('path', 'camera')} (d={f['distance']}, "
                                 f"{f['seconds']:.1f} s)" for f in faces)))
    width = max(len(name) for name, _ in rows)
    out.append("")
    out += [f"{name:<{width}}  {value}" for name, value in rows]
    out += fault_sections(run, acks, frames, viewers)
    if unexpected or wrong_person:
        out.append("unexpected answers: " + ", ".join(f"{k} ×{v}" for k, v in unexpected.items())
                   + (f", naming the wrong person ×{wrong_person}" if wrong_person else ""))
    if failed:
        out.append("finally failed: " + ", ".join(f"{k} ×{v}" for k, v in Counter(
            f"{d.kind} {d.status}" for d in failed).most_common(8)))
    if viewers["failures"] or dash["failures"] or links["failures"]:
        out.append("WebSocket connection failures: " + ", ".join(
            f"{k} ×{v}" for k, v in (viewers["failures"] + dash["failures"] + links["failures"]).most_common(8)))
    if log_lines:
        out.append("hub log lines (most frequent): " + " | ".join(f"{line} ×{n}" for line, n in
                                                                     log_lines.most_common(6)))
    nginx = nginx_findings(run.nginx_log)
    if nginx:
        out.append("nginx error log: " + " | ".join(f"{line} ×{n}" for line, n in nginx.most_common(4)))
    out += [f"note: {n}" for n in [*plan.notes, *run.notes]]
    bad = {k: v for k, v in errors.items() if v}
    out.append("errors: " + (", ".join(f"{k} {v}" for k, v in bad.items()) if bad else "none"))
    figures = {"halls": len(plan.halls), "checkins": len(accepted), "lost": run.store.lost, "duplicates": duplicates,
               "dashboard_lag_p99_ms": p99, "errors": sum(errors.values())}
    out.append(f"halls={figures['halls']} checkins={figures['checkins']} lost={figures['lost']} "
               f"duplicates={figures['duplicates']} dashboard_lag_p99_ms={p99:.1f} errors={figures['errors']}")
    return "\n".join(out), figures


def _outage(outages: list[float]) -> str:
    return " / ".join(f"{percentile(outages, q):.1f}" for q in (50, 99, 100)) + " s" if outages else "–"


def _signins(viewers: list[dict[str, Any]]) -> str:
    took = sorted(s for v in viewers for s in v["sign_ins"])
    return f"{len(took)} (p50 {percentile(took, 50):.2f} s, max {took[-1]:.2f} s)" if took else "0"


def _converge(c: dict[str, Any]) -> str:
    state = "yes" if c["ok"] else "NO"
    return (f"{state}: {c['detail']} ({c['seconds']:.1f} s after the last scan)")


def fault_sections(run: Run, acks: list[float], frames: list[list[tuple[float, int, int, int]]],
                   viewers: dict[str, Any]) -> list[str]:
    links, dash = run.kiosks["links"], run.dashboards["links"]
    m, attempts, out = run.marks, run.kiosks["attempts"], []
    if "hub_killed" in m:
        killed = m["hub_killed"]
        near = (killed - 1, killed + 5)
        back = m.get("hub_back")
        out.append(f"fault kill-hub: SIGKILL at {killed - run.t0:.0f} s, answering again "
                   f"{_s(back - killed if back else None)} s later; kiosks' failed tries until then: "
                   f"{failed_tries(attempts, killed, back or killed + 30)}; its clients came back through nginx: "
                   f"participants {dropped_at(viewers, *near)}, dashboards {dropped_at(dash, *near)}, kiosk links "
                   f"{dropped_at(links, *near)}; dashboards counted everything acknowledged before the kill "
                   f"{_s(catch_up(frames, acks, killed))} s after it")
    if "redis_stopped" in m:
        stopped, back = m["redis_stopped"], m.get("redis_back", m["redis_stopped"])
        during = lag_between(frames, acks, stopped, back, run.ended + 60)
        out.append(f"fault stop-redis: stopped at {stopped - run.t0:.0f} s for {back - stopped:.1f} s; dashboard lag "
                   f"of the {len(during) // max(1, len(frames)):,} check-ins acknowledged meanwhile (ms from ack "
                   f"p50 / p90 / p99 / max) {_ms(during)}; dashboards counted everything acknowledged by its return "
                   f"{_s(catch_up(frames, acks, back))} s after it")
    if "postgres_stopped" in m:
        stopped, back = m["postgres_stopped"], m.get("postgres_back", m["postgres_stopped"])
        after = [t for t in acks if t > back]
        out.append(f"fault restart-postgres: stopped at {stopped - run.t0:.0f} s, started {back - stopped:.1f} s "
                   f"later; first check-in acknowledged {_s(after[0] - back if after else None)} s after; "
                   f"kiosks' failed tries (retried with the same nonce): {failed_tries(attempts, stopped, back + 10)}")
    offline = run.kiosks["offline"]
    if offline:
        verdict = "within" if offline["status"] == 200 and offline["seconds"] <= 10 else "NOT within"
        out.append(f"fault offline-kiosk: {offline['items']:,} scans queued over 10 minutes ({offline['wrong_hall']:,}"
                   f" of people invited elsewhere) uploaded in {offline['seconds']:.1f} s ({verdict} 10 s; "
                   f"{offline['tries']} tries): " + ", ".join(f"{o} {n:,}" for o, n in offline["outcomes"].items())
                   + (f"; {offline['error']}" if offline["error"] else ""))
    storms = [v["storm"] for v in run.viewers if v["storm"]]
    if storms:
        dropped = sum(s["dropped"] for s in storms)
        back_in = sum(s["back"] for s in storms)
        seconds = max(s["seconds"] for s in storms)
        crashed = ", ".join(run.crashed) or "none"
        out.append(f"fault reconnect-storm: {dropped:,} participants dropped at once, {back_in:,} back within "
                   f"{seconds:.1f} s (limit {OUTAGE_MAX_S * 2:.0f} s); hubs down without a fault: {crashed}")
    return out
