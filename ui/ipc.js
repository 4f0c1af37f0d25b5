// The only door to Rust. Every call returns data or throws {code, message, fix}.
const core = window.__TAURI__ && window.__TAURI__.core;

export async function call(command, args = {}) {
  if (!core) {
    throw { code: 'no_ipc', message: 'Latchkey’s window could not reach the app.', fix: 'Close this window and open Latchkey again.' };
  }
  try {
    return await core.invoke(command, args);
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) throw e;
    throw { code: 'internal', message: String(e), fix: 'Try again.' };
  }
}

// Builds DOM without innerHTML, so provider-supplied text can never become markup (S9).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
