// The prompt (issue 39): a program asks for an account's token. It names the program as the
// OS knows it; only these buttons answer, and Escape (or closing) is a Deny. One question is
// shown at a time; others wait their turn.
import { call, h } from '../ipc.js';

const queue = [];
let showing = null;

const WHAT = { token: 'its token', header: 'an Authorization header with its token', git: 'its token, for git', kubernetes: 'its token, for Kubernetes', docker: 'its token, for docker', mcp: 'its token, for an MCP server', exec: 'its token, in a command’s environment', api: 'a call to its API' };

export function onAsk(q) {
  if ((showing && showing.q.id === q.id) || queue.some((x) => x.id === q.id)) return;
  queue.push(q);
  if (!showing) next();
}

export function onAskClosed(id) {
  const i = queue.findIndex((q) => q.id === id);
  if (i >= 0) queue.splice(i, 1);
  if (showing && showing.q.id === id) { showing.overlay.remove(); showing = null; next(); }
}

function next() {
  const q = queue.shift();
  if (!q) return;
  const previous = document.activeElement;
  const answer = async (a) => {
    if (showing) showing.overlay.remove();
    showing = null;
    try { await call('answer_ask', { id: q.id, answer: a }); } catch (_) { /* answered or timed out */ }
    if (previous && previous.focus) previous.focus();
    next();
  };
  const p = q.program;
  if (q.what === 'sign-in-site') { siteQuestion(q, answer); return; }
  const facts = [['Program', p.name], ['Where', p.path || 'unknown (it cannot be remembered)'], ['Working in', p.cwd], ['Running in', p.via], ['Process', String(p.pid)]].filter(([, v]) => v);
  const btn = (a, label, cls) => h('button', { type: 'button', class: cls || '', 'data-answer': a, onclick: () => answer(a) }, label);
  const deny = btn('deny', 'Deny', 'secondary');
  const buttons = [deny, btn('once', 'Allow once'), btn('hour', 'Allow this program for 1 hour'), btn('always', 'Allow this program always')];
  if (!p.path) { buttons[2].disabled = true; buttons[3].disabled = true; }
  const box = h('div', { class: 'dialog wide', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'ask-title', 'aria-describedby': 'ask-body', 'data-ask': String(q.id) },
    h('h2', { id: 'ask-title' }, `${p.name} wants to use ${q.account_name || q.account}`),
    h('p', { id: 'ask-body' }, `It asks for ${WHAT[q.what] || q.what}. Allow it only if you started it or expect it.`),
    h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'wrap' }, v)])),
    h('div', { class: 'stack' }, ...buttons.slice(1)),
    h('div', { class: 'row end' }, deny));
  const overlay = h('div', { class: 'overlay', onkeydown: (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); answer('deny'); }
    if (ev.key === 'Tab') {
      const f = buttons.filter((b) => !b.disabled);
      const i = f.indexOf(document.activeElement);
      ev.preventDefault();
      f[(i + (ev.shiftKey ? f.length - 1 : 1)) % f.length].focus();
    }
  } }, box);
  showing = { q, overlay };
  document.body.append(overlay);
  document.body.dataset.askShownAt = String(Date.now());
  deny.focus();
}

// Issue 38's "another site" question, from a command or an AI app's bridge: may Latchkey sign
// in at the site an API names? Continue answers "once"; Cancel and Escape answer "deny".
function siteQuestion(q, answer) {
  const p = q.program;
  const cont = h('button', { type: 'button', 'data-answer': 'once', onclick: () => answer('once') }, 'Continue');
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-answer': 'deny', onclick: () => answer('deny') }, 'Cancel');
  const box = h('div', { class: 'dialog wide', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'ask-title', 'data-ask': String(q.id), 'data-ask-site': '' },
    h('h2', { id: 'ask-title' }, `Sign in at ${q.site}?`),
    h('p', {}, `${p.name} wants to connect ${q.address}, which signs you in at ${q.site}, another site. Continue only if you trust ${q.site} with this API. Latchkey remembers your answer for this API.`),
    h('dl', { class: 'facts' }, [['Program', p.name], ['Where', p.path], ['Working in', p.cwd]].filter(([, v]) => v).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'wrap' }, v)])),
    h('div', { class: 'row end' }, cancel, cont));
  const overlay = h('div', { class: 'overlay', onkeydown: (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); answer('deny'); }
    if (ev.key === 'Tab') { ev.preventDefault(); (document.activeElement === cancel ? cont : cancel).focus(); }
  } }, box);
  showing = { q, overlay };
  document.body.append(overlay);
  document.body.dataset.askShownAt = String(Date.now());
  cancel.focus();
}
