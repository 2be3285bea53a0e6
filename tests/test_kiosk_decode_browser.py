"""Issue 15: online, a kiosk in QR mode reads the code itself and sends only the text (POST /api/checkins),
the default since scripts/bench/kiosk_decode.py measured it (docs/KIOSK.md "Where the code is read"): a
real headless Chromium without `BarcodeDetector` (the vendored zxing-wasm reads), its fake camera showing a
delegate's QR, online: green, counted on the dashboard, and not one camera frame on the live WebSocket.
With ?decode=server the same page sends frames again and the server's verdict comes back on the socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Request, WebSocket, expect

from tests.browser import chromium
from tests.kiosk_media import qr_picture, write_y4m
from tests.kiosk_site import served_site
from tests.test_kiosk_offline_browser import NO_BARCODE_DETECTOR, enrol

# Counts the binary messages (camera frames: Blobs) the page sends on any WebSocket; the DevTools
# protocol's framesent does not report a Blob's bytes.
COUNT_BINARY = """window.binarySent = 0;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data !== "string") window.binarySent += 1;
  return send.call(this, data);
};"""


@pytest.mark.browser
def test_an_online_kiosk_reads_the_code_itself_and_sends_the_text(tmp_path: Path) -> None:
    with served_site(tmp_path) as site:
        first = site.delegates[0]
        video = write_y4m(tmp_path / "camera.y4m", [qr_picture(first.text)], frames_each=10)
        with site.dashboard() as board, chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                                 f"--use-file-for-fake-video-capture={video}") as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(NO_BARCODE_DETECTOR)
            context.add_init_script(COUNT_BINARY)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            texts: list[str] = []  # what the page said on the live hub

            verdicts: list[str] = []  # the server's verdicts on the socket: of frames it read

            def watch(ws: WebSocket) -> None:
                ws.on("framesent", lambda payload: texts.append(str(payload)))
                ws.on("framereceived", lambda m: verdicts.append(str(m)) if '"verdict"' in str(m) else None)

            page.on("websocket", watch)
            checkins: list[str] = []

            def sent(request: Request) -> None:
                if request.method == "POST" and "/api/checkins" in request.url:
                    checkins.append(request.post_data or "")

            page.on("request", sent)
            enrol(page, site.base, site.enrolment_code(), site.prepared.session_id)
            assert page.evaluate("'BarcodeDetector' in window") is False
            page.click("#start")
            expect(page.locator("#net")).to_have_text("Trực tuyến", timeout=10_000)
            result = page.locator("#result")
            expect(result).to_have_attribute("data-outcome", "accepted", timeout=15_000)
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {first.full_name}")
            assert board.wait(lambda t: t.get("in_person") == 1)["in_person"] == 1
            assert any(first.text in body for body in checkins)  # the text, read here, to the check-in API
            assert any('"type":"camera"' in t.replace(" ", "") for t in texts)  # the hub knows the session
            page.wait_for_timeout(1500)  # a few more ticks with the code still in view
            assert page.evaluate("window.binarySent") == 0 and verdicts == []  # no camera frame sent, none read
            assert len([b for b in checkins if first.text in b]) == 1  # seen again: not sent again

            page.goto(site.base + "/kiosk?decode=server")  # the site's choice: the server reads the frames
            page.click("#start")
            expect(page.locator("#net")).to_have_text("Trực tuyến", timeout=10_000)
            for _ in range(100):
                if verdicts:
                    break
                page.wait_for_timeout(100)
            assert verdicts and '"outcome":"repeat"' in verdicts[0].replace(" ", "")
            expect(result).to_have_attribute("data-outcome", "repeat")
            assert page.evaluate("window.binarySent") > 0  # camera frames to the server
            assert len([b for b in checkins if first.text in b]) == 1
            assert errors == []
        with site.dashboard() as board:
            assert board.totals["in_person"] == 1
