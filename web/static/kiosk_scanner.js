// What a hand-held QR scanner in keyboard mode typed, read from the physical keys (KeyboardEvent.code and
// Shift) whenever KeyboardEvent.key is not plain ASCII: with a Vietnamese input method on, `key` is
// "Process" (IBus, the system's Telex/VNI) or a composed letter ("dd" → "đ", "a1" → "á") while `code` is
// still the key pressed (read as a US keyboard, which a scanner emulates). Text an input method injects
// itself (Unikey, EVKey: a Backspace, then "đ" with no `code`) types nothing here.

const SHIFTED = { Digit1: "!", Digit2: "@", Digit3: "#", Digit4: "$", Digit5: "%", Digit6: "^", Digit7: "&",
  Digit8: "*", Digit9: "(", Digit0: ")", Semicolon: ":", Minus: "_", Equal: "+", Slash: "?", Period: ">",
  Comma: "<" };
const PLAIN = { Semicolon: ";", Minus: "-", Equal: "=", Slash: "/", Period: ".", Comma: ",", Space: " " };

/** The character a US-layout key press types, or "" for a key that types none (Shift, arrows…). */
export function scannerChar(ev) {
  const code = ev.code || "";
  if (!code) return "";  // injected by an input method, not a key pressed
  if (ev.key && ev.key.length === 1 && ev.key >= " " && ev.key <= "~") return ev.key;
  let m = /^Key([A-Z])$/.exec(code);
  if (m) return ev.shiftKey ? m[1] : m[1].toLowerCase();
  m = /^(?:Digit|Numpad)([0-9])$/.exec(code);
  if (m) return ev.shiftKey && code.startsWith("Digit") ? SHIFTED[code] : m[1];
  if (ev.shiftKey && SHIFTED[code]) return SHIFTED[code];
  if (PLAIN[code]) return PLAIN[code];
  return "";
}

/** Whether the key press ends the scanner's burst. */
export function scannerEnd(ev) {
  return ev.code === "Enter" || ev.code === "NumpadEnter" || ev.key === "Enter";
}
