"""`hoinghi kiosk --video FILE` against a real server: the same camera protocol as the kiosk page,
verdicts printed in Vietnamese, and a clear one-line failure for a refused token or session."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

from tests.browser import HOINGHI
from tests.kiosk_media import forged, qr_picture, write_video
from tests.kiosk_site import served_site
from web.kiosk.client import line, ws_url


def kiosk(base: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOINGHI_KIOSK_TOKEN": token}
    return subprocess.run([HOINGHI, "kiosk", "--server", base, *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_video_of_a_card_checks_the_delegate_in(tmp_path: Path) -> None:
    with served_site(tmp_path) as site:
        first, second = site.delegates[:2]
        blank = qr_picture(None)
        video = write_video(tmp_path / "hall.avi", [blank, qr_picture(first.text), blank,
                                                    qr_picture(forged(second.text))], frames_each=8, fps=20)
        session = str(site.prepared.session_id)
        done = kiosk(site.base, site.prepared.kiosk_token, "--session", session, "--video", str(video))
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert [text[10:] for text in lines] == [f"✔ Xin chào {first.full_name} · {first.unit_name}",
                                                  "✘ Mã bị sửa đổi hoặc giả mạo"], done.stdout
        assert "kiosk connected; session" in done.stderr
        with site.dashboard() as board:
            assert board.wait(lambda t: t.get("in_person") == 1)["in_person"] == 1

        refused = kiosk(site.base, "1.not-the-token", "--session", session, "--video", str(video))
        assert refused.returncode == 2 and refused.stderr.startswith("hoinghi: the server refused the kiosk token")
        wrong = kiosk(site.base, site.prepared.kiosk_token, "--session", "9999", "--video", str(video))
        assert wrong.returncode == 2 and wrong.stderr.startswith("hoinghi: the server refused session 9999")
        missing = kiosk(site.base, site.prepared.kiosk_token, "--session", session, "--video", "nope.avi")
        assert missing.returncode == 2 and missing.stderr == "hoinghi: no such video file: nope.avi\n"
    gone = kiosk(site.base, site.prepared.kiosk_token, "--session", session, "--video", str(video))
    assert gone.returncode == 2 and gone.stderr.startswith("hoinghi: cannot reach the server at ws://127.0.0.1:")


def test_addresses_and_lines() -> None:
    assert ws_url("https://hoinghi.example.vn") == "wss://hoinghi.example.vn/ws"
    assert ws_url("http://10.0.0.5:8000/") == "ws://10.0.0.5:8000/ws"
    assert ws_url("10.0.0.5:8000") == "ws://10.0.0.5:8000/ws"
    assert line({"type": "read", "n": 1}) is None
    assert line({"type": "error", "code": "bad_frame", "message": "x"}) is None
    repeat = {"type": "verdict", "outcome": "repeat", "message": "Đã điểm danh lúc 07:58 tại Hội trường",
              "person": {"full_name": "Nguyễn Văn An", "unit_name": "Chi bộ 1"}}
    assert line(repeat, datetime(2026, 11, 26, 8, 1, 2)) == \
        "08:01:02  ↺ Nguyễn Văn An: Đã điểm danh lúc 07:58 tại Hội trường"
