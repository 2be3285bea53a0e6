"""docker-compose.yml describes a deployment that can work: Docker's own `docker-compose config` accepts it
(with and without the monitoring profile), its commands are valid `hoinghi` invocations with valid
settings, the hubs trust nginx's address only, everything has a healthcheck its dependants wait on; nginx
accepts its TLS configuration; the image installs its dependencies before the code; settings come from
files (Docker secrets); `hoinghi tls selfsigned` makes a CA and a certificate that verifies; and the TURN
credentials a hub hands out are accepted by a real coturn, and refused once expired."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioice.stun
import aioice.turn
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.testclient import TestClient

from tests.browser import free_port, hoinghi_server
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.cli import parser
from web.media.ice import Turn
from web.settings import ENVIRONMENT, Settings, SettingsError, load
from web.tls import selfsigned

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COMPOSE = shutil.which("docker-compose")
TURNSERVER = shutil.which("turnserver")
HOINGHI = str(Path(sys.executable).parent / "hoinghi")
ENV = {"HOINGHI_SECRET_KEY": "s" * 40, "HOINGHI_DATA_KEY": "d" * 40, "TURN_SECRET": "t" * 40,
       "METRICS_TOKEN": "m" * 40, "POSTGRES_PASSWORD": "pw", "SERVER_NAME": "hoinghi.local", "SERVER_IP": "10.0.0.5"}
HUB_ENV = {"DATABASE_URL": "postgresql://hoinghi:pw@postgres:5432/hoinghi", "HOINGHI_SECRET_KEY": "s" * 40}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def hubs() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if (s.get("command") or [])[:2] == ["hoinghi", "serve"]}


# -- the compose file ----------------------------------------------------------------------------------
def test_compose_has_the_scaled_out_services() -> None:
    services = compose()["services"]
    assert {"nginx", "postgres", "redis", "migrate", "tls", "coturn", "hub1", "hub2", "hub3"} <= set(services)
    assert {s["environment"]["HOINGHI_HUB_ID"] for s in hubs().values()} == {"hub1", "hub2", "hub3"}
    assert (ROOT / services["hub1"]["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("profiles", [[], ["monitoring"]], ids=["default", "monitoring"])
def test_docker_compose_accepts_the_file(profiles: list[str], tmp_path: Path) -> None:
    if COMPOSE is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose; scripts/test installs it)")
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in ENV.items()))
    flags = [f for p in profiles for f in ("--profile", p)]
    done = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file), *flags,
                           "config"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert {"hub1", "hub2", "hub3", "nginx", "coturn", "tls"} <= set(resolved["services"])
    if profiles:  # (docker-compose 1.29 lists a profile's services either way; `up` starts them only with it)
        assert {"prometheus", "grafana"} <= set(resolved["services"])
    for name, service in resolved["services"].items():
        assert service.get("profiles", []) == (["monitoring"] if name in ("prometheus", "grafana") else []), name
    hub = resolved["services"]["hub1"]["environment"]
    assert hub["HOINGHI_TURN_URLS"].startswith("turn:10.0.0.5:3478") and hub["HOINGHI_TURN_SECRET"] == "t" * 40
    missing = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert missing.returncode != 0 and re.search(r": set [A-Z_]+\n", missing.stderr)  # a secret left out: refused


def test_every_command_is_a_valid_hoinghi_invocation_with_valid_settings() -> None:
    for name, service in compose()["services"].items():
        command = service.get("command")
        if not command or command[0] != "hoinghi":
            continue
        parser().parse_args(command[1:])  # exits on an unknown command or option
        if name == "tls":
            continue  # no settings: it only writes files
        # each variable its own 40 characters (production refuses a data key equal to the secret key)
        env = {k: re.sub(r"\$\{([A-Z_]+)[^}]*\}", lambda m: (m.group(1) * 40)[:40], str(v))
               for k, v in service["environment"].items()}
        env["HOINGHI_TURN_URLS"] = service["environment"]["HOINGHI_TURN_URLS"].replace("${SERVER_IP:?set SERVER_IP}",
                                                                                      "10.0.0.5").replace(
            "${SERVER_IP}", "10.0.0.5")
        unknown = set(env) - set(ENVIRONMENT)
        assert not unknown, f"{name}: unknown settings {unknown}"
        settings = load(env)
        assert settings.database_url.startswith("postgresql://") and settings.redis_url.startswith("redis://")
        assert not settings.auto_migrate and settings.secure_cookies
        assert settings.turn_urls and settings.turn_secret
        assert settings.production and settings.metrics_token  # the data key its own; /metrics behind a token


def test_the_hubs_trust_forwarded_headers_from_nginx_only() -> None:
    nginx = compose()["services"]["nginx"]
    address = nginx["networks"]["hoinghi"]["ipv4_address"]
    for name, hub in hubs().items():
        assert hub["environment"]["HOINGHI_FORWARDED_ALLOW_IPS"] == address, name
    with pytest.raises(SettingsError, match="FORWARDED_ALLOW_IPS"):
        load(HUB_ENV | {"HOINGHI_FORWARDED_ALLOW_IPS": "*"})


def test_healthchecks_and_start_order() -> None:
    services = compose()["services"]
    for name in [*hubs(), "redis", "nginx", "postgres"]:
        assert "test" in services[name]["healthcheck"], name
    for name, hub in hubs().items():
        assert "/healthz" in " ".join(hub["healthcheck"]["test"]), name
        assert hub["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                     "redis": {"condition": "service_healthy"}}, name
        assert {"data:/srv/data", "media:/srv/media"} <= set(hub["volumes"]), name  # shared by every hub
        assert hub["environment"]["HOINGHI_DATA_DIR"] == "/srv/data"
    waits = services["nginx"]["depends_on"]
    assert waits["tls"] == {"condition": "service_completed_successfully"}
    assert all(waits[h] == {"condition": "service_healthy"} for h in hubs())
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_nginx_and_coturn_wiring() -> None:
    services = compose()["services"]
    nginx = services["nginx"]
    assert set(nginx["ports"]) == {"80:8080", "443:8443"}
    assert "tls:/etc/nginx/tls:ro" in nginx["volumes"]
    assert "tls:/srv/tls" in services["tls"]["volumes"] and services["tls"]["command"][-3:] == ["--out", "/srv/tls",
                                                                                             "--if-missing"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "ssl_certificate /etc/nginx/tls/server.crt;" in conf
    assert "ssl_certificate_key /etc/nginx/tls/server.key;" in conf
    coturn = services["coturn"]
    assert coturn["image"].startswith("coturn/coturn:")
    assert "--use-auth-secret" in coturn["command"]
    secret = next(a for a in coturn["command"] if a.startswith("--static-auth-secret="))
    assert secret.removeprefix("--static-auth-secret=") == hubs()["hub1"]["environment"]["HOINGHI_TURN_SECRET"]


def test_the_image_installs_dependencies_before_the_code() -> None:
    lines = [x.strip() for x in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()]
    instructions = [x for x in lines if x and not x.startswith("#")]

    def at(prefix: str) -> int:
        return next(i for i, x in enumerate(instructions) if x.startswith(prefix))

    assert at("RUN uv sync --locked --no-dev --no-install-project") < at("COPY conference")
    assert at("COPY pyproject.toml uv.lock") < at("RUN uv sync --locked --no-dev --no-install-project")
    assert re.search(r'uv==\$\{UV_VERSION\}', "\n".join(instructions)) and re.search(r"ARG UV_VERSION=\d+\.\d+\.\d+",
                                                                                     "\n".join(instructions))
    user = instructions[at("USER ")].split()[1]
    assert user not in ("root", "0") and at("USER ") < at('CMD ["hoinghi"')
    assert "/healthz" in " ".join(instructions[at("HEALTHCHECK"):at('CMD ["hoinghi"')])


# -- nginx ---------------------------------------------------------------------------------------------
def nginx_dir(tmp_path: Path) -> Path:
    """deploy/nginx.conf with a certificate of `hoinghi tls selfsigned` and local upstreams."""
    selfsigned(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    conf = re.sub(r"/tmp/(hoinghi-[\w.-]+)", lambda m: f"{tmp_path}/{m.group(1)}",
                  (ROOT / "deploy" / "nginx.conf").read_text())
    (tmp_path / "nginx.conf").write_text(conf.replace("/etc/nginx/tls/", f"{tmp_path}/tls/"))
    upstreams = (ROOT / "deploy" / "hoinghi-upstreams.conf").read_text()
    local = re.sub(r"server hub(\d):8000", lambda m: f"server 127.0.0.1:{8000 + int(m.group(1))}", upstreams)
    (tmp_path / "hoinghi-upstreams.conf").write_text(local)
    return tmp_path


def test_nginx_accepts_the_tls_configuration(tmp_path: Path) -> None:
    directory = nginx_dir(tmp_path)
    result = subprocess.run([NGINX, "-t", "-c", str(directory / "nginx.conf"), "-p", str(directory)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"listen 8443 ssl;", conf) and 'Strict-Transport-Security "max-age=31536000" always' in conf
    plain = conf[conf.index("listen 8080;"):conf.index("listen 8443 ssl;")]
    assert "proxy_pass" not in plain and "return 301 https://$host$request_uri;" in plain
    for zone in ("hoinghi_signin", "hoinghi_enrol", "hoinghi_uploads"):
        assert f"limit_req zone={zone} " in conf


@pytest.fixture
def front_door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int, ssl.SSLContext]]:
    """A real hub (SQLite) behind deploy/nginx.conf with a certificate of `hoinghi tls selfsigned`:
    the HTTPS base URL, the plain HTTP port and a client context trusting the CA only."""
    for name, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "HOINGHI_SECRET_KEY": "f" * 40,
                        "HOINGHI_SECURE_COOKIES": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base:
        directory = nginx_dir(tmp_path)
        https, plain = free_port(), free_port()
        conf = (directory / "nginx.conf").read_text()
        conf = conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{https} ssl;")
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{plain};")
        conf = conf.replace(f"pid {tmp_path}/hoinghi-nginx.pid;",
                            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/e.log;")
        if os.geteuid() == 0:  # workers would otherwise run as nobody, who cannot write the test's cache
            conf = "user root;\n" + conf
        (directory / "nginx.conf").write_text(conf)
        (directory / "hoinghi-upstreams.conf").write_text(f"server {base.removeprefix('http://')};\n")
        nginx = subprocess.Popen([NGINX, "-c", str(directory / "nginx.conf"), "-p", str(directory), "-g",
                                  "daemon off;"], stderr=subprocess.DEVNULL)
        trust = ssl.create_default_context(cafile=str(directory / "tls" / "ca.crt"))
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(f"https://127.0.0.1:{https}/login", timeout=2, context=trust).close()
                    break
                except OSError:
                    assert nginx.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
            yield f"https://127.0.0.1:{https}", plain, trust
        finally:
            nginx.terminate()
            nginx.wait(10)


def post(url: str, trust: ssl.SSLContext, body: bytes = b"") -> tuple[int, str]:
    """The status, and who answered: "nginx" (its own error page) or "hub"."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=trust) as answer:
            return answer.status, "nginx" if b"<center>nginx</center>" in answer.read() else "hub"
    except urllib.error.HTTPError as e:
        return e.code, "nginx" if b"<center>nginx</center>" in e.read() else "hub"


