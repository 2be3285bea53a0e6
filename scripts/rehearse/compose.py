"""What the rehearsal reads from docker-compose.yml: its services, their command lines and environment with
the compose file's `${VAR}` substitution, and the few edits a local run makes (an option's value, a host
and port in a URL)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
HOST = "127.0.0.1"
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


# -- docker-compose.yml ---------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def substitute(text: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:?message}` and `${NAME:-default}` with the given values."""

    def one(m: re.Match[str]) -> str:
        name, kind, rest = m.group(1), m.group(2) or "", m.group(3) or ""
        if variables.get(name):
            return variables[name]
        if kind.endswith("-"):
            return rest
        raise SystemExit(f"rehearsal: docker-compose.yml needs {name} ({rest or 'no default'})")

    return _VARIABLE.sub(one, text)


@dataclass(frozen=True)
class Service:
    """A compose service as this machine runs it: its command and environment, substituted."""

    name: str
    command: list[str]
    environment: dict[str, str]


def service(name: str, variables: dict[str, str]) -> Service:
    spec = compose()["services"][name]
    env = {k: substitute(str(v), variables) for k, v in (spec.get("environment") or {}).items()}
    return Service(name, [substitute(str(a), variables) for a in spec.get("command") or []], env)


def hub_services() -> list[str]:
    """The hub services of the compose file (those that run `hoinghi serve`), in order."""
    return sorted(n for n, s in compose()["services"].items() if (s.get("command") or [])[:2] == ["hoinghi", "serve"])


def with_option(command: list[str], option: str, value: str) -> list[str]:
    """The command with `option`'s value replaced (or the option added)."""
    out = list(command)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


def hoinghi_command(command: list[str]) -> list[str]:
    """A compose `hoinghi …` command run with this checkout's environment."""
    assert command[0] == "hoinghi", command
    executable = shutil.which("hoinghi", path=str(Path(sys.executable).parent))
    return [executable, *command[1:]] if executable else [sys.executable, "-m", "web.cli", *command[1:]]


def relocate(url: str, host: str, port: int) -> str:
    """A URL with its host and port replaced (the service names of the compose network)."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth + '@' if auth else ''}{host}:{port}"))


def base_environment() -> dict[str, str]:
    """What a container's processes would have besides the compose environment: a PATH, a locale."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONUNBUFFERED": "1"}


