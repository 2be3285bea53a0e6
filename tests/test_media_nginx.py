"""deploy/nginx.conf in front of a real server, over its TLS: HLS segments and playlists are cached and
served by nginx (a segment reaches the hub once), under a viewer's own key from the same cache but asking a
hub first each time (a forged key refused though the file is cached: the hub sees every viewer's fetch),
and the session's media routes reach a hub."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser import free_port, hoinghi_server
from web.media.viewing import ViewerKeys
from web.tls import selfsigned

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET = "media-nginx-secret-key-0123456789abcdef"
KEY = "k3y-Of-a-Broadcast_0123456789"


def fetch(url: str, context: ssl.SSLContext) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_nginx_caches_the_hls_files_of_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (scripts/test installs it)")
    media = tmp_path / "media"
    stream = media / "hls" / "12" / KEY
    stream.mkdir(parents=True)
    segment = bytes(range(256)) * 400
    (stream / "7.ts").write_bytes(segment)
    (stream / "index.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                                       "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\n7.ts\n")
    for name, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "HOINGHI_SECRET_KEY": SECRET,
                        "HOINGHI_MEDIA_DIR": str(media)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)

    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base:
        port = free_port()
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        conf = conf.replace("pid /tmp/hoinghi-nginx.pid;",
                            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;")
        if os.geteuid() == 0:  # workers would otherwise run as nobody, who cannot write the test's cache
            conf = "user root;\n" + conf
        conf = re.sub(r"/tmp/(hoinghi-[\w.-]+)", lambda m: f"{tmp_path}/{m.group(1)}", conf)
        conf = conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{free_port()};")
        selfsigned(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
        conf = conf.replace("/etc/nginx/tls/", f"{tmp_path}/tls/")
        trust = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.crt"))  # the test's own CA only

        def get(url: str) -> tuple[int, dict[str, str], bytes]:
            return fetch(url, trust)

        (tmp_path / "nginx.conf").write_text(conf)
        (tmp_path / "hoinghi-upstreams.conf").write_text(f"server {base.removeprefix('http://')};\n")
        nginx = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
                                  "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        try:
            front = f"https://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    if get(front + "/login")[0] == 200:
                        break
                except OSError:
                    pass
                assert nginx.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            url = f"{front}/media/hls/12/{KEY}/7.ts"
            first, second = get(url), get(url)
            assert first[0] == second[0] == 200 and first[2] == second[2] == segment
            assert first[1]["x-cache"] == "MISS" and second[1]["x-cache"] == "HIT"
            assert "immutable" in second[1]["cache-control"] and second[1]["content-type"] == "video/mp2t"
            assert second[1]["strict-transport-security"] == "max-age=31536000"  # HSTS here too

            playlist = f"{front}/media/hls/12/{KEY}/index.m3u8"
            assert get(playlist)[1]["x-cache"] == "MISS"
            assert get(playlist)[1]["x-cache"] == "HIT"  # the same second: from the cache
            time.sleep(2.2)  # past max-age=1 (nginx counts whole seconds)
            again = get(playlist)  # expired: served (stale) while nginx refreshes it in the background
            assert again[0] == 200 and again[2].startswith(b"#EXTM3U") and again[1]["x-cache"] in ("STALE", "UPDATING",
                                                                                                   "EXPIRED")

            # a viewer's own path: the same cached file, but the hub is asked first every time
            keys = ViewerKeys(SECRET)
            mine, theirs = keys.key(12, 7), keys.key(12, 8)
            viewed = get(f"{front}/media/hls/12/{KEY}/{mine}/7.ts")
            assert viewed[0] == 200 and viewed[2] == segment and viewed[1]["x-cache"] == "HIT"  # cached above
            assert get(f"{front}/media/hls/12/{KEY}/{theirs}/7.ts")[1]["x-cache"] == "HIT"
            forged = get(f"{front}/media/hls/12/{KEY}/{mine[:-1]}{'B' if mine[-1] == 'A' else 'A'}/7.ts")
            assert forged[0] == 403  # cached, yet refused: the hub checked the key
            assert get(f"{front}/media/hls/12/{KEY}/{mine}/index.m3u8")[0] == 200
            stranger = keys.key(12, 9)  # a viewer whose first fetch names no file: the hub says so
            assert get(f"{front}/media/hls/12/{KEY}/{stranger}/8.ts")[0] == 403
            assert get(f"{front}/media/hls-fetch")[0] == 404  # nginx's question is not asked from outside

            missing = get(f"{front}/media/hls/12/{KEY}/8.ts")
            assert missing[0] == 404 and missing[1]["x-cache"] == "MISS"
            # the hub's answer for a viewer is kept a few seconds: the same viewer's next fetch is not asked
            # again (no 403 for a file the hub was never asked about: the file's own 404)
            assert get(f"{front}/media/hls/12/{KEY}/{mine}/9.ts")[0] == 404
            assert get(f"{front}/api/sessions/12/media")[0] == 401  # the session's hub answers (sign in first)
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