def test_the_front_door_redirects_and_limits_guesses(front_door: tuple[str, int, ssl.SSLContext]) -> None:
    base, plain, trust = front_door
    conn = http.client.HTTPConnection("127.0.0.1", plain, timeout=10)
    conn.request("POST", "/login", b"username=a&password=b")  # plain HTTP never reaches a hub
    answer = conn.getresponse()
    assert answer.status == 301 and answer.getheader("Location") == "https://127.0.0.1/login"
    conn.close()
    with urllib.request.urlopen(base + "/login", timeout=10, context=trust) as page:
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000"  # one header, nginx's
        assert page.headers.get_all("Strict-Transport-Security") == ["max-age=31536000"]

    signins = [post(base + "/login", trust, b"username=a&password=b&csrf=x") for _ in range(30)]
    refused = [s for s in signins if s[0] == 429]
    assert len(refused) >= 5 and all(who == "nginx" for _, who in refused), signins  # nginx's, not a hub's
    assert signins[0][0] != 429  # a burst passes first (a hall's people signing in at once)
    with urllib.request.urlopen(base + "/login", timeout=10, context=trust) as page:
        assert page.status == 200  # reading the page is not counted
    enrolments = [post(base + "/api/devices/enrol", trust, b"{}") for _ in range(15)]
    assert sum(s == 429 for s, _ in enrolments) >= 3 and enrolments[0][0] != 429, enrolments
    big = post(base + "/api/checkins", trust, b"x" * (2 * 1024 * 1024))
    assert big == (413, "nginx")  # over client_max_body_size: refused at the door
    frames = post(base + "/api/faces/identify", trust, b"x" * (3 * 1024 * 1024))  # a face kiosk's burst fits
    assert frames[0] in (400, 401, 422) and frames[1] == "hub", frames  # a hub's answer (no token here)


