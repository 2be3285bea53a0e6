// The hall screen's figures in projector mode (issue 15; the look in projector.css, the mode in projector.js):
// the hall's own numbers from its hall topic and the province's from the session's totals topic, which carries
// counts only (docs/PROTOCOL.md section 2). Its own socket (live.js) opens the first time the mode turns on,
// under the hall screen's device token or the signed-in user's ticket, as media.js decides who the page is.
import { Hub } from "./live.js";
import { config, formats, setText } from "./dom.js";

const TOKEN_KEY = "hoinghi.device_token"; // media.js keeps a hall screen device's token under this name
const cfg = config("media-config");
const fmt = formats(cfg.lang, cfg.zone);
const box = document.getElementById("screen-figures");
const root = document.documentElement;

function deviceToken() { return cfg.device ? window.localStorage.getItem(TOKEN_KEY) : null; }

// One block of figures (hall or province): its title and the four counts of a row, each as it comes.
function render(which, row, totals) {
  const part = box.querySelector('[data-figures="' + which + '"]');
  if (!part) return;
  if (row && row.name) setText(part.querySelector("[data-fig=name]"), row.name);
  const figures = Object.assign({}, row || {}, totals || {});
  ["expected", "in_person", "online"].forEach(function (key) {
    if (key in figures) setText(part.querySelector('[data-fig="' + key + '"]'), fmt.int(figures[key]));
  });
  if ("percent" in figures) setText(part.querySelector('[data-fig="percent"]'), fmt.pct(figures.percent));
}

function follow() {
  const hub = new Hub({ deviceToken: deviceToken, onSignedOut: function () {} }); // media.js asks again
  const hall = {};
  const province = { unit: {}, totals: null };
  const error = function () { box.querySelector("[data-fig-error]").hidden = false; };
  hub.subscribe("session:" + cfg.session + "/hall:" + cfg.hall, {
    snapshot(data) { Object.assign(hall, data.hall); render("hall", hall); },
    change(data) { if (data.hall) { Object.assign(hall, data.hall); render("hall", hall); } },
    error: error,
  });
  hub.subscribe("session:" + cfg.session + "/totals", {
    snapshot(data) { province.unit = data.unit; province.totals = data.totals; render("province", province.unit, province.totals); },
    change(data) {
      if (data.unit) Object.assign(province.unit, data.unit);
      if (data.totals) province.totals = data.totals;
      render("province", province.unit, province.totals);
    },
    error: error,
  });
  hub.start();
}

if (box && !(cfg.device && !deviceToken())) {
  let started = false;
  const check = function () {
    if (started || !root.classList.contains("projector")) return;
    started = true;
    follow();
  };
  new MutationObserver(check).observe(root, { attributes: true, attributeFilter: ["class"] });
  check();
}
