"""Settings from the environment or a TOML file, checked once, with one-line errors."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from web.db import DatabaseUrlError, async_url

SECRET_MIN = 32


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/hoinghi.db"
    redis_url: str = ""  # empty: the in-process bus (one process)
    access_log: bool = False  # one log line per request (~50 µs each); nginx can log instead
    log_format: str = "text"  # "text": time level logger message; "json": one JSON object a line (web/logs.py)
    hub_id: str = ""  # names this process on the bus; empty: hub-<pid>
    secret_key: str = ""  # signs session cookies
    data_key: str = ""  # seals data at rest (credential signing keys, face templates); the secret key if empty
    old_data_keys: str = ""  # earlier data keys, comma-separated: what they sealed still opens (key rotation)
    production: bool = False  # a real deployment: refuses to start without a data key of its own
    wrong_hall: str = "accept"  # a delegate checking in at another hall: "accept" (and flag) or "refuse"
    admit_uninvited: bool = False  # check in people not invited to the conference (guests)
    online_after_minutes: float = 10.0  # watching this long from a browser makes a participant present online
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    timezone: str = "Asia/Ho_Chi_Minh"
    secure_cookies: bool = False  # set behind HTTPS
    auto_migrate: bool = True  # bring the schema up to date at start-up
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_workers: int = 2  # threads hashing passwords (Argon2id), off the event loop
    # the throttle on guessed secrets (web/throttle/); counts in Redis when REDIS_URL is set
    signin_account_attempts: int = 5  # wrong passwords for one account before it waits 1 s, then 2 s, 4 s, …
    signin_address_attempts: int = 20  # failed guesses (passwords, kiosk codes, receipts) from one address, likewise
    throttle_longest_seconds: int = 900  # the longest wait
    pdf_font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")  # DejaVuSans(-Bold).ttf for PDF badges
    documents_dir: Path = Path()  # uploaded conference documents; empty: `documents` under data_dir
    # face recognition, opt-in (docs/FACES.md: the defaults are measured there)
    face_threshold: float = 0.40  # 1:N: accept a match nearer than this (Euclidean distance of dlib embeddings)
    face_margin: float = 0.15  # ... when the next other person is at least this much further (else nobody named)
    face_confirm_band: float = 0.07  # matches up to threshold + band go to the operator to confirm
    face_verify_threshold: float = 0.45  # 1:1 after a QR scan: the card holder's face nearer than this
    face_min_size: int = 80  # faces fewer pixels across are not compared ("come closer")
    face_liveness: str = "blink_or_turn"  # off, blink, turn, blink_or_turn, blink_and_turn
    face_workers: int = 1  # face analysis processes; 0: one thread in the server process (tests, tiny sites)
    face_retention_days: int = 365  # templates are deleted this long after enrolment; 0: kept until withdrawn
    kiosk_workers: int = 2  # threads reading kiosk camera frames (QR codes)
    # the livestream (docs/MEDIA.md)
    ice_servers: str = ""  # empty: host candidates only (closed networks); "stun:…,turn:…" or a JSON iceServers list
    media_addresses: str = ""  # IPs to gather WebRTC host candidates on, comma-separated; empty: every interface
    media_codec: str = "H264"  # the one video codec of every stream: H264 (HLS and recordings need it) or VP8
    media_dir: str = ""  # HLS segments and recordings; empty: <data_dir>/media
    hls_segment_seconds: int = 2  # 1 to 6
    record_broadcasts: bool = True  # keep an MP4 of every broadcast
    media_max_viewers: int = 150  # WebRTC viewers of one session on one process; beyond, they get HLS
    # behind nginx (README, Deployment)
    forwarded_allow_ips: str = ""  # IPs or networks whose X-Forwarded-* are trusted (nginx's); empty: 127.0.0.1
    turn_urls: str = ""  # the TURN server's turn: URLs, comma-separated; browsers and hubs relay media through it
    turn_secret: str = ""  # its static-auth-secret: hubs hand out credentials signed with it (TURN REST API)
    turn_ttl_seconds: int = 43200  # how long such a credential lasts (a conference day, as a sign-in)
    metrics_token: str = ""  # Prometheus's bearer token for /metrics; empty: /metrics answers loopback only

    @property
    def documents_path(self) -> Path:
        """Where uploaded documents are kept, each file named by its SHA-256 (conference/blobs.py)."""
        return self.documents_dir if self.documents_dir != Path() else self.data_dir / "documents"

    @property
    def badges_path(self) -> Path:
        """Badge sheet PDFs of background jobs, under the data directory every hub shares."""
        return self.data_dir / "badges"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def media_root(self) -> Path:
        return Path(self.media_dir) if self.media_dir else self.data_dir / "media"

    def check(self) -> Settings:
        try:
            async_url(self.database_url)
        except DatabaseUrlError as e:
            raise SettingsError(str(e)) from None
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"REDIS_URL must start with redis:// or rediss://, not {self.redis_url!r}")
        if len(self.secret_key) < SECRET_MIN:
            raise SettingsError(f"HOINGHI_SECRET_KEY must be at least {SECRET_MIN} characters "
                                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if self.data_key and len(self.data_key) < SECRET_MIN:
            raise SettingsError(f"HOINGHI_DATA_KEY must be at least {SECRET_MIN} characters")
        self._check_keys()
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"HOINGHI_LOG_FORMAT is text or json, not {self.log_format!r}")
        if self.wrong_hall not in ("accept", "refuse"):
            raise SettingsError(f"HOINGHI_WRONG_HALL is accept or refuse, not {self.wrong_hall!r}")
        if not 0 <= self.online_after_minutes <= 24 * 60:
            raise SettingsError("HOINGHI_ONLINE_AFTER_MINUTES must be 0 to 1440")
        if not 1 <= self.kiosk_workers <= 64:
            raise SettingsError("HOINGHI_KIOSK_WORKERS must be 1 to 64")
        self._check_throttle()
        self._check_face()
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be 1 to 65535, not {self.port}")
        self._check_media()
        self._check_front()
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"unknown time zone {self.timezone!r}") from None
        return self

    @property
    def data_keys(self) -> tuple[str, ...]:
        """The data key new data is sealed with (the secret key when none is set), then the older ones."""
        return (self.data_key or self.secret_key, *(k.strip() for k in self.old_data_keys.split(",") if k.strip()))

    def _check_keys(self) -> None:
        if any(len(k) < SECRET_MIN for k in self.data_keys[1:]):
            raise SettingsError(f"each of HOINGHI_OLD_DATA_KEYS must be at least {SECRET_MIN} characters")
        if self.production and (not self.data_key or self.data_key == self.secret_key):
            raise SettingsError("HOINGHI_PRODUCTION: set HOINGHI_DATA_KEY to a key of its own, not the secret key "
                                "(it seals data at rest; keep it apart from the key that signs cookies)")

    def _check_media(self) -> None:
        from web.media.ice import parse_ice_servers

        try:
            parse_ice_servers(self.ice_servers)
        except ValueError as e:
            raise SettingsError(f"HOINGHI_ICE_SERVERS: {e}") from None
        if self.media_codec not in ("H264", "VP8"):
            raise SettingsError(f"HOINGHI_MEDIA_CODEC is H264 or VP8, not {self.media_codec!r}")
        if not 1 <= self.hls_segment_seconds <= 6:
            raise SettingsError(f"HOINGHI_HLS_SEGMENT_SECONDS is 1 to 6, not {self.hls_segment_seconds}")
        if self.media_max_viewers < 1:
            raise SettingsError("HOINGHI_MEDIA_MAX_VIEWERS must be at least 1")

    def _check_front(self) -> None:
        import ipaddress

        for item in (a.strip() for a in self.forwarded_allow_ips.split(",") if a.strip()):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise SettingsError(f"HOINGHI_FORWARDED_ALLOW_IPS names addresses or networks (nginx's), "
                                    f"not {item!r}") from None
        from web.media.ice import parse_turn

        try:
            parse_turn(self.turn_urls, self.turn_secret, self.turn_ttl_seconds)
        except ValueError as e:
            raise SettingsError(f"HOINGHI_TURN_URLS: {e}") from None
        if bool(self.turn_urls) != bool(self.turn_secret):
            raise SettingsError("HOINGHI_TURN_URLS and HOINGHI_TURN_SECRET go together")
        if self.turn_secret and len(self.turn_secret) < SECRET_MIN:
            raise SettingsError(f"HOINGHI_TURN_SECRET must be at least {SECRET_MIN} characters")
        if not 60 <= self.turn_ttl_seconds <= 7 * 86400:
            raise SettingsError("HOINGHI_TURN_TTL_SECONDS must be 60 to 604800")
        if self.metrics_token and len(self.metrics_token) < SECRET_MIN:
            raise SettingsError(f"HOINGHI_METRICS_TOKEN must be at least {SECRET_MIN} characters")

    def _check_throttle(self) -> None:
        if not 1 <= self.password_workers <= 64:
            raise SettingsError("HOINGHI_PASSWORD_WORKERS must be 1 to 64")
        if self.signin_account_attempts < 1 or self.signin_address_attempts < 1:
            raise SettingsError("HOINGHI_SIGNIN_ACCOUNT_ATTEMPTS and _ADDRESS_ATTEMPTS must be at least 1")
        if not 1 <= self.throttle_longest_seconds <= 86400:
            raise SettingsError("HOINGHI_THROTTLE_LONGEST_SECONDS must be 1 to 86400")

    def _check_face(self) -> None:
        if not 0.2 <= self.face_threshold <= 1.0:
            raise SettingsError(f"HOINGHI_FACE_THRESHOLD is a distance from 0.2 to 1.0, not {self.face_threshold}")
        if not 0.2 <= self.face_verify_threshold <= 1.0:
            raise SettingsError("HOINGHI_FACE_VERIFY_THRESHOLD is a distance from 0.2 to 1.0, "
                                f"not {self.face_verify_threshold}")
        if not (0 <= self.face_margin < 0.5 and 0 <= self.face_confirm_band < 0.5):
            raise SettingsError("HOINGHI_FACE_MARGIN and HOINGHI_FACE_CONFIRM_BAND are distances from 0 to 0.5")
        if not 40 <= self.face_min_size <= 1000:
            raise SettingsError(f"HOINGHI_FACE_MIN_SIZE is 40 to 1000 pixels, not {self.face_min_size}")
        modes = ("off", "blink", "turn", "blink_or_turn", "blink_and_turn")
        if self.face_liveness not in modes:
            raise SettingsError(f"HOINGHI_FACE_LIVENESS is one of {', '.join(modes)}, not {self.face_liveness!r}")
        if not 0 <= self.face_workers <= 16:
            raise SettingsError(f"HOINGHI_FACE_WORKERS is 0 to 16, not {self.face_workers}")
        if self.face_retention_days < 0:
            raise SettingsError("HOINGHI_FACE_RETENTION_DAYS must not be negative")


ENVIRONMENT = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "HOINGHI_HUB_ID": "hub_id",
    "HOINGHI_ACCESS_LOG": "access_log",
    "HOINGHI_LOG_FORMAT": "log_format",
    "HOINGHI_SECRET_KEY": "secret_key",
    "HOINGHI_DATA_KEY": "data_key",
    "HOINGHI_OLD_DATA_KEYS": "old_data_keys",
    "HOINGHI_PRODUCTION": "production",
    "HOINGHI_WRONG_HALL": "wrong_hall",
    "HOINGHI_ADMIT_UNINVITED": "admit_uninvited",
    "HOINGHI_ONLINE_AFTER_MINUTES": "online_after_minutes",
    "HOINGHI_HOST": "host",
    "HOINGHI_PORT": "port",
    "HOINGHI_DATA_DIR": "data_dir",
    "HOINGHI_TIMEZONE": "timezone",
    "HOINGHI_SECURE_COOKIES": "secure_cookies",
    "HOINGHI_AUTO_MIGRATE": "auto_migrate",
    "HOINGHI_PDF_FONT_DIR": "pdf_font_dir",
    "HOINGHI_DOCUMENTS_DIR": "documents_dir",
    "HOINGHI_FACE_THRESHOLD": "face_threshold",
    "HOINGHI_FACE_MARGIN": "face_margin",
    "HOINGHI_FACE_CONFIRM_BAND": "face_confirm_band",
    "HOINGHI_FACE_VERIFY_THRESHOLD": "face_verify_threshold",
    "HOINGHI_FACE_MIN_SIZE": "face_min_size",
    "HOINGHI_FACE_LIVENESS": "face_liveness",
    "HOINGHI_FACE_WORKERS": "face_workers",
    "HOINGHI_FACE_RETENTION_DAYS": "face_retention_days",
    "HOINGHI_KIOSK_WORKERS": "kiosk_workers",
    "HOINGHI_PASSWORD_WORKERS": "password_workers",
    "HOINGHI_SIGNIN_ACCOUNT_ATTEMPTS": "signin_account_attempts",
    "HOINGHI_SIGNIN_ADDRESS_ATTEMPTS": "signin_address_attempts",
    "HOINGHI_THROTTLE_LONGEST_SECONDS": "throttle_longest_seconds",
    "HOINGHI_ICE_SERVERS": "ice_servers",
    "HOINGHI_MEDIA_ADDRESSES": "media_addresses",
    "HOINGHI_MEDIA_CODEC": "media_codec",
    "HOINGHI_MEDIA_DIR": "media_dir",
    "HOINGHI_HLS_SEGMENT_SECONDS": "hls_segment_seconds",
    "HOINGHI_RECORD_BROADCASTS": "record_broadcasts",
    "HOINGHI_MEDIA_MAX_VIEWERS": "media_max_viewers",
    "HOINGHI_FORWARDED_ALLOW_IPS": "forwarded_allow_ips",
    "HOINGHI_TURN_URLS": "turn_urls",
    "HOINGHI_TURN_SECRET": "turn_secret",
    "HOINGHI_TURN_TTL_SECONDS": "turn_ttl_seconds",
    "HOINGHI_METRICS_TOKEN": "metrics_token",
}


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(text)
            return text in ("1", "true", "yes", "on")
        if kind == "Path":
            return Path(str(value))
        return str(value)
    except ValueError:
        raise SettingsError(f"setting {name}: {value!r} is not a valid {kind}") from None


def _from_file(env: str, environ: Mapping[str, str]) -> str:
    path = Path(environ[env + "_FILE"])
    if environ.get(env):
        raise SettingsError(f"give {env} or {env}_FILE, not both")
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"{env}_FILE: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None


def load(environ: Mapping[str, str], toml_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file, then the environment, then explicit overrides; checked. Each variable
    may instead name a file holding its value, `<NAME>_FILE` (Docker secrets: HOINGHI_SECRET_KEY_FILE=
    /run/secrets/secret_key); giving both is an error."""
    values: dict[str, Any] = {}
    if toml_file is not None:
        try:
            data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except OSError as e:
            raise SettingsError(f"cannot read settings file {toml_file}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"settings file {toml_file} is not valid TOML: {e}") from None
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"settings file {toml_file}: unknown keys {', '.join(unknown)}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for env, name in ENVIRONMENT.items():
        if environ.get(env + "_FILE"):
            values[name] = _coerce(name, _from_file(env, environ))
        elif env in environ and environ[env] != "":
            values[name] = _coerce(name, environ[env])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values).check()
