"""The rehearsal's kiosks: each enrols with its one-time code, holds the hall's live link and scans people
at their due times over one keep-alive connection, retrying with the same nonce; one kiosk uploads an
offline queue, another recognises faces. `Done` is one scan as the kiosk lived it."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk_load import _answer, _Connection, _request

from .client import Front, Http, HttpError, device_address
from .live import Clients, Live
from .plan import FacePlan, KioskPlan, OfflinePlan, Plan
from .retry import Attempts, persist


@dataclass
class Done:
    """One scan, as the kiosk lived it."""

    kind: str
    person_id: int
    nonce: str
    due: float  # monotonic
    done: float
    status: int
    outcome: str
    answered_person: int | None
    tries: int
    wait: float  # from due to answer


def _form(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = f"rehearsal{random.getrandbits(64):x}"
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, data) in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: image/{'png' if filename.endswith('.png') else 'jpeg'}\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class Kiosks(Clients):
    def __init__(self, plan: Plan, front: Front) -> None:
        super().__init__(plan, front)
        self.tokens: dict[int, str] = {}  # kiosk index -> device token (-1: offline, -2: faces)
        self.done: list[Done] = []
        self.attempts = Attempts()
        self.running = 0
        self.offline: dict[str, Any] = {}
        self.faces: list[dict[str, Any]] = []
        self.total = sum(len(k.scans) for k in plan.kiosks)

    async def _enrol(self, kiosk: KioskPlan) -> str:
        http = self._http(kiosk)
        body = json.dumps({"code": kiosk.code, "name": kiosk.name}).encode()
        try:
            status, data, _ = await persist(lambda: self._post(http, "/api/devices/enrol", body, {}), self.attempts)
        finally:
            http.close()
        if status != 201:
            raise RuntimeError(f"kiosk enrolment answered {status}: {data[:200]!r}")
        return str(json.loads(data)["token"])

    def _http(self, kiosk: KioskPlan | None) -> Http:
        """HTTPS from the kiosk's hall PC (its own address; the offline and face kiosks' are 127.1.0.1-2)."""
        return self.front.http(device_address(1, (kiosk.index if kiosk is not None else -1) + 2))

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.front.host, self.front.port, ssl=self.front.tls())
        return conn

    @staticmethod
    async def _post(http: Http, path: str, body: bytes, headers: dict[str, str],
                    content_type: str = "application/json") -> tuple[int, bytes]:
        try:
            answer = await http.request("POST", path, body, {"Content-Type": content_type, **headers}, timeout=60)
        except HttpError as e:
            return 0, e.text.encode()
        return answer.status, answer.body

    async def setup(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(16)

        async def enrol(key: int, kiosk: KioskPlan) -> None:
            async with gate:
                self.tokens[key] = await self._enrol(kiosk)

        extra = [(-1, self.plan.offline.kiosk)] if self.plan.offline else []
        extra += [(-2, self.plan.face_kiosk)] if self.plan.face_kiosk else []
        await asyncio.gather(*(enrol(k.index, k) for k in self.plan.kiosks), *(enrol(i, k) for i, k in extra))
        # the hall screens: every kiosk (not the offline one) holds the live hub's socket, hall topic
        for k in [*self.plan.kiosks, *([self.plan.face_kiosk] if self.plan.face_kiosk else [])]:
            token = self.tokens[k.index if k.index >= 0 else -2]
            hello = {"type": "hello", "v": 1, "device_token": token}
            self.clients.append(Live(self.front, _constant(hello), f"session:{self.plan.session_id}/hall:{k.hall_id}"))
        self.run_clients()
        return {"kiosks": len(self.tokens), "hall links": await self.all_connected()}

    def start(self, t0: float) -> None:
        self.tasks += [asyncio.create_task(self._scan_loop(k, t0)) for k in self.plan.kiosks if k.scans]
        if self.plan.offline is not None:
            self.tasks.append(asyncio.create_task(self._upload(self.plan.offline, t0)))
        self.tasks += [asyncio.create_task(self._face(f, t0)) for f in self.plan.faces if f.due >= 0]

    async def _scan_loop(self, kiosk: KioskPlan, t0: float) -> None:
        token = self.tokens[kiosk.index].encode()
        host = f"{self.front.host}:{self.front.port}".encode()
        conn: _Connection | None = None
        for scan in kiosk.scans:
            due = t0 + scan.due
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            self.running += 1
            request = _request(host, token, self.plan.session_id, scan.item, datetime.now(UTC))

            async def send(request: bytes = request) -> tuple[int, bytes]:
                nonlocal conn
                try:
                    if conn is None or conn.closed:
                        conn = await self._connect()
                    return await conn.request(request)
                except (ConnectionError, OSError, TimeoutError) as e:
                    if conn is not None and conn.transport is not None:
                        conn.transport.close()
                    conn = None
                    return 0, f"{type(e).__name__}: {e}".encode()

            status, body, tries = await persist(send, self.attempts)
            self.running -= 1
            now = time.monotonic()
            answer = _answer(scan.item, status, body, now - due, now - due)
            self.done.append(Done(scan.item.kind, scan.item.person_id, scan.item.nonce, due, now, status,
                                  answer.outcome, answer.answered_person, tries, now - due))
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    async def _upload(self, offline: OfflinePlan, t0: float) -> None:
        """Back online after `span` seconds away: the whole queue in one request, retried as it is."""
        await asyncio.sleep(max(0.0, t0 + offline.at - time.monotonic()))
        now = datetime.now(UTC)
        step = offline.span / max(1, len(offline.items))
        items = [{"session_id": self.plan.session_id, "credential": i.credential, "nonce": i.nonce,
                  "kiosk_time": (now - timedelta(seconds=offline.span - n * step)).isoformat()}
                 for n, i in enumerate(offline.items)]
        body = json.dumps({"items": items}).encode()
        http = self._http(self.plan.offline.kiosk if self.plan.offline else None)
        headers = {"Authorization": f"Bearer {self.tokens[-1]}"}
        started = time.monotonic()
        last = started

        async def send() -> tuple[int, bytes]:
            nonlocal last
            last = time.monotonic()
            return await self._post(http, "/api/checkins/upload", body, headers)

        status, data, tries = await persist(send, self.attempts)
        done = time.monotonic()
        http.close()
        outcomes: Counter[str] = Counter()
        if status == 200:
            results = json.loads(data)["results"]
            for item, result in zip(offline.items, results, strict=True):
                outcomes[result["outcome"]] += 1
                self.done.append(Done(f"offline_{item.kind}", item.person_id, item.nonce, started, done, status,
                                      result["outcome"], (result.get("person") or {}).get("person_id"), tries,
                                      done - started))
        self.offline = {"items": len(items), "status": status, "tries": tries, "seconds": done - started,
                        "last_try_seconds": done - last, "outcomes": outcomes, "wrong_hall": offline.wrong_hall,
                        "error": "" if status == 200 else data[:200].decode("utf-8", "replace")}

    async def _face(self, face: FacePlan, t0: float) -> None:
        """A face in front of the kiosk's camera, identified among the hall's enrolled invitees, as a hall
        lives it: accepted, checked in; a match the rule sends to the clerk (confirm), checked in when the
        clerk taps it (the face service's sealed decision sent back); not recognised, the delegate shows
        their QR card instead (QR always remains)."""
        await asyncio.sleep(max(0.0, t0 + face.due - time.monotonic()))
        nonce = f"face-{self.plan.session_id}-{face.person_id}"
        fields = {"session_id": str(self.plan.session_id), "check_in": "true", "nonce": nonce,
                  "kiosk_time": datetime.now(UTC).isoformat()}
        body, content_type = _form(fields, {"image": (face.probe_photo.name, face.probe_photo.read_bytes())})
        http = self._http(self.plan.face_kiosk)
        headers = {"Authorization": f"Bearer {self.tokens[-2]}"}
        started = time.monotonic()
        status, data, tries = await persist(
            lambda: self._post(http, "/api/faces/identify", body, headers, content_type), self.attempts)
        record: dict[str, Any] = {"name": face.name, "person_id": face.person_id, "status": status, "tries": tries,
                                  "seconds": 0.0, "outcome": "error", "decision": None, "distance": None,
                                  "path": "camera"}
        done_nonce = f"{nonce}:face:{face.person_id}"
        mine = None
        if status == 200:
            found = json.loads(data).get("faces") or []
            mine = next((f for f in found if (f.get("person") or {}).get("person_id") == face.person_id), None)
            if mine is not None:
                record["decision"], record["distance"] = mine["decision"], mine["distance"]
                record["outcome"] = (mine.get("checkin") or {}).get("outcome", "not checked in")
            else:
                record["outcome"] = f"not recognised ({[f.get('decision') for f in found]})"
        else:
            record["outcome"] = f"error {status}: {data[:120]!r}"
        if status == 200 and record["outcome"] != "accepted":
            if mine is not None and mine["decision"] == "confirm" and mine.get("face_decision"):
                record["path"], done_nonce = "clerk confirmed", f"{nonce}:clerk"
                ask: dict[str, Any] = {"session_id": self.plan.session_id, "person_id": face.person_id,
                                       "method": "face", "face_decision": mine["face_decision"], "nonce": done_nonce}
            elif face.card:
                record["path"], done_nonce = "QR card (camera did not name them)", f"{nonce}:qr"
                ask = {"session_id": self.plan.session_id, "credential": face.card, "nonce": done_nonce}
            else:
                ask = {}
            if ask:
                payload = json.dumps(ask).encode()
                status, data, more = await persist(
                    lambda: self._post(http, "/api/checkins", payload, headers), self.attempts)
                tries += more
                record["status"], record["tries"] = status, tries
                record["outcome"] = json.loads(data).get("outcome", "error") if status == 200 else \
                    f"error {status}: {data[:120]!r}"
        done = time.monotonic()
        http.close()
        record["seconds"] = done - started
        if record["outcome"] == "accepted":
            self.done.append(Done("face", face.person_id, done_nonce, started, done, status,
                                  "accepted", face.person_id, tries, done - started))
        self.faces.append(record)

    def status(self) -> dict[str, Any]:
        scans = [d for d in self.done if not d.kind.startswith("offline") and d.kind != "face"]
        return {"done": len(scans), "total": self.total, "running": self.running,
                "accepted": sum(d.outcome == "accepted" for d in self.done),
                "finished": len(scans) == self.total and (self.plan.offline is None or bool(self.offline))
                and len(self.faces) == sum(f.due >= 0 for f in self.plan.faces),
                "retries": len(self.attempts.failed), "hall_links": sum(c.connected for c in self.clients)}

    async def finish(self) -> dict[str, Any]:
        links = await self.end()
        return {"done": self.done, "attempts": self.attempts.failed, "offline": self.offline, "faces": self.faces,
                "links": links}


def _constant(message: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def hello() -> dict[str, Any]:
        return message

    return hello


