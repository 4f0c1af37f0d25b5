// Details: who, scopes, times, where the secret is kept, JWT claims, and Reveal.
import { call, h, errorBox, confirmDialog, relTime } from '../ipc.js';

const when = (t) => (t ? `${new Date(t * 1000).toLocaleString()} (${relTime(t)})` : '—');

export async function renderDetails(view, nav, { id }) {
  let d;
  try { d = await call('account_details', { id }); } catch (e) { view.replaceChildren(errorBox(e, { label: 'Back', run: () => nav('home') })); return; }
  const a = d.account;
  const secretBox = h('div', { class: 'secret', 'data-secret': '', hidden: true });
  const reveal = h('button', { type: 'button', class: 'secondary', 'data-action': 'reveal', onclick: async () => {
    const ok = await confirmDialog({ title: 'Show the token on screen?', body: 'Anyone who can see your screen could copy it. It hides again after 30 seconds.', confirm: 'Show token' });
    if (!ok) return;
    try {
      const t = await call('reveal_token', { id });
      secretBox.textContent = t;
      secretBox.hidden = false;
      reveal.hidden = true;
      setTimeout(() => { secretBox.textContent = ''; secretBox.hidden = true; reveal.hidden = false; }, 30000);
    } catch (e) { secretBox.replaceChildren(errorBox(e)); secretBox.hidden = false; }
  } }, 'Reveal token');
  const rows = [
    ['Service', a.provider_name], ['Account', a.identity || '—'], ['Name', a.label || '—'],
    ['Kind', { oauth: 'Signed in with browser', personal_token: 'Personal access token', client_credentials: 'Machine account' }[a.kind] || a.kind],
    ['Scopes', a.scopes.length ? a.scopes.join(', ') : '—'], ['Token issued', when(d.issued_at)], ['Token expires', a.expires_at ? when(a.expires_at) : 'No expiry'],
    ['Last refresh', a.last_refresh ? `${when(a.last_refresh.at)} — ${a.last_refresh.outcome.replace(/_/g, ' ')}${a.last_refresh.detail ? ` (${a.last_refresh.detail})` : ''}` : '—'],
    ['Stored in', d.stored ? d.store : `Missing from ${d.store} — sign in again`], ['Connected', when(d.created)],
  ];
  view.replaceChildren(h('section', { 'data-view': 'details' },
    h('h2', {}, a.identity || a.id),
    h('dl', { class: 'facts' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    d.jwt_claims ? [h('h3', {}, 'What the token says (decoded, signature not shown)'), h('pre', { class: 'json' }, JSON.stringify(d.jwt_claims, null, 2))] : null,
    h('div', { class: 'row' }, reveal), secretBox,
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Back'))));
  view.querySelector('button').focus();
}

export function renderRename(view, nav, { account: a }) {
  const input = h('input', { type: 'text', value: a.label || '', 'data-input': 'label' });
  input.id = 'rename-input';
  view.replaceChildren(h('form', { 'data-view': 'rename', onsubmit: async (ev) => {
    ev.preventDefault();
    try { await call('rename_account', { id: a.id, label: input.value }); nav('home'); } catch (e) { view.append(errorBox(e)); }
  } }, h('h2', {}, `Name ${a.identity || a.id}`), h('div', { class: 'field' }, h('label', { for: 'rename-input' }, 'Name'), input),
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Cancel'), h('button', { type: 'submit' }, 'Save'))));
  input.focus();
}