# -- settings from files, certificates ---------------------------------------------------------------
def test_settings_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("f" * 40 + "\n")
    settings = load({"HOINGHI_SECRET_KEY_FILE": str(tmp_path / "secret_key")})
    assert settings.secret_key == "f" * 40
    with pytest.raises(SettingsError, match="not both"):
        load({"HOINGHI_SECRET_KEY_FILE": str(tmp_path / "secret_key"), "HOINGHI_SECRET_KEY": "g" * 40})
    with pytest.raises(SettingsError, match="HOINGHI_DATA_KEY_FILE: cannot read"):
        load({"HOINGHI_SECRET_KEY": "g" * 40, "HOINGHI_DATA_KEY_FILE": str(tmp_path / "missing")})


def test_selfsigned_makes_a_ca_and_a_certificate_that_verifies(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    first = subprocess.run([HOINGHI, "tls", "selfsigned", "--host", "hoinghi.local", "--ip", "10.0.0.5", "--out",
                            str(out)], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    ca = (out / "ca.crt").read_bytes()
    assert (out / "ca.key").stat().st_mode & 0o077 == 0 and (out / "server.key").stat().st_mode & 0o077 == 0
    server = x509.load_pem_x509_certificates((out / "server.crt").read_bytes())
    assert len(server) == 2 and server[1].public_bytes(Encoding.PEM) == ca  # chain
    names = server[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["hoinghi.local"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    server[0].verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    again = subprocess.run([HOINGHI, "tls", "selfsigned", "--ip", "10.0.0.6", "--out", str(out)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "existing CA" in again.stdout
    assert (out / "ca.crt").read_bytes() == ca  # the halls' devices keep trusting it
    kept = subprocess.run([HOINGHI, "tls", "selfsigned", "--ip", "10.0.0.7", "--out", str(out), "--if-missing"],
                          capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0 and "kept" in kept.stdout
    bad = subprocess.run([HOINGHI, "tls", "selfsigned", "--ip", "10.0.0.300", "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("hoinghi: --ip '10.0.0.300' is not an IP address")
    expiry = server[0].not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=390) < expiry <= dt.timedelta(days=398)  # browsers refuse longer ones


def test_a_served_certificate_is_trusted_with_the_ca_alone(front_door: tuple[str, int, ssl.SSLContext]) -> None:
    """nginx with that certificate: a client trusting the CA (and nothing else) connects; one without fails."""
    base, _, trust = front_door
    port = int(base.rsplit(":", 1)[1])
    with trust.wrap_socket(socket.create_connection(("127.0.0.1", port), 5), server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(socket.create_connection(("127.0.0.1", port), 5),
                                                 server_hostname="127.0.0.1")


# -- TURN ----------------------------------------------------------------------------------------------
TURN_SECRET = "turn-secret-of-the-test-0123456789abcdef"


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[int]:
    """A real coturn (Debian's `turnserver`) with the TURN REST API's shared secret, on a free port."""
    if TURNSERVER is None:
        pytest.fail("coturn is not installed (apt-get install coturn; scripts/test installs it)")
    port = free_port()
    proc = subprocess.Popen([TURNSERVER, "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip=127.0.0.1",
                             "--relay-ip=127.0.0.1", f"--listening-port={port}", "--realm=hoinghi",
                             "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--fingerprint",
                             f"--log-file={tmp_path / 'turn.log'}", "--simple-log", f"--pidfile={tmp_path / 't.pid'}",
                             "--min-port=50000", "--max-port=50100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        assert proc.poll() is None, (tmp_path / "turn.log").read_text(errors="replace")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation over UDP (aioice, as aiortc makes it): the relayed address."""

    async def go() -> tuple[str, int]:
        transport, _ = await aioice.turn.create_turn_endpoint(
            asyncio.DatagramProtocol, server_addr=("127.0.0.1", port), username=username, password=password,
            lifetime=60, channel_refresh_time=60)
        try:
            address: tuple[str, int] = transport.get_extra_info("sockname")
            return address
        finally:
            transport.close()

    return asyncio.run(asyncio.wait_for(go(), 20))


@pytest.fixture
def turn_client(app_settings: Settings, turn_server: int) -> Iterator[tuple[TestClient, World, int]]:
    settings = dataclasses.replace(app_settings, turn_urls=f"turn:127.0.0.1:{turn_server}?transport=udp",
                                   turn_secret=TURN_SECRET, turn_ttl_seconds=600).check()
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        world = client.portal.call(build_world, client.app.state.services)  # type: ignore[attr-defined]
        yield client, world, turn_server


def test_hubs_hand_out_turn_credentials_that_coturn_accepts_until_they_expire(
        turn_client: tuple[TestClient, World, int]) -> None:
    client, world, port = turn_client
    sign_in(client, "member.a1")
    info = client.get(f"/api/sessions/{world.session_id}/media").json()
    [turn] = info["ice_servers"]
    assert turn["urls"] == [f"turn:127.0.0.1:{port}?transport=udp"]
    expiry, _, name = turn["username"].partition(":")
    assert name == "hoinghi" and 0 < int(expiry) - time.time() <= 600  # lasts the configured ttl, no longer
    host, relayed = allocate(port, turn["username"], turn["credential"])
    assert host == "127.0.0.1" and 50000 <= relayed <= 50100
    later = client.get(f"/api/sessions/{world.session_id}/media").json()["ice_servers"][0]
    assert later["urls"] == turn["urls"]  # made afresh for each page: never a lasting password

    expired = Turn(turn["urls"], TURN_SECRET, 600).credential(time.time() - 1200)
    with pytest.raises(aioice.stun.TransactionFailed):
        allocate(port, expired.username or "", expired.credential or "")
    forged = Turn(turn["urls"], "another-secret-0123456789abcdef-xyz", 600).credential(time.time())
    with pytest.raises(aioice.stun.TransactionFailed):
        allocate(port, forged.username or "", forged.credential or "")
