"""Issue 15, acceptance 2: a kiosk in a real headless Chromium without `BarcodeDetector`, its fake camera
showing a delegate's QR code and its network cut, reads the code itself (the vendored zxing-wasm), checks
the delegate in offline (green), queues the scan in IndexedDB, and when the network is back the upload
counts it once on the dashboard; a hand-held scanner typing through a Vietnamese input method (every key
"Process", only `code` telling the key) is read too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

from tests.browser import chromium
from tests.kiosk_media import qr_picture, write_y4m
from tests.kiosk_site import served_site

VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"

NO_BARCODE_DETECTOR = "delete window.BarcodeDetector; delete globalThis.BarcodeDetector;"

QUEUED = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("hoinghi-kiosk");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const count = open.result.transaction("queue").objectStore("queue").count();
    count.onsuccess = () => { resolve(count.result); open.result.close(); };
  };
})"""

# A manual check-in an older kiosk page queued in localStorage while offline.
LEGACY_QUEUE = """({ session_id, person_id }) => localStorage.setItem("hoinghi.kiosk.queue", JSON.stringify([
  { session_id, person_id, method: "manual", nonce: "k-legacy-1", kiosk_time: new Date().toISOString() }]))"""

# Types `text` as key presses whose `key` an input method has taken ("Process"): only `code` and Shift say
# which key it was, as with IBus or the system's Telex; after each D a "đ" injected as Unikey does (no code).
IME_TYPING = """(text) => {
  const press = (code, shiftKey) => document.dispatchEvent(new KeyboardEvent("keydown",
    { key: "Process", code, shiftKey, keyCode: 229, bubbles: true }));
  for (const ch of text) {
    if (ch === ":") press("Semicolon", true);
    else if (/[0-9]/.test(ch)) press("Digit" + ch, false);
    else press("Key" + ch.toUpperCase(), ch !== ch.toLowerCase() && ch === ch.toUpperCase());
    if (ch === "D") document.dispatchEvent(new KeyboardEvent("keydown", { key: "đ", code: "", bubbles: true }));
  }
  document.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", bubbles: true }));
}"""


def enrol(page: Page, base: str, code: str, session_id: int) -> None:
    answer = page.goto(base + "/kiosk")
    assert answer is not None
    assert "script-src 'self' 'wasm-unsafe-eval';" in answer.headers["content-security-policy"]  # compiles zxing
    assert "wasm-unsafe-eval" not in httpx2.get(base + "/login").headers["content-security-policy"]  # only there
    page.fill("#enrol-code", code)
    page.fill("#enrol-name", "Máy điểm danh cửa phụ")
    page.click("#enrol button[type=submit]")
    page.locator(f'#session-list button[data-session="{session_id}"]').click()


def test_the_vendored_qr_reader_is_the_recorded_build() -> None:
    recorded = (VENDOR / "README.md").read_text()
    for name in ("zxing-reader.iife.js", "zxing_reader.wasm"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"`sha256sum {name}` = `{digest}`" in recorded, name
    wasm = hashlib.sha256((VENDOR / "zxing_reader.wasm").read_bytes()).hexdigest()
    assert f"ZXING_WASM_SHA256=`{wasm}`" in (VENDOR / "zxing-reader.iife.js").read_text()  # the pair it was built as
    assert "MIT License" in (VENDOR / "zxing-wasm-LICENSE").read_text()


@pytest.mark.browser
def test_a_kiosk_without_barcode_detector_scans_offline_and_the_upload_counts_once(tmp_path: Path) -> None:
    with served_site(tmp_path) as site:
        first, second, third = site.delegates[:3]
        video = write_y4m(tmp_path / "camera.y4m", [qr_picture(first.text)], frames_each=10)
        with site.dashboard() as board, chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                                 f"--use-file-for-fake-video-capture={video}") as browser:
            assert board.totals["in_person"] == 0
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(NO_BARCODE_DETECTOR)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            enrol(page, site.base, site.enrolment_code(), site.prepared.session_id)
            assert page.evaluate("'BarcodeDetector' in window") is False
            page.wait_for_function("() => localStorage.getItem('hoinghi.kiosk.bundle') !== null")  # cached at the pick

            context.set_offline(True)  # the hall's network goes as the clerk starts
            page.click("#start")
            expect(page.locator("#net")).to_contain_text("Ngoại tuyến", timeout=10_000)
            result = page.locator("#result")
            expect(result).to_have_attribute("data-outcome", "accepted", timeout=15_000)
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {first.full_name}")
            expect(page.locator("#result-detail")).to_contain_text("ngoại tuyến")
            expect(page.locator("#net")).to_have_text("Ngoại tuyến · 1 lượt chờ gửi")
            expect(page.locator("#queue-info")).to_have_text("1 lượt chờ gửi · chưa gửi lần nào")
            result.click()

            page.evaluate(IME_TYPING, second.text)  # a hand-held scanner, a Vietnamese input method on
            expect(page.locator("#result-title")).to_have_text(f"Xin chào {second.full_name}")
            expect(page.locator("#net")).to_have_text("Ngoại tuyến · 2 lượt chờ gửi")
            assert page.evaluate(QUEUED) == 2  # in IndexedDB, not only on screen
            assert board.totals["in_person"] == 0

            context.set_offline(False)  # back: the queue is uploaded; the card still in view is a repeat
            expect(page.locator("#net")).to_have_text("Trực tuyến", timeout=20_000)
            expect(page.locator("#queue-info")).to_contain_text("0 lượt chờ gửi · gửi thành công lần cuối")
            assert board.wait(lambda t: t.get("in_person") == 2)["in_person"] == 2
            assert page.evaluate(QUEUED) == 0

            page.evaluate(LEGACY_QUEUE, {"session_id": site.prepared.session_id, "person_id": third.person_id})
            page.reload()  # an older page's localStorage queue is moved to IndexedDB once, and sent
            page.click("#start")
            expect(page.locator("#net")).to_have_text("Trực tuyến", timeout=10_000)
            expect(page.locator("#queue-info")).to_contain_text("0 lượt chờ gửi · gửi thành công lần cuối")
            assert board.wait(lambda t: t.get("in_person") == 3)["in_person"] == 3
            assert page.evaluate("localStorage.getItem('hoinghi.kiosk.queue')") is None
            assert page.evaluate(QUEUED) == 0
            assert errors == []
        with site.dashboard() as board:  # each counted once: the upload and the camera's repeat made no second
            assert board.totals["in_person"] == 3
