// Waiting for the person to approve in their browser.
import { call, h, toast, errorBox, confirmDialog } from '../ipc.js';

export async function renderSignin(view, nav, params) {
  view.replaceChildren(h('section', { 'data-view': 'starting' }, h('p', { class: 'muted' }, 'Opening your browser…')));
  let started;
  try {
    started = await call('begin_login', { options: {
      provider: params.provider || '', clientId: params.clientId || null, clientSecret: params.clientSecret || null,
      redirect: params.redirect || null, reauthOf: params.reauthOf || null, issuer: params.issuer || null,
      scopes: params.scopes || null, confirmedServer: params.confirmedServer || null,
      resourceMetadata: params.resourceMetadata || null, requireDpop: params.requireDpop || null,
    } });
  } catch (e) {
    // The API chose a sign-in server on another site, or one already in use: ask first.
    if (e.confirm && params.confirmedServer !== e.confirm) {
      view.replaceChildren(h('section', { 'data-view': 'confirm-server' }, h('p', { class: 'muted' }, 'Waiting for your answer…')));
      const yes = await confirmDialog({ title: `Sign in at ${e.confirm}?`, body: `${e.message} Continue only if you trust ${e.confirm} with this API.`, confirm: 'Continue' });
      if (yes) nav('signin', { ...params, confirmedServer: e.confirm });
      else nav('other');
      return;
    }
    view.replaceChildren(h('section', { 'data-view': 'signin-error' }, errorBox(e, { label: 'Back', run: () => nav('add') })));
    return;
  }
  const copy = h('button', { type: 'button', class: 'secondary', 'data-action': 'copy-link', onclick: async () => {
    try { await call('copy_login_link', { handle: started.handle }); toast('Link copied — paste it into your browser'); } catch (e) { toast(`${e.message} ${e.fix}`); }
  } }, 'Copy link');
  const again = h('button', { type: 'button', class: 'secondary', 'data-action': 'open-again', onclick: async () => {
    try { await call('open_login_again', { handle: started.handle }); } catch (e) { toast(`${e.message} ${e.fix}`); }
  } }, 'Open again');
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', onclick: async () => {
    await call('cancel_login', { handle: started.handle }).catch(() => {});
    nav('home');
  } }, 'Cancel');
  view.replaceChildren(h('section', { class: 'waiting', 'data-view': 'waiting', 'data-handle': started.handle },
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    h('h2', {}, `Waiting for you to approve in your browser…`),
    h('p', { class: 'muted' }, `Sign in to ${started.provider_name} in the browser window that opened, then come back here.`),
    started.browser_error ? h('p', { class: 'warn', role: 'alert', 'data-browser-error': '' }, `Your browser didn’t open (${started.browser_error}). Click “Copy link” and paste it into your browser.`) : null,
    h('div', { class: 'row center' }, copy, again, cancel)));
  (started.browser_error ? copy : cancel).focus();
  window.latchkeyWaiting = { handle: started.handle, provider: params.provider, params };
  const early = window.latchkeyFinished && window.latchkeyFinished.get(started.handle);
  if (early) nav('finished', { result: early, params });
}

// Signing in on another device (RFC 8628): the code to type and where, until it is done.
export async function renderDevice(view, nav, { provider: p }) {
  view.replaceChildren(h('section', { 'data-view': 'starting' }, h('p', { class: 'muted' }, `Asking ${p.name} for a code…`)));
  let started;
  try {
    started = await call('begin_device_login', { provider: p.id });
  } catch (e) {
    view.replaceChildren(h('section', { 'data-view': 'signin-error' }, errorBox(e, { label: 'Back', run: () => nav('method', { provider: p }) })));
    return;
  }
  const page = started.verification_uri_complete || started.verification_uri;
  const copy = h('button', { type: 'button', class: 'secondary', 'data-action': 'copy-code', onclick: async () => {
    try { await navigator.clipboard.writeText(started.user_code); toast('Code copied'); } catch { toast('Select the code and copy it'); }
  } }, 'Copy code');
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', onclick: async () => {
    await call('cancel_login', { handle: started.handle }).catch(() => {});
    nav('home');
  } }, 'Cancel');
  view.replaceChildren(h('section', { class: 'waiting', 'data-view': 'device', 'data-handle': started.handle },
    h('h2', {}, `Sign in to ${started.provider_name} on another device`),
    h('p', {}, 'On your phone or any computer, open'),
    h('p', {}, h('code', { class: 'block', 'data-verification-uri': '' }, started.verification_uri)),
    h('p', {}, 'and type this code:'),
    h('p', { class: 'user-code', 'data-user-code': '', 'aria-label': `Code ${started.user_code.split('').join(' ')}` }, started.user_code),
    started.verification_uri_complete ? h('p', { class: 'muted' }, 'Or open this address, which has the code filled in: ', h('code', { 'data-verification-complete': '' }, page)) : null,
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    h('p', { class: 'muted', 'aria-live': 'polite' }, 'Waiting for you to approve there… This page moves on by itself.'),
    h('div', { class: 'row center' }, copy, cancel)));
  copy.focus();
  window.latchkeyWaiting = { handle: started.handle, provider: p.id, params: { provider: p.id } };
  const early = window.latchkeyFinished && window.latchkeyFinished.get(started.handle);
  if (early) nav('finished', { result: early, params: { provider: p.id } });
}

export function renderFinished(view, nav, { result, params }) {
  if (result.account) {
    const a = result.account;
    view.replaceChildren(h('section', { class: 'done', 'data-view': 'success' },
      h('div', { class: 'check', 'aria-hidden': 'true' }, '✓'),
      h('h2', {}, `Connected ${a.provider_name}`),
      h('p', {}, `Signed in as ${a.identity || a.id}. Latchkey keeps this sign-in fresh for you.`),
      h('button', { type: 'button', onclick: () => nav('home') }, 'Done')));
  } else {
    const e = result.error;
    view.replaceChildren(h('section', { 'data-view': 'signin-error' }, errorBox(e, { label: 'Try again', run: () => nav('signin', params || {}) }),
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Back to accounts'))));
  }
  view.querySelector('button').focus();
}
