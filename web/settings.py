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
    hub_id: str = ""  # names this process on the bus; empty: hub-<pid>
    secret_key: str = ""  # signs session cookies
    data_key: str = ""  # seals data at rest (credential signing keys, face templates); the secret key if empty
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
    pdf_font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")  # DejaVuSans(-Bold).ttf for PDF badges

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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
        if self.wrong_hall not in ("accept", "refuse"):
            raise SettingsError(f"HOINGHI_WRONG_HALL is accept or refuse, not {self.wrong_hall!r}")
        if not 0 <= self.online_after_minutes <= 24 * 60:
            raise SettingsError("HOINGHI_ONLINE_AFTER_MINUTES must be 0 to 1440")
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be 1 to 65535, not {self.port}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"unknown time zone {self.timezone!r}") from None
        return self


ENVIRONMENT = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "HOINGHI_HUB_ID": "hub_id",
    "HOINGHI_SECRET_KEY": "secret_key",
    "HOINGHI_DATA_KEY": "data_key",
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
}


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "int":
            return int(value)
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


def load(environ: Mapping[str, str], toml_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file, then the environment, then explicit overrides; checked."""
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
        if env in environ and environ[env] != "":
            values[name] = _coerce(name, environ[env])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values).check()
