// The only door to Rust. Every call returns data or throws {code, message, fix}.
const tauri = window.__TAURI__;

export async function call(command, args = {}) {
  if (!tauri || !tauri.core) {
    throw { code: 'no_ipc', message: 'Latchkey’s window could not reach the app.', fix: 'Close this window and open Latchkey again.' };
  }
  return settle(tauri.core.invoke(command, args));
}

async function settle(pending) {
  try {
    return await pending;
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) throw e;
    throw { code: 'internal', message: String(e), fix: 'Try again.' };
  }
}

// An answer boot.js asked for before the modules loaded ('info' or 'accounts'), once; null
// when there is none (then ask with call()).
export function early(name) {
  const boot = window.latchkeyBoot;
  const pending = boot && boot[name];
  if (!pending) return null;
  boot[name] = null;
  return settle(pending);
}

export function on(event, handler) {
  if (tauri && tauri.event) tauri.event.listen(event, (e) => handler(e.payload));
}

// Builds DOM without innerHTML, so provider-supplied text can never become markup (S9).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Small icons drawn as inline SVG rather than symbol characters: a symbol that the UI font
// lacks sends the text engine through every installed font for a fallback, which costs the
// first paint tens of milliseconds and can end as an empty box.
const SVG = 'http://www.w3.org/2000/svg';
export function moreIcon() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'glyph');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  for (const cx of [5, 12, 19]) {
    const c = document.createElementNS(SVG, 'circle');
    c.setAttribute('cx', cx);
    c.setAttribute('cy', 12);
    c.setAttribute('r', 2);
    c.setAttribute('fill', 'currentColor');
    svg.append(c);
  }
  return svg;
}

// A toast belongs to the view it is shown on. One that announces where the person goes next
// ("Connected…" then the accounts) passes { leadsOn: true } and stays for that next view.
export function toast(text, { leadsOn = false } = {}) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  toast.views = leadsOn ? 0 : 1;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// Moving on from the toast's view takes it away.
export function toastFollowsNavigation() {
  toast.views = (toast.views ?? 2) + 1;
  if (toast.views > 1) {
    const t = document.getElementById('toast');
    if (t) t.hidden = true;
  }
}

// An error box whose button performs the fix when there is one.
export function errorBox(e, action) {
  return h('section', { class: 'error', role: 'alert', 'data-error': e.code },
    h('h2', {}, e.message),
    h('p', {}, e.fix),
    action ? h('button', { type: 'button', onclick: action.run }, action.label) : null);
}

// A modal dialog that traps focus and closes on Escape. Resolves true/false.
export function confirmDialog({ title, body, confirm, danger }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const close = (v) => { overlay.remove(); if (previous) previous.focus(); resolve(v); };
    const ok = h('button', { type: 'button', class: danger ? 'danger' : '', onclick: () => close(true) }, confirm);
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => close(false) }, 'Cancel');
    const box = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'dlg-title' },
      h('h2', { id: 'dlg-title' }, title), h('p', {}, body), h('div', { class: 'row end' }, cancel, ok));
    const overlay = h('div', { class: 'overlay', onkeydown: (ev) => {
      if (ev.key === 'Escape') { ev.preventDefault(); close(false); }
      if (ev.key === 'Tab') {
        const f = [cancel, ok];
        const i = f.indexOf(document.activeElement);
        ev.preventDefault();
        f[(i + (ev.shiftKey ? f.length - 1 : 1)) % f.length].focus();
      }
    } }, box);
    document.body.append(overlay);
    cancel.focus();
  });
}

export function relTime(at) {
  if (!at) return '';
  const s = Math.round(at - Date.now() / 1000);
  const a = Math.abs(s);
  const words = a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min` : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} days`;
  return s >= 0 ? `in ${words}` : `${words} ago`;
}
