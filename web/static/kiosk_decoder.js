// The kiosk's own QR reader, online (docs/KIOSK.md "Where the code is read") and offline: the browser's
// BarcodeDetector where it has one (Chrome on Android, ChromeOS, macOS), else zxing-cpp compiled to
// WebAssembly (zxing-wasm's reader build, vendored in /static/vendor/, docs/KIOSK.md "Offline"). Both
// answer detect(video) with [{rawValue}], the BarcodeDetector's shape. The WebAssembly build is loaded only
// when it is first needed; the page's CSP allows compiling it ('wasm-unsafe-eval', web/http/headers.py).
// `ready` says the reader can read now (the WebAssembly build loaded); until then an online kiosk sends frames.

const VENDOR = new URL("./vendor/", import.meta.url);
const READER_SCRIPT = "zxing-reader.iife.js";   // defines window.ZXingWASM
const READER_OPTIONS = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 4 };

let loading = null;
function loadReader() {  // the vendored script, once; it fetches zxing_reader.wasm from the same folder
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(READER_SCRIPT, VENDOR).href;
      script.onload = () => {
        const zxing = window.ZXingWASM;
        if (!zxing) { reject(new Error("zxing-wasm")); return; }
        zxing.prepareZXingModule({
          overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? new URL(path, VENDOR).href : prefix + path) },
          fireImmediately: true,
        });
        resolve(zxing);
      };
      script.onerror = () => reject(new Error("zxing-wasm"));
      document.head.append(script);
    });
    loading.catch(() => { loading = null; });  // a failed load is tried again at the next frame
  }
  return loading;
}

class WasmDetector {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.kind = "wasm";
    this.ready = false;
    loadReader().then(() => { this.ready = true; })  // fetched while online
      .catch((e) => console.warn("kiosk: the QR reader did not load:", e));
  }

  async detect(video) {
    const zxing = await loadReader();
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return [];
    this.canvas.width = w;
    this.canvas.height = h;
    const context = this.canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, w, h);
    const results = await zxing.readBarcodes(context.getImageData(0, 0, w, h), READER_OPTIONS);
    return results.filter((r) => r.isValid && r.text).map((r) => ({ rawValue: r.text }));
  }
}

/** A QR reader for the kiosk's camera: the browser's own if it has one, else the WebAssembly one. */
export function qrDetector() {
  if ("BarcodeDetector" in window) {
    try {
      const native = new window.BarcodeDetector({ formats: ["qr_code"] });
      native.kind = "native";
      native.ready = true;
      return native;
    } catch (e) { /* no QR support in this browser's BarcodeDetector: fall through */ }
  }
  return typeof WebAssembly === "object" ? new WasmDetector() : null;
}
