"""The scaled-out deployment of docker-compose.yml, on this machine and without Docker.

Everything that can be is read from docker-compose.yml and deploy/: the hubs run the compose file's
command line (`hoinghi serve --host … --port …`) with its environment, the schema is migrated by the
`migrate` service's command, Redis runs the `redis` service's command, the `tls` service's command makes
the run's own CA and nginx's certificate (for 127.0.0.1 and localhost), and nginx runs deploy/nginx.conf
with deploy/hoinghi-upstreams.conf, HTTPS on one port and the redirecting HTTP on another. What is
substituted, and only that: host names, addresses and ports (127.0.0.1 and free ports; nginx's address
that the hubs trust), the secrets (generated for the run), the shared volumes and the certificate's
(directories), the paths nginx would share with another run on the same machine (its pid file and
caches, under a directory of its own), and the settings a rehearsal adds (`overrides`). The run has no
TURN server (it streams no media), so the hubs get no TURN settings.

PostgreSQL is a throwaway cluster of the run's own (initdb + pg_ctl, as the `postgres` user when run
as root), with the role and database the compose file names, so that a fault may restart it; or, with
`admin_url`, a throwaway database on an existing server (which is then never restarted).
"""

from __future__ import annotations

import asyncio
import glob
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import Database, create_database, drop_database, free_port, pg_execute
from sqlalchemy.engine import make_url

from .client import Front
from .compose import (
    DEPLOY,
    HOST,
    Service,
    base_environment,
    hoinghi_command,
    hub_services,
    relocate,
    service,
    with_option,
)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"  # sbin is not on every PATH (CI's, cron's)
HUB_START_SECONDS = 120.0


