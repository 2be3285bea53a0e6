"""A real Chromium enrols a participant's face on /me/face with its camera (fed a photo from the shared
folder as a fake video device), then withdraws."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.browser import chromium, hoinghi_server
from tests.faces_photos import photo
from tests.world import PASSWORD, build_world
from web.bootstrap import build
from web.settings import load

pytestmark = pytest.mark.browser
SECRET = "face-browser-test-secret-0123456789abcdef"


async def prepare(database_url: str) -> None:
    async with build(load({}, None, database_url=database_url, secret_key=SECRET, password_time_cost=1,
                          password_memory_kib=8192)) as svc:
        await build_world(svc)


def fake_camera(faces_dir: Path, target: Path) -> Path:
    """A few seconds of 640×480 MJPEG showing one face, in the test's own temporary directory."""
    image = cv2.imdecode(np.frombuffer(photo(faces_dir / "kit_harington/kit2.jpg"), np.uint8), cv2.IMREAD_COLOR)
    canvas = np.full((480, 640, 3), 235, np.uint8)
    canvas[53:427, 5:635] = cv2.resize(image, (630, 374))
    frame = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    target.write_bytes(frame * 60)
    return target


def test_the_camera_picture_enrols_and_the_button_withdraws(tmp_path: Path, faces_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path / 'faces.db'}"
    asyncio.run(prepare(database))
    for name, value in {"DATABASE_URL": database, "HOINGHI_SECRET_KEY": SECRET, "HOINGHI_FACE_WORKERS": "0",
                        "HOINGHI_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    camera = fake_camera(faces_dir, tmp_path / "camera.mjpeg")
    with hoinghi_server("serve", log=tmp_path / "serve.log") as base, \
            chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-video-capture={camera}") as browser:
        page = browser.new_page()
        page.goto(base + "/login?next=/me/face")
        page.get_by_label("Tên đăng nhập").fill("member.a1")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(base + "/me/face")
        assert page.get_by_role("heading", level=1).inner_text() == "Đăng ký khuôn mặt (không bắt buộc)"
        page.get_by_role("button", name="Bật camera").click()
        page.wait_for_function("() => document.querySelector('[data-video]').videoWidth > 0")
        page.get_by_role("button", name="Chụp ảnh").click()
        page.wait_for_function("() => document.querySelector('[data-file]').files.length === 1")
        page.get_by_label("Tôi đã đọc và đồng ý").check()
        page.get_by_role("button", name="Đăng ký khuôn mặt").click()
        page.wait_for_url(base + "/me/face?done=enrolled")
        assert page.get_by_role("status").inner_text().startswith("Đã đăng ký khuôn mặt.")
        assert "Đã đăng ký khuôn mặt lúc" in page.locator("main").inner_text()
        page.get_by_role("button", name="Rút lại đồng ý và xóa dữ liệu khuôn mặt").click()
        page.wait_for_url(base + "/me/face?done=withdrawn")
        assert "Chưa đăng ký khuôn mặt." in page.locator("main").inner_text()
