"""The kiosk's own cost of reading a QR code (issue 15, for kiosk_decode.py): headless Chromium opens the
kiosk page (its CSP compiles WebAssembly) and times zxing-wasm's `readBarcodes`, with the options
kiosk_decoder.js uses, over 640×480 frames with and without a code: wall ms per read and the browser's
CPU ms per read (its processes' CPU from /proc)."""

from __future__ import annotations

import base64
import json
import os
import resource
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import tree_cpu_seconds

CHROMIUM = "/usr/bin/chromium"
READER_OPTIONS = {"formats": ["QRCode"], "tryHarder": True, "maxNumberOfSymbols": 4}  # kiosk_decoder.js's


PREPARE = """async (frames) => {
  await new Promise((resolve) => { const wait = () => (window.ZXingWASM ? resolve() : setTimeout(wait, 50)); wait(); });
  window.benchFrames = [];
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 480;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  for (const b64 of frames) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
    context.drawImage(bitmap, 0, 0);
    window.benchFrames.push(context.getImageData(0, 0, 640, 480));
  }
  const found = [];
  for (const image of window.benchFrames) {
    found.push((await ZXingWASM.readBarcodes(image, OPTIONS)).filter((r) => r.isValid).length);
  }
  return found;
}"""

TIME = """async ({ from, to, rounds }) => {
  const took = [];
  for (let round = 0; round < rounds; round++) {
    for (let n = from; n < to; n++) {
      const started = performance.now();
      await ZXingWASM.readBarcodes(window.benchFrames[n], OPTIONS);
      took.push(performance.now() - started);
    }
  }
  return took;
}"""


@dataclass
class KioskRead:
    qr_ms: float  # median wall ms of one read of a frame with a code
    blank_ms: float  # … of a frame without one
    qr_cpu_ms: float  # the browser's CPU ms per read
    blank_cpu_ms: float
    found: int
    frames: int


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kiosk_read(base: str, qr: list[bytes], blank: list[bytes], rounds: int) -> KioskRead:
    """zxing-wasm's read of 640×480 frames in headless Chromium, on the kiosk page as the kiosk loads it."""
    from playwright.sync_api import sync_playwright

    options = json.dumps(READER_OPTIONS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.add_init_script("delete window.BarcodeDetector;")  # the page loads the WebAssembly reader
            page.goto(base + "/kiosk")
            frames = [base64.b64encode(f).decode() for f in qr + blank]
            found = page.evaluate(PREPARE.replace("OPTIONS", options), frames)

            def timed(start: int, stop: int) -> tuple[float, float]:
                cpu0 = tree_cpu_seconds(os.getpid()) - own_cpu()
                took = page.evaluate(TIME.replace("OPTIONS", options), {"from": start, "to": stop, "rounds": rounds})
                cpu = tree_cpu_seconds(os.getpid()) - own_cpu() - cpu0
                return statistics.median(took), cpu * 1000 / len(took)

            qr_ms, qr_cpu = timed(0, len(qr))
            blank_ms, blank_cpu = timed(len(qr), len(qr) + len(blank))
        finally:
            browser.close()
    return KioskRead(qr_ms, blank_ms, qr_cpu, blank_cpu, sum(1 for n in found[:len(qr)] if n), len(qr))