# -- processes ----------------------------------------------------------------------------------------
def listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_http(url: str, proc: subprocess.Popen[bytes], seconds: float, what: str, log: Path | None,
                  context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"rehearsal: {what} exited with {proc.returncode}" + (f":\n{tail(log)}" if log else ""))
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"rehearsal: {what} did not answer {url} within {seconds:.0f} s"
                                 + (f":\n{tail(log)}" if log else "")) from None
            time.sleep(0.2)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def end(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, seconds: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Hub:
    """One hub process: the compose service's command line and environment, on a port of this machine."""

    def __init__(self, svc: Service, env: dict[str, str], workdir: Path) -> None:
        self.name = svc.name
        self.port = free_port()
        self.command = hoinghi_command(with_option(with_option(svc.command, "--host", HOST), "--port", str(self.port)))
        self.env = env
        self.cwd = workdir / svc.name  # the container's working directory: its own var/
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{svc.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed = 0  # times a fault killed it on purpose
        self.starts = 0

    def start(self, wait: bool = True) -> Hub:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.starts += 1
        if wait:
            self.wait()
        return self

    def wait(self) -> None:
        assert self.proc is not None
        wait_for_http(f"http://{HOST}:{self.port}/login", self.proc, HUB_START_SECONDS, self.name, self.log)

    def kill(self) -> None:
        """SIGKILL: no shutdown, requests in flight are cut off."""
        assert self.proc is not None
        self.killed += 1
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        end(self.proc)
        return self.proc.returncode if self.proc else None


class Redis:
    """The compose `redis` service's command, on a port of this machine; stopped and started again by faults."""

    def __init__(self) -> None:
        self.port = free_port()
        self.command = [*service("redis", {}).command, "--port", str(self.port), "--bind", HOST]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 15
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"rehearsal: redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        end(self.proc, signal.SIGTERM, 10)


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise SystemExit(f"rehearsal: {name} not found (apt-get install postgresql), or pass --postgres URL")
    return path


class Postgres:
    """A throwaway PostgreSQL cluster in the run's directory, on a free port (trust authentication)."""

    restartable = True

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.admin_url = f"postgresql://postgres@{HOST}:{self.port}/postgres"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_owner = [RUNUSER, "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_owner, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise SystemExit(f"rehearsal: {' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}\n"
                             f"{tail(self.log)}")

    def start(self) -> None:
        if not self.data.exists():
            self.dir.mkdir(parents=True)
            if self.as_owner:
                shutil.chown(self.dir, "postgres", "postgres")
            self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--no-sync")
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c max_connections=300", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop")

    def database(self, compose_url: str) -> str:
        """The compose file's role and database, made here; its URL on this machine."""
        url = make_url(compose_url)
        password = (url.password or "").replace("'", "''")
        asyncio.run(pg_execute(self.admin_url, f"CREATE ROLE \"{url.username}\" LOGIN PASSWORD '{password}'"))
        asyncio.run(pg_execute(self.admin_url, f'CREATE DATABASE "{url.database}" OWNER "{url.username}"'))
        return url.set(host=HOST, port=self.port).render_as_string(hide_password=False)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")


class ExistingPostgres:
    """A throwaway database on a PostgreSQL server that is already running (never restarted)."""

    restartable = False

    def __init__(self, admin_url: str, workdir: Path) -> None:
        self.admin_url = admin_url
        self.workdir = workdir
        self.db: Database | None = None

    def start(self) -> None:
        pass

    def database(self, compose_url: str) -> str:
        self.db = create_database(self.admin_url, self.workdir)
        return self.db.url

    def stop(self, mode: str = "fast") -> None:
        raise SystemExit("rehearsal: an existing PostgreSQL server is never restarted (leave out --postgres)")

    def close(self) -> None:
        if self.db is not None:
            drop_database(self.db)


class Nginx:
    """deploy/nginx.conf, copied into a directory of its own: the listen ports (HTTPS, and HTTP that only
    redirects), the certificate's directory (the `tls` service's output), the hub addresses of this machine
    in the included upstreams file, and its /tmp paths (pid, caches) moved into that directory."""

    def __init__(self, workdir: Path, hubs: list[Hub], tls: Path) -> None:
        self.prefix = workdir / "nginx"
        self.prefix.mkdir()
        self.prefix.chmod(0o755)  # the worker processes run as nobody
        self.port = free_port()  # HTTPS
        self.http_port = free_port()
        self.ca = tls / "ca.crt"
        conf = (DEPLOY / "nginx.conf").read_text()
        conf, https = re.subn(r"listen\s+8443\s+ssl\s*;", f"listen {HOST}:{self.port} ssl;", conf)
        conf, http = re.subn(r"listen\s+8080\s*;", f"listen {HOST}:{self.http_port};", conf)
        conf = re.sub(r"/tmp/(hoinghi-[\w.-]+)", lambda m: str(self.prefix / m.group(1)), conf)
        conf, certificates = re.subn(r"/etc/nginx/tls/", f"{tls}/", conf)
        if (https, http, certificates) != (1, 1, 2):
            raise SystemExit("rehearsal: deploy/nginx.conf no longer listens on 8443 (TLS, a certificate and key in "
                             "/etc/nginx/tls/) and 8080 once each: update the rehearsal")
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(conf)
        by_name = {h.name: h for h in hubs}
        upstreams, servers = re.subn(r"server (\w+):8000", lambda m: f"server {HOST}:{by_name[m.group(1)].port}",
                                     (DEPLOY / "hoinghi-upstreams.conf").read_text())
        if servers != len(hubs):
            raise SystemExit(f"rehearsal: deploy/hoinghi-upstreams.conf lists {servers} hubs, the compose file "
                             f"{len(hubs)}")
        (self.prefix / "hoinghi-upstreams.conf").write_text(upstreams)
        self.log = self.prefix / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.log), "-g", "daemon off;"]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.trust = ssl.create_default_context(cafile=str(self.ca))  # the run's CA, as its clients trust it
        wait_for_http(f"https://{HOST}:{self.port}/login", self.proc, 30, "nginx", self.log, self.trust)
        self._check_front_door()

    def _check_front_door(self) -> None:
        """Port 80's only answer is a redirect to HTTPS; HTTPS answers carry HSTS."""
        plain = http.client.HTTPConnection(HOST, self.http_port, timeout=10)
        plain.request("GET", "/login?next=/me")
        answer = plain.getresponse()
        plain.close()
        if answer.status != 301 or not (answer.getheader("Location") or "").startswith("https://"):
            raise SystemExit(f"rehearsal: plain HTTP answered {answer.status} {answer.getheader('Location')}, "
                             "not a redirect to HTTPS")
        with urllib.request.urlopen(f"https://{HOST}:{self.port}/login", timeout=10, context=self.trust) as page:
            if "max-age=" not in (page.headers.get("Strict-Transport-Security") or ""):
                raise SystemExit("rehearsal: nginx's HTTPS answers carry no Strict-Transport-Security")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        end(self.proc, signal.SIGTERM, 15)


