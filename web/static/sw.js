// The member's pages offline (issue 15): "Mã QR của tôi", "Tài liệu" and the documents the member opened
// open without a network, as last seen online. Served as /sw.js (web/routes/offline.py), registered by
// offline.js from those pages only.
//
// What is kept, and nothing else: the signed-in member's own pages (OWN), a document's page and file once
// the member's document list is kept (DOCUMENT), and the static files those pages load (by their referrer).
// Every other request, the kiosk's and the staff's pages included, goes to the network untouched.
//
// Online, the network answers first (a re-issued card replaces the old copy); after WAIT_MS without an
// answer, or with no network, or with a server error, the kept copy is shown. The server's answer also
// removes: a page it refuses (403, 404, 410) is dropped, and an answer saying nobody is signed in (a
// redirect to the sign-in page, 401) drops every personal copy, as do signing out (POST /logout) and the
// sign-in page: a phone never keeps one person's pages for the next.
"use strict";

const PERSONAL = "hoinghi-member-v1";
const ASSETS = "hoinghi-assets-v1";
const OWN = /^\/me\/(qr|documents)$/;
const DOCUMENT = /^\/documents\/\d+(\/file)?$/;
const WAIT_MS = 4000;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) if (name !== PERSONAL && name !== ASSETS) await caches.delete(name);
  await self.clients.claim();
})()));
self.addEventListener("message", (event) => {
  if (event.data === "sign-out") event.waitUntil(forget());
});

function forget() {
  return caches.delete(PERSONAL);
}

function personalReferrer(request) {
  if (!request.referrer) return false;
  const from = new URL(request.referrer);
  return from.origin === self.location.origin && (OWN.test(from.pathname) || DOCUMENT.test(from.pathname));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "/logout") {
    event.respondWith(forget().then(() => fetch(request)));
  } else if (request.method !== "GET") {
    return;
  } else if (url.pathname === "/login") {
    event.respondWith(fetch(request).then((answer) => (answer.ok ? forget().then(() => answer) : answer)));
  } else if (OWN.test(url.pathname)) {
    event.respondWith(fresh(event, PERSONAL, true));
  } else if (DOCUMENT.test(url.pathname)) {
    event.respondWith(caches.open(PERSONAL).then((cache) => cache.match("/me/documents")).then(
      (list) => (list ? fresh(event, PERSONAL, false) : fetch(request))));
  } else if (url.pathname.startsWith("/static/") && personalReferrer(request)) {
    event.respondWith(fresh(event, ASSETS, false));
  }
});

// The network's answer, kept (or its copy dropped) as the server says; the kept copy when the network is
// away, slow or failing.
async function fresh(event, name, own) {
  const request = event.request;
  const cache = await caches.open(name);
  const kept = await cache.match(request);
  const network = fetch(request).then(async (answer) => {
    await learn(cache, request, answer, own);
    return answer;
  });
  event.waitUntil(network.catch(() => undefined));
  if (!kept) return network;
  const late = new Promise((resolve) => setTimeout(() => resolve(kept), WAIT_MS));
  return Promise.race([network.then((answer) => (answer.status >= 500 ? kept : answer), () => kept), late]);
}

async function learn(cache, request, answer, own) {
  if (answer.status === 200 && answer.type === "basic") {
    await cache.put(request, answer.clone());
  } else if (own && (answer.type === "opaqueredirect" || answer.redirected || answer.status === 401)) {
    await forget();  // signed out (here or everywhere): nothing personal stays
  } else if ([403, 404, 410].includes(answer.status)) {
    await cache.delete(request);  // no longer this member's: a card revoked with no new one, a document gone
  }
}
