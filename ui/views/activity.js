// Activity (issue 39): every time a program got a token, or was refused, newest first.
import { call, h, errorBox, relTime } from '../ipc.js';

const DECISION = { allowed_by_policy: 'Allowed (no asking)', remembered: 'Allowed (approved before)', approved: 'Approved by you', denied: 'Denied by you', denied_by_policy: 'Denied (only you)', timed_out: 'Denied (no answer)', nobody_to_ask: 'Denied (nobody to ask)', you: 'You, in Latchkey' };

const ALLOWED = new Set(['allowed_by_policy', 'remembered', 'approved', 'you']);

export async function renderActivity(view, nav, { account } = {}) {
  let entries;
  try { entries = await call('activity', { id: account || null }); } catch (e) { view.replaceChildren(errorBox(e, { label: 'Back', run: () => nav('home') })); return; }
  const filter = h('input', { type: 'search', id: 'activity-filter', 'data-input': 'activity-filter', placeholder: 'Filter by account, program or decision', autocomplete: 'off', spellcheck: 'false' });
  const list = h('ul', { class: 'stack plain', 'data-activity': '' });
  const row = (e) => h('li', { class: 'card activity', 'data-entry': '' },
    h('div', { class: 'grow' },
      h('strong', {}, e.program.name), ' ', h('span', { class: 'muted' }, `${ALLOWED.has(e.decision) ? 'used' : 'asked for'} ${e.account} (${e.what})`),
      h('br'), h('span', { class: 'hint' }, e.decision === 'you' ? 'in Latchkey’s window' : [e.program.path, e.program.cwd && `in ${e.program.cwd}`, e.program.via].filter(Boolean).join(' · ') || 'path unknown')),
    h('div', { class: 'right' }, h('span', { class: `chip ${e.decision.startsWith('denied') || e.decision === 'timed_out' || e.decision === 'nobody_to_ask' ? 'bad' : 'ok'}` }, DECISION[e.decision] || e.decision),
      h('br'), h('span', { class: 'hint', title: new Date(e.at * 1000).toLocaleString() }, relTime(e.at))));
  const show = () => {
    const f = filter.value.trim().toLowerCase();
    const shown = entries.filter((e) => !f || [e.account, e.what, e.program.name, e.program.path, DECISION[e.decision]].some((v) => (v || '').toLowerCase().includes(f)));
    list.replaceChildren(...(shown.length ? shown.map(row) : [h('li', { class: 'hint' }, entries.length ? 'Nothing matches.' : 'No program has asked for a token yet.')]));
  };
  filter.addEventListener('input', show);
  show();
  view.replaceChildren(h('section', { 'data-view': 'activity' },
    h('h2', {}, account ? `Activity of ${account}` : 'Activity'),
    h('p', { class: 'hint' }, 'Every program that got a token from Latchkey, or was refused one, newest first. Latchkey names each program from your system, not from what it says about itself.'),
    h('div', { class: 'field' }, h('label', { for: 'activity-filter', class: 'sr' }, 'Filter'), filter),
    list,
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', 'data-autofocus': '', onclick: () => nav('home') }, 'Back'))));
}
