// Details: who, scopes, times, where the secret is kept, JWT claims, and Reveal.
import { call, h, errorBox, confirmDialog, relTime, toast } from '../ipc.js';

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
    whoMayUse(id, nav),
    a.resource ? aiApps(id, a) : null,
    d.jwt_claims ? [h('h3', {}, 'What the token says (decoded, signature not shown)'), h('pre', { class: 'json' }, JSON.stringify(d.jwt_claims, null, 2))] : null,
    h('div', { class: 'row' }, reveal), secretBox,
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Back'))));
  view.querySelector('button').focus();
}

// "Who may use it": the account's policy, the programs allowed, and those that used it.
const POLICIES = [
  ['allow', 'Any program, without asking me', 'As before: scripts and tools get the token when they ask.'],
  ['ask-new', 'Ask me the first time each program asks', 'Your answer is remembered for that program.'],
  ['ask-always', 'Ask me every time', 'Every hand-out waits for you.'],
  ['deny', 'Only me, in Latchkey', 'Programs are refused; Copy here still works.'],
];
function whoMayUse(id, nav) {
  const box = h('section', { class: 'policy', 'data-policy': '' }, h('h3', {}, 'Who may use it'), h('p', { class: 'muted' }, 'Loading…'));
  const load = async () => {
    let p;
    try { p = await call('account_policy', { id }); } catch (e) { box.replaceChildren(errorBox(e)); return; }
    const choices = POLICIES.map(([value, label, hint]) => {
      const r = h('input', { type: 'radio', name: 'policy', value, id: `policy-${value}`, 'data-policy-choice': value });
      r.checked = p.policy === value;
      r.style.width = 'auto';
      r.style.minHeight = '0';
      r.addEventListener('change', async () => {
        try { await call('set_policy', { id, policy: value }); toast('Saved'); } catch (e) { box.append(errorBox(e)); }
      });
      return h('div', { class: 'choice' }, r, h('label', { for: `policy-${value}` }, label, h('br'), h('span', { class: 'hint' }, hint)));
    });
    const approvals = p.approvals.map((ap) => h('li', { class: 'card' },
      h('div', { class: 'grow' }, h('strong', {}, ap.name), h('br'), h('span', { class: 'hint' }, `${ap.path} — ${ap.until ? `until ${new Date(ap.until * 1000).toLocaleString()}` : 'always'}`)),
      h('button', { type: 'button', class: 'secondary', 'data-revoke': ap.path, onclick: async () => {
        try { await call('revoke_approval', { id, path: ap.path }); load(); } catch (e) { box.append(errorBox(e)); }
      } }, 'Revoke')));
    const used = p.used_by.map((u) => h('li', {}, h('strong', {}, u.name), ` — ${u.count} time${u.count === 1 ? '' : 's'}, last ${relTime(u.last)}`, u.path ? h('span', { class: 'hint' }, ` (${u.path})`) : null));
    box.replaceChildren(...[h('h3', {}, 'Who may use it'), h('fieldset', { class: 'plain-fieldset' }, h('legend', { class: 'sr' }, 'Who may use it'), ...choices),
      approvals.length ? [h('h4', {}, 'Programs you allowed'), h('ul', { class: 'stack plain', 'data-approvals': '' }, ...approvals)] : null,
      h('h4', {}, 'Used by'),
      used.length ? h('ul', { 'data-used-by': '' }, ...used) : h('p', { class: 'hint', 'data-used-by': '' }, 'No program has used it yet.'),
      h('button', { type: 'button', class: 'secondary', 'data-action': 'activity', onclick: () => nav('activity', { account: id }) }, 'See its activity')].flat().filter(Boolean));
  };
  load();
  return box;
}

// "Use in an AI app": each AI app found here gets a button that adds Latchkey's bridge to its
// own settings (as `latchkey mcp add` does); the token stays in the keyring.
function aiApps(id, a) {
  const list = h('ul', { class: 'stack plain', 'data-ai-apps': '' }, h('li', { class: 'muted' }, 'Looking for AI apps on this computer…'));
  const box = h('section', { class: 'ai-apps' }, h('h3', {}, 'Use in an AI app'),
    h('p', { class: 'hint' }, `Let an AI app such as Claude or Cursor reach ${a.resource} with this account. Latchkey adds itself to the app’s settings; the app then asks Latchkey for access each time, and the token never goes into the app’s files.`),
    list);
  const row = (app) => {
    const status = h('span', { class: 'hint', 'data-ai-status': app.app },
      app.problem ? app.problem : app.set_up_as ? `Set up as “${app.set_up_as}”.` : app.file || '');
    const button = h('button', { type: 'button', class: app.set_up_as ? 'secondary' : '', 'data-ai-app': app.app, disabled: Boolean(app.set_up_as || app.problem) },
      app.set_up_as ? 'Added' : `Add to ${app.name}`);
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const r = await call('ai_app_add', { id, app: app.app });
        button.textContent = 'Added';
        button.className = 'secondary';
        status.textContent = `Added as “${r.name}” in ${r.file}. Restart ${r.app_name} to use it.`;
      } catch (e) { button.disabled = false; status.replaceChildren(errorBox(e)); }
    });
    return h('li', { class: 'card' }, h('div', { class: 'grow' }, h('strong', {}, app.name), h('br'), status), button);
  };
  call('ai_apps', { id }).then((apps) => {
    const found = apps.filter((x) => x.found || x.set_up_as);
    const missing = apps.filter((x) => !(x.found || x.set_up_as)).map((x) => x.name);
    list.replaceChildren(...[...found.map(row),
      found.length ? null : h('li', { class: 'hint' }, 'No AI app was found on this computer.'),
      missing.length ? h('li', { class: 'hint' }, `Not found here: ${missing.join(', ')}. For those, or another app, run “latchkey mcp add NAME ${a.resource} --app APP” in a terminal.`) : null].filter(Boolean));
  }, (e) => list.replaceChildren(errorBox(e)));
  return box;
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
