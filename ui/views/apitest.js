// Test API call: presets, or a method and path on the provider's own API.
import { call, h, errorBox } from '../ipc.js';

function highlight(text) {
  // Pretty JSON as DOM spans (no innerHTML): keys, strings, numbers.
  let v;
  try { v = JSON.parse(text); } catch { return h('pre', { class: 'json', 'data-body': '' }, text); }
  const pretty = JSON.stringify(v, null, 2);
  const pre = h('pre', { class: 'json', 'data-body': '' });
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
  let last = 0;
  for (const m of pretty.matchAll(re)) {
    pre.append(pretty.slice(last, m.index));
    const cls = m[2] ? 'k' : m[1] ? 's' : m[3] ? 'n' : 'b';
    pre.append(h('span', { class: cls }, m[1] || m[3] || m[4]));
    if (m[2]) pre.append(m[2]);
    last = m.index + m[0].length;
  }
  pre.append(pretty.slice(last));
  return pre;
}

/** Quotes a word for a POSIX shell: provider-controlled text never becomes code (S25). */
export function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** The "Copy as curl" line: the token is fetched by `latchkey token`, never pasted, and reaches
 * curl as a header on its stdin (`-H @-`), never on an argv that `ps` shows. */
export function curlCommand(method, url, accountId, dpop) {
  // A DPoP-bound token needs a proof for this method and address too: `latchkey header`
  // prints both headers, one per line, for curl to read from its stdin.
  if (dpop) return `latchkey header ${shellQuote(accountId)} --method ${shellQuote(method)} --url ${shellQuote(url)} | curl -X ${shellQuote(method)} -H @- ${shellQuote(url)}`;
  return `latchkey token ${shellQuote(accountId)} | sed 's/^/Authorization: Bearer /' | curl -X ${shellQuote(method)} -H @- ${shellQuote(url)}`;
}

export async function renderTest(view, nav, { account: a }) {
  const providers = await call('list_providers').catch(() => []);
  const p = providers.find((x) => x.id === a.provider) || { presets: [], api_base: '' };
  const method = h('select', { 'data-input': 'method', id: 'api-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', { value: m }, m)));
  const path = h('input', { type: 'text', 'data-input': 'path', id: 'api-path', placeholder: 'workspaces' });
  const body = h('textarea', { 'data-input': 'body', id: 'api-body', rows: 4, hidden: true });
  method.addEventListener('change', () => { body.hidden = !['POST', 'PUT', 'PATCH'].includes(method.value); });
  const out = h('div', { 'aria-live': 'polite', 'data-result': '' });
  const send = async () => {
    out.replaceChildren(h('p', { class: 'muted' }, 'Sending…'));
    try {
      const r = await call('api_call', { id: a.id, method: method.value, path: path.value, headers: [], body: body.hidden ? null : body.value });
      const friendly = r.status === 401 ? h('p', { class: 'warn', 'data-friendly': '401' }, `${a.provider_name} no longer accepts this token. Use “Sign in again” from the account menu.`)
        : r.status === 403 ? h('p', { class: 'warn' }, 'The token works, but it is not allowed to do this. You may need more permissions (scopes).') : null;
      out.replaceChildren(...[h('p', { class: 'status-line' }, h('strong', { 'data-status-code': r.status }, `HTTP ${r.status}`), ` · ${r.millis} ms · ${r.body.length} bytes${r.retried_after_refresh ? ' · token refreshed and retried once' : ''}`), friendly, highlight(r.body)].filter(Boolean));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const curl = h('button', { type: 'button', class: 'secondary', 'data-copy-curl': '', onclick: () => {
    const base = (p.api_base || '').replace(/\/$/, '');
    const url = /^https?:/.test(path.value) ? path.value : `${base}/${path.value.replace(/^\//, '')}`;
    const cmd = curlCommand(method.value, url, a.id, a.dpop);
    out.replaceChildren(h('p', { class: 'muted' }, 'Run this in a terminal (the token is fetched fresh, never pasted):'), h('pre', { class: 'json', 'data-curl': '' }, cmd));
  } }, 'Copy as curl');
  view.replaceChildren(h('section', { 'data-view': 'test' },
    h('h2', {}, `Try ${a.provider_name}’s API`),
    h('p', { class: 'muted' }, `Requests go only to ${p.api_base || 'the provider’s API'}, with ${a.identity || a.id}’s token.`),
    h('div', { class: 'row wrap' }, p.presets.map((pre) => h('button', { type: 'button', class: 'secondary', 'data-preset': pre.label, onclick: () => { method.value = pre.method; path.value = pre.path; body.hidden = true; send(); } }, pre.label))),
    h('form', { onsubmit: (ev) => { ev.preventDefault(); send(); } },
      h('div', { class: 'row' }, h('label', { for: 'api-method', class: 'sr' }, 'Method'), method, h('label', { for: 'api-path', class: 'sr' }, 'Path'), path, h('button', { type: 'submit' }, 'Send')),
      h('label', { for: 'api-body', class: 'sr' }, 'Body'), body),
    h('div', { class: 'row' }, curl, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Back')),
    out));
  (view.querySelector('[data-preset]') || path).focus();
}
