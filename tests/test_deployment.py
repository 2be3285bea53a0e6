"""docker-compose.yml describes a deployment that can work: it parses, its commands are valid `hoinghi`
invocations with valid settings, and nginx accepts its configuration."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from web.cli import parser
from web.settings import ENVIRONMENT, load

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_has_the_scaled_out_services() -> None:
    services = compose()["services"]
    assert {"nginx", "postgres", "redis", "migrate", "hub1", "hub2", "hub3"} <= set(services)
    hub_ids = {services[f"hub{i}"]["environment"]["HOINGHI_HUB_ID"] for i in (1, 2, 3)}
    assert hub_ids == {"hub1", "hub2", "hub3"}
    assert (ROOT / services["hub1"]["build"]["dockerfile"]).is_file()


def test_every_command_is_a_valid_hoinghi_invocation_with_valid_settings() -> None:
    for name, service in compose()["services"].items():
        command = service.get("command")
        if not command or command[0] != "hoinghi":
            continue
        parser().parse_args(command[1:])  # exits on an unknown command or option
        env = {k: re.sub(r"\$\{[^}]+\}", "x" * 40, str(v)) for k, v in service["environment"].items()}
        unknown = set(env) - set(ENVIRONMENT) - {"DATABASE_URL", "REDIS_URL"}
        assert not unknown, f"{name}: unknown settings {unknown}"
        settings = load(env)
        assert settings.database_url.startswith("postgresql://") and settings.redis_url.startswith("redis://")
        assert not settings.auto_migrate and settings.secure_cookies


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    shutil.copy(ROOT / "deploy" / "nginx.conf", tmp_path / "nginx.conf")
    upstreams = (ROOT / "deploy" / "hoinghi-upstreams.conf").read_text()
    local = re.sub(r"server hub(\d):8000", lambda m: f"server 127.0.0.1:{8000 + int(m.group(1))}", upstreams)
    (tmp_path / "hoinghi-upstreams.conf").write_text(local)
    result = subprocess.run([NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