class Deployment:
    """PostgreSQL, Redis, the migration, three hubs and nginx, as docker-compose.yml describes them."""

    def __init__(self, workdir: Path, admin_url: str | None, overrides: dict[str, str]) -> None:
        self.workdir = workdir
        workdir.chmod(0o755)  # PostgreSQL (as postgres) and nginx's workers (as nobody) work beneath it
        self.postgres: Postgres | ExistingPostgres = ExistingPostgres(admin_url, workdir) if admin_url \
            else Postgres(workdir)
        self.redis = Redis()
        self.variables = {"POSTGRES_PASSWORD": secrets.token_urlsafe(16),
                          "HOINGHI_SECRET_KEY": secrets.token_urlsafe(32),
                          "HOINGHI_DATA_KEY": secrets.token_urlsafe(32),
                          "TURN_SECRET": secrets.token_urlsafe(32), "METRICS_TOKEN": secrets.token_urlsafe(32),
                          "SERVER_NAME": "localhost", "SERVER_IP": HOST}
        self.overrides = overrides
        self.env: dict[str, str] = {}  # the `migrate` service's environment, localised: hubs and preparation
        self.hubs: list[Hub] = []
        self.nginx: Nginx | None = None

    def localise(self, svc: Service, database_url: str) -> dict[str, str]:
        env = dict(svc.environment)
        env["DATABASE_URL"] = database_url
        env["REDIS_URL"] = relocate(env["REDIS_URL"], HOST, self.redis.port)
        for name, volume in (("HOINGHI_MEDIA_DIR", "media"), ("HOINGHI_DATA_DIR", "data")):
            if name in env:  # the volumes every hub shares
                env[name] = str(self.workdir / volume)
        if "HOINGHI_FORWARDED_ALLOW_IPS" in env:  # nginx's address
            env["HOINGHI_FORWARDED_ALLOW_IPS"] = HOST
        for name in ("HOINGHI_TURN_URLS", "HOINGHI_TURN_SECRET"):
            env.pop(name, None)
        return env | self.overrides

    def start_stores(self) -> None:
        """PostgreSQL (the compose role and database), Redis, then the `migrate` service."""
        self.postgres.start()
        migrate = service("migrate", self.variables)
        database_url = self.postgres.database(migrate.environment["DATABASE_URL"])
        self.redis.start()
        self.env = self.localise(migrate, database_url)
        log = self.workdir / "migrate.log"
        with log.open("wb") as out:
            done = subprocess.run(hoinghi_command(migrate.command), env=base_environment() | self.env, stdout=out,
                                  stderr=subprocess.STDOUT, cwd=self.workdir, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"rehearsal: {' '.join(migrate.command)} failed:\n{tail(log)}")

    def make_certificate(self) -> Path:
        """The `tls` service's command: the run's CA and a certificate for this machine's address."""
        tls, out, log = service("tls", self.variables), self.workdir / "tls", self.workdir / "tls.log"
        with log.open("wb") as output:
            done = subprocess.run(hoinghi_command(with_option(tls.command, "--out", str(out))),
                                  env=base_environment() | tls.environment, stdout=output, stderr=subprocess.STDOUT,
                                  cwd=self.workdir, timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"rehearsal: {' '.join(tls.command)} failed:\n{tail(log)}")
        out.chmod(0o755)
        return out

    def start_hubs(self) -> None:
        """The hub services (all at once, then waited for), then nginx (TLS) in front of them."""
        for name in hub_services():
            svc = service(name, self.variables)
            self.hubs.append(Hub(svc, base_environment() | self.localise(svc, self.env["DATABASE_URL"]),
                                 self.workdir))
        for hub in self.hubs:
            hub.start(wait=False)
        for hub in self.hubs:
            hub.wait()
        self.nginx = Nginx(self.workdir, self.hubs, self.make_certificate())
        self.nginx.start()

    @property
    def front(self) -> Front:
        """nginx's HTTPS, as the clients reach it, trusting the run's CA."""
        assert self.nginx is not None
        return Front(HOST, self.nginx.port, str(self.nginx.ca))

    def crashed(self) -> list[str]:
        """Hubs (or nginx) that are down without a fault having stopped them."""
        out = [h.name for h in self.hubs if h.proc is not None and not h.alive and h.starts > h.killed]
        if self.nginx is not None and self.nginx.proc is not None and not self.nginx.alive:
            out.append("nginx")
        return out

    def close(self) -> dict[str, int | None]:
        """Stops everything; the hubs' exit codes."""
        if self.nginx is not None:
            self.nginx.stop()
        codes = {h.name: h.stop() for h in self.hubs}
        self.redis.stop()
        self.postgres.close()
        return codes
