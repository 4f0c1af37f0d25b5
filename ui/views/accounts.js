// Home: the connected accounts, or the first-run empty state.
import { call, early, h, toast, confirmDialog, errorBox, relTime, moreIcon } from '../ipc.js';

const STATUS = {
  valid: (a) => (a.expires_at ? `Valid · expires ${relTime(a.expires_at)}` : 'Valid'),
  no_expiry: () => 'Valid · no expiry',
  needs_sign_in: () => 'Needs sign-in',
  offline: () => 'Offline — will retry',
  expired: () => 'Expired',
  provider_changed: () => 'Provider settings changed — sign in again',
};

async function taskade() {
  const providers = await call('list_providers');
  return providers.find((p) => p.id === 'taskade');
}

// First launch: Taskade is one click away (the browser opens at once), with a personal token
// and every other service one click further.
export function emptyState(nav) {
  return h('section', { class: 'empty', 'data-view': 'empty' },
    h('img', { src: 'logo.svg', alt: '' }),
    h('h2', {}, 'Keep your app sign-ins in one safe place'),
    h('p', {},
      'Latchkey connects to your Taskade account, or any other service that uses OAuth, and keeps the access safely in your computer’s keyring. ',
      'It keeps it fresh in the background, so you can copy it into other tools whenever you need it.'),
    h('button', { type: 'button', id: 'connect-taskade', 'data-autofocus': '', onclick: () => nav('signin', { provider: 'taskade' }) }, 'Connect Taskade'),
    h('div', { class: 'row center' },
      h('button', { type: 'button', class: 'secondary', id: 'connect-taskade-pat', onclick: async () => nav('pat', { provider: await taskade() }) }, 'Use a personal token instead'),
      h('button', { type: 'button', class: 'secondary', id: 'connect', onclick: () => nav('add') }, 'Another service…')));
}

function menuButton(a, nav, rerender) {
  const items = () => [
    ['Details', () => nav('details', { id: a.id })],
    ['Refresh now', async () => {
      try { await call('refresh_account', { id: a.id }); toast('Refreshed'); } catch (e) { toast(`${e.message} ${e.fix}`); }
      rerender();
    }],
    a.kind === 'personal_token'
      ? ['Paste a new token', async () => {
        const providers = await call('list_providers').catch(() => []);
        const p = providers.find((x) => x.id === a.provider);
        if (p) nav('pat', { provider: p });
      }]
      : ['Sign in again', () => nav('signin', { provider: a.provider, reauthOf: a.id })],
    ['Rename', () => nav('rename', { account: a })],
    ['Remove', async () => {
      const yes = await confirmDialog({ title: `Remove ${a.identity || a.id}?`, body: 'Latchkey signs this account out at the provider where it can, then deletes it from this computer.', confirm: 'Remove', danger: true });
      if (!yes) return;
      try {
        const r = await call('remove_account', { id: a.id });
        toast(r.summary);
      } catch (e) { toast(`${e.message} ${e.fix}`); }
      rerender();
    }],
  ];
  // The menu's items are made when it first opens: a list of many accounts then costs one
  // button per card, not seven nodes more.
  const wrap = h('div', { class: 'menu-wrap' });
  const btn = h('button', { type: 'button', class: 'secondary icon', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': `More actions for ${a.identity || a.id}` }, moreIcon());
  let list = null;
  const close = () => { if (list) list.hidden = true; btn.setAttribute('aria-expanded', 'false'); };
  const build = () => {
    list = h('ul', { class: 'menu', role: 'menu', hidden: true });
    for (const [label, run] of items()) {
      list.append(h('li', { role: 'none' }, h('button', { type: 'button', role: 'menuitem', 'data-action': label, onclick: () => { close(); run(); } }, label)));
    }
    list.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { close(); btn.focus(); } });
    wrap.append(list);
  };
  btn.addEventListener('click', () => {
    if (!list) build();
    list.hidden = !list.hidden;
    btn.setAttribute('aria-expanded', String(!list.hidden));
    if (!list.hidden) list.querySelector('button').focus();
  });
  wrap.append(btn);
  return wrap;
}

export function accountList(accounts, nav, rerender) {
  return h('section', { 'data-view': 'accounts', 'aria-label': 'Connected accounts' },
    accounts.map((a) => h('article', { class: 'card', 'data-account': a.id },
      h('div', { class: 'badge', 'aria-hidden': 'true' }, (a.provider_name || '?').slice(0, 1)),
      h('div', { class: 'grow' },
        h('div', { class: 'who' }, a.label ? `${a.label} · ${a.identity || a.id}` : (a.identity || (a.resource ? a.provider_name : a.id))),
        h('div', { class: 'muted' }, a.provider_name),
        a.resource ? h('div', { class: 'muted', 'data-resource': a.resource }, `For ${a.resource}`) : null,
        h('span', { class: `chip ${a.status}`, 'data-status': a.status }, (STATUS[a.status] || (() => a.status))(a)),
        a.status === 'provider_changed' ? h('p', { class: 'hint', 'data-provider-changed': '' }, `${a.provider_name}’s settings changed after you signed in, so Latchkey sends this account’s tokens nowhere. If you changed them, sign in again. If not, remove the service you added last.`) : null),
      h('div', { class: 'row' },
        a.status === 'needs_sign_in' || a.status === 'provider_changed'
          ? h('button', { type: 'button', onclick: () => nav('signin', { provider: a.provider, reauthOf: a.id }) }, 'Sign in again')
          : h('button', { type: 'button', 'data-copy': a.id, onclick: async () => {
            try {
              const r = await call('copy_token', { id: a.id });
              const note = a.dpop ? ' This token works only with a proof (DPoP): use “Copy as curl” under Test.' : '';
              toast((r.clear_after_secs ? `Copied — clipboard clears in ${r.clear_after_secs} s.` : 'Copied.') + note);
            } catch (e) { toast(`${e.message} ${e.fix}`); }
          } }, 'Copy token'),
        h('button', { type: 'button', class: 'secondary', 'data-test': a.id, onclick: () => nav('test', { account: a }) }, 'Test'),
        menuButton(a, nav, rerender)))));
}

// The first list is asked for at start-up, alongside app_info; the first render uses it.
let first = null;
export function prefetchAccounts() {
  first = early('accounts') || call('list_accounts');
  return first.catch(() => null);
}

export async function renderHome(view, nav) {
  const rerender = () => renderHome(view, nav);
  try {
    const pending = first;
    first = null;
    const accounts = await (pending || call('list_accounts'));
    document.getElementById('add-account').hidden = accounts.length === 0;
    view.replaceChildren(accounts.length === 0 ? emptyState(nav) : accountList(accounts, nav, rerender));
  } catch (e) {
    view.replaceChildren(errorBox(e, { label: 'Try again', run: rerender }));
  }
}
