// DOM and text helpers shared by the pages (an ES module: `import { el, formats } from "./dom.js"`).
// Every text from the server goes through textContent, never innerHTML: `el` and `setText` are the only
// ways these helpers put text on a page.

/** The element with this id (or null). */
export function $(id) { return document.getElementById(id); }

/** A new element `<tag class="className">text</tag>`; the text (when given) is set as textContent. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Show or hide a node (a missing node is ignored). */
export function show(node, visible) { if (node) node.hidden = !visible; }

/** Put `text` in the node and show it, or empty and hide it when there is no text (alerts, notes). */
export function setText(node, text) {
  if (!node) return;
  node.textContent = text || "";
  node.hidden = !text;
}

/** The page's JSON configuration, `<script type="application/json" id="…">`, or null without it. */
export function config(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/**
 * A translated template with its `{name}` placeholders filled ("{n} lượt chờ gửi"), and each plural
 * `[[n:one|other]]` as one form by the count `params.n` (web/i18n/common.py `plural`, the same rule).
 */
export function fill(template, params) {
  const count = (v) => (typeof v === "number" ? v : Number(String(v).replace(/\D/g, "")) || 0);
  return String(template)
    .replace(/\[\[(\w+):([^|\]]*)\|([^\]]*)\]\]/g, (m, k, one, other) => (k in params ? (count(params[k]) === 1 ? one : other) : m))
    .replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

/** A name folded for search without diacritics ("Đông Hà" → "dong ha"), as the server's search folds it. */
export function fold(text) {
  return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
}

/**
 * Number and time formats of one language and time zone: Vietnamese writes 68.600 and 77,6%, English
 * 68,600 and 77.6%; times are HH:mm (24 h) and dates dd/MM/yyyy in the conference's zone.
 */
export function formats(lang, zone) {
  const vi = lang === "vi";
  const sep = vi ? "." : ",";
  const decimal = vi ? "," : ".";
  const locale = vi ? "vi-VN" : "en-GB";
  const hm = new Intl.DateTimeFormat(locale, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const hms = new Intl.DateTimeFormat(locale, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                hourCycle: "h23" });
  const dmy = new Intl.DateTimeFormat("en-GB", { timeZone: zone, day: "2-digit", month: "2-digit", year: "numeric" });
  const when = (value) => (value instanceof Date ? value : value ? new Date(value) : new Date());
  return {
    /** A whole number with the language's thousands separator. */
    int(n) {
      const v = Math.round(Number(n) || 0);
      const s = String(Math.abs(v)).replace(/\B(?=(\d{3})+(?!\d))/g, sep);
      return v < 0 ? "-" + s : s;
    },
    /** A percentage with one decimal, in the language's decimal mark. */
    pct(p) { return (Number(p) || 0).toFixed(1).replace(".", decimal) + "%"; },
    /** HH:mm of a Date or ISO text (now without one). */
    hhmm(value) { return hm.format(when(value)); },
    /** HH:mm:ss of a Date or ISO text (now without one). */
    hhmmss(value) { return hms.format(when(value)); },
    /** dd/MM/yyyy HH:mm of a Date or ISO text. */
    dateTime(value) { const d = when(value); return dmy.format(d) + " " + hm.format(d); },
  };
}
