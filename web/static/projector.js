// Projector mode of the live dashboard (issue 15; its look in projector.css): on with `?projector=1` or the
// "Máy chiếu" button (which also asks for full screen), off with the button or Esc. The page never scrolls
// in this mode: the halls' box shows a screenful of halls and turns to the next every PAGE_MS, back to the
// first after the last, so every hall comes on the screen in turn, whatever dashboard.js redraws meanwhile.
(function () {
  "use strict";
  var PAGE_MS = 8000;
  var root = document.documentElement;
  var button = document.querySelector("[data-projector]");
  var box = document.getElementById("halls-section");
  function on() { return root.classList.contains("projector"); }
  function set(value) {
    root.classList.toggle("projector", value);
    if (button) button.setAttribute("aria-pressed", String(value));
    var url = new URL(location.href);
    if (value) url.searchParams.set("projector", "1"); else url.searchParams.delete("projector");
    history.replaceState(history.state, "", url);
    if (box) box.scrollTop = 0;
  }
  set(new URLSearchParams(location.search).get("projector") === "1");
  if (button) button.addEventListener("click", function () {
    var value = !on();
    set(value);
    if (value && root.requestFullscreen) root.requestFullscreen().catch(function () {});
    if (!value && document.fullscreenElement) document.exitFullscreen().catch(function () {});
  });
  document.addEventListener("keydown", function (event) { if (event.code === "Escape" && on()) set(false); });
  setInterval(function () {
    if (!on() || !box) return;
    var head = box.querySelector("thead");
    var step = box.clientHeight - (head ? head.offsetHeight : 0);
    box.scrollTop = box.scrollTop + box.clientHeight >= box.scrollHeight - 1 ? 0 : box.scrollTop + step;
  }, PAGE_MS);
})();
