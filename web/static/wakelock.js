// Keeps the screen on (Screen Wake Lock) on the kiosk and the hall screen (issue 15): a tablet at the door or
// a hall's big screen must not dim mid-session. The browser drops the lock whenever the page is hidden, so it
// is asked for again each time the page is shown. Where the API is missing or refuses (an old browser, a
// battery saver), nothing else changes. Its state is on <html data-wake-lock>: held, released, refused or
// unsupported.
(function () {
  "use strict";
  var root = document.documentElement;
  if (!("wakeLock" in navigator)) { root.dataset.wakeLock = "unsupported"; return; }
  var held = null;
  function acquire() {
    if (document.visibilityState !== "visible" || held) return;
    navigator.wakeLock.request("screen").then(function (lock) {
      held = lock;
      root.dataset.wakeLock = "held";
      lock.addEventListener("release", function () { held = null; root.dataset.wakeLock = "released"; });
    }, function () { root.dataset.wakeLock = "refused"; });
  }
  document.addEventListener("visibilitychange", acquire);
  acquire();
})();
