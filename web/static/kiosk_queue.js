// The kiosk's offline queue in IndexedDB (docs/KIOSK.md "Offline"): every scan made offline, keyed by its
// nonce, until /api/checkins/upload has taken it. A write is committed before the verdict is shown, so a
// reload or a power cut loses nothing, and IndexedDB has no 5 MB ceiling. Scans an older kiosk page left
// in localStorage (`hoinghi.kiosk.queue`) are moved in once, at open.

const DB_NAME = "hoinghi-kiosk";
const STORE = "queue";
const LEGACY_KEY = "hoinghi.kiosk.queue";

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("aborted"));
  });
}

export class ScanQueue {
  /** Opens the database (made on first use), moves a legacy localStorage queue in, and loads the items. */
  static async open() {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      store.createIndex("nonce", "nonce", { unique: true });
    };
    const queue = new ScanQueue(await done(request));
    await queue.migrate();
    return queue;
  }

  constructor(db) { this.db = db; }

  async migrate() {
    let legacy = [];
    try { legacy = JSON.parse(localStorage.getItem(LEGACY_KEY) || "[]"); } catch (e) { legacy = []; }
    if (Array.isArray(legacy) && legacy.length) await this.add(...legacy);
    localStorage.removeItem(LEGACY_KEY);  // only once it is all in IndexedDB
  }

  /** Adds scans (in order); one whose nonce is already queued is not added twice. */
  async add(...items) {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const nonces = store.index("nonce");
    for (const item of items) {
      nonces.count(item.nonce).onsuccess = (ev) => { if (!ev.target.result) store.add(item); };
    }
    await committed(tx);
  }

  /** Every queued scan, oldest first, without the store's own key. */
  async all() {
    const tx = this.db.transaction(STORE, "readonly");
    const rows = await done(tx.objectStore(STORE).getAll());
    return rows.map(({ seq, ...item }) => item);
  }

  /** Removes the scans with these nonces (the server has them). */
  async remove(nonces) {
    const tx = this.db.transaction(STORE, "readwrite");
    const index = tx.objectStore(STORE).index("nonce");
    for (const n of nonces) {
      index.getKey(n).onsuccess = (ev) => { if (ev.target.result !== undefined) tx.objectStore(STORE).delete(ev.target.result); };
    }
    await committed(tx);
  }
}
