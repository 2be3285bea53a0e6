"""The member's pages offline (issue 15, acceptance 1), in Chromium on the demo province seeded this minute.

"Mã QR của tôi" opened once online opens again with the network cut (the browser context's offline switch):
the same QR, which decodes to the same credential, the member's name, the conference, when it was last
refreshed and that this is the kept copy. A document the member opened stays readable offline too. The
server's answer is obeyed: a re-issued card replaces the kept one; an account signed out everywhere (from
another device) loses its kept pages at the next online visit; and signing out here empties the cache, so
the next person on this phone finds nothing of the member's offline.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import cv2
import numpy as np
import pytest
import zxingcpp
from playwright.sync_api import Page, expect

from tests.browser import chromium, hoinghi_server
from tests.test_content_rules import PDF
from tests.test_journeys_member_presenter import MEMBER, PRESENTER, served, signed_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
KEPT = "caches.open('hoinghi-member-v1').then(c => c.keys()).then(k => k.map(r => new URL(r.url).pathname))"


def shown_qr(page: Page) -> list[str]:
    """The QR codes a camera would read from the page as shown."""
    picture = cv2.imdecode(np.frombuffer(page.locator(".qr-code svg").screenshot(), np.uint8), cv2.IMREAD_COLOR)
    return [code.text for code in zxingcpp.read_barcodes(picture)]


def kept(page: Page, path: str) -> None:
    """Waits until the service worker has kept `path` (it stores the answer just after the page has it)."""
    page.wait_for_function(f"() => {KEPT}.then(paths => paths.includes('{path}'))", polling=200)


def open_qr_online(page: Page, base: str) -> None:
    """The member's QR page, once the service worker controls it and has kept a copy."""
    page.goto(base + "/me/qr")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.reload()  # now through the worker, which keeps it
    kept(page, "/me/qr")


def test_the_qr_opens_offline_and_follows_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = served(tmp_path, monkeypatch)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        page = signed_in(browser, base, MEMBER)
        page.set_viewport_size(PHONE)
        open_qr_online(page, base)
        assert shown_qr(page) == [demo.qr_text]
        expect(page.locator("[data-offline-flag]")).to_be_hidden()
        name = page.locator(".qr-name").inner_text()
        conference = page.locator(".qr-conference").inner_text()
        refreshed = page.locator(".offline-note").inner_text()
        assert conference and refreshed.startswith("Cập nhật lần cuối lúc ")
        manifest = page.context.request.get(urljoin(base, page.locator("link[rel=manifest]").get_attribute("href")))
        assert manifest.ok and manifest.json()["lang"] == "vi" and manifest.json()["start_url"] == "/me/qr"
        assert {i["sizes"] for i in manifest.json()["icons"]} >= {"192x192", "512x512"}

        staff = signed_in(browser, base, PRESENTER)  # the organisers publish a document, and later re-issue the card
        token = staff.context.request.get(base + "/api/me").json()["csrf_token"]
        published = staff.context.request.post(
            f"{base}/api/conferences/{demo.conference_id}/documents", headers={"X-CSRF-Token": token},
            multipart={"title": "Báo cáo chính trị", "file": {"name": "bao-cao.pdf", "mimeType": "application/pdf",
                                                                "buffer": PDF}})
        assert published.status == 201, published.text()
        page.goto(base + "/me/documents")  # the member's documents: the list and one they open
        first = page.locator(".doc-list a[href$='/file']").first
        document = (first.get_attribute("href") or "").removesuffix("/file")
        assert document, "the demo conference has documents"
        page.goto(base + document)
        kept(page, document)
        title = page.locator("h1").inner_text()

        page.context.set_offline(True)
        page.goto(base + "/me/qr")  # airplane mode: the kept copy, whole
        assert shown_qr(page) == [demo.qr_text]
        assert page.locator(".qr-name").inner_text() == name
        assert page.locator(".qr-conference").inner_text() == conference
        assert page.locator(".offline-note").inner_text().startswith(refreshed)
        expect(page.locator("[data-offline-flag]")).to_have_text(" · Đang ngoại tuyến: đây là bản đã lưu trên máy")
        assert page.evaluate("getComputedStyle(document.querySelector('.qr-name')).fontWeight") == "700"  # its CSS
        page.goto(base + document)
        assert page.locator("h1").inner_text() == title

        with page.expect_navigation():  # back online, the page refreshes itself
            page.context.set_offline(False)
        # a lost card re-issued by the organisers: online, the new one replaces the kept one
        person_id = page.context.request.get(base + "/api/me").json()["user"]["person_id"]
        reissued = staff.context.request.post(f"{base}/api/persons/{person_id}/credential",
                                              headers={"X-CSRF-Token": token})
        assert reissued.status == 201, reissued.text()
        page.goto(base + "/me/qr")
        [new_text] = shown_qr(page)
        assert new_text != demo.qr_text
        page.context.set_offline(True)
        page.reload()
        assert shown_qr(page) == [new_text]
        with page.expect_navigation():
            page.context.set_offline(False)

        # signed out everywhere from another phone: the next online visit here learns it and keeps nothing
        other = signed_in(browser, base, MEMBER)
        other.locator("form[action='/logout'] button").click()
        other.wait_for_url(base + "/login")
        page.goto(base + "/me/qr")
        assert page.url == base + "/login?next=/me/qr"
        assert page.evaluate(KEPT) == []
        page.context.set_offline(True)
        with pytest.raises(Exception, match=r"net::ERR_(FAILED|INTERNET_DISCONNECTED)"):
            page.goto(base + "/me/qr")


def test_signing_out_empties_the_phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served(tmp_path, monkeypatch)
    with hoinghi_server("serve", log=tmp_path / "server.log", seconds=60) as base, chromium() as browser:
        page = signed_in(browser, base, MEMBER)
        page.set_viewport_size(PHONE)
        open_qr_online(page, base)
        page.locator("header.top .menu-button").click()
        page.locator("form[action='/logout'] button").click()
        page.wait_for_url(base + "/login")
        assert page.evaluate(KEPT) == []
        page.context.set_offline(True)
        with pytest.raises(Exception, match=r"net::ERR_(FAILED|INTERNET_DISCONNECTED)"):
            page.goto(base + "/me/qr")
        assert not page.get_by_text(MEMBER).count()
