// The member's pages offline (issue 15): registers the service worker (sw.js), says when the copy on screen
// was last refreshed from the server and whether the phone is offline, and refreshes the page when the
// network comes back or the page is shown again after a while (the worker then fetches the server's copy).
(function () {
  "use strict";
  var STALE_MS = 60 * 1000;
  var flag = document.querySelector("[data-offline-flag]");
  var shownAt = Date.now();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(function () {});
  function say() { if (flag) flag.hidden = navigator.onLine; }
  function refresh() { if (navigator.onLine) location.reload(); }
  say();
  window.addEventListener("offline", say);
  window.addEventListener("online", function () { say(); refresh(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && Date.now() - shownAt > STALE_MS) refresh();
  });
})();
