// Entry point: a tiny router over the views, kept in step with the app's events.
import { call, early, h, on, errorBox, toastFollowsNavigation } from './ipc.js';
import { renderHome, prefetchAccounts } from './views/accounts.js';
import { renderAdd, renderMethod, renderPat, renderOwn, renderOther, renderMachine } from './views/add.js';
import { renderSignin, renderFinished, renderDevice } from './views/waiting.js';
import { renderDetails, renderRename } from './views/details.js';
import { renderTest } from './views/apitest.js';
import { renderSettings } from './views/settings.js';
import { renderActivity } from './views/activity.js';
import { onAsk, onAskClosed } from './views/ask.js';

performance.mark('main.js');
const view = document.getElementById('view');
let current = 'home';

const routes = {
  home: renderHome, add: renderAdd, method: renderMethod, pat: renderPat, own: renderOwn, other: renderOther, machine: renderMachine,
  signin: renderSignin, finished: renderFinished, device: renderDevice, details: renderDetails, rename: renderRename, test: renderTest, settings: renderSettings, activity: renderActivity,
};

export async function nav(name, params = {}) {
  current = name;
  toastFollowsNavigation();
  if (name !== 'signin' && name !== 'device') window.latchkeyWaiting = null;
  document.body.dataset.view = name;
  try {
    await routes[name](view, nav, params);
  } catch (e) {
    view.replaceChildren(errorBox(e.code ? e : { code: 'internal', message: String(e), fix: 'Try again.' }, { label: 'Back to accounts', run: () => nav('home') }));
  }
  focusPrimary();
  if (!document.body.dataset.ready) document.body.dataset.readyAt = String(performance.now());
  document.body.dataset.ready = 'true';
}

// The view's main action takes focus when nothing else has it, also once the window itself
// gains focus (a first render can happen before the window is focused).
function focusPrimary() {
  const a = document.activeElement;
  if (a && a !== document.body && a !== view) return;
  const target = view.querySelector('[data-autofocus]');
  if (target) target.focus();
}
window.addEventListener('focus', focusPrimary);

document.getElementById('add-account').addEventListener('click', () => nav('add'));
document.getElementById('open-settings').addEventListener('click', () => nav('settings'));
document.getElementById('open-activity').addEventListener('click', () => nav('activity'));
document.querySelector('.topbar h1').addEventListener('click', () => nav('home'));

on('ask', onAsk);
call('pending_asks').then((qs) => qs.forEach(onAsk), () => {});
on('ask-closed', onAskClosed);
on('accounts-changed', () => { if (current === 'home') nav('home'); });
// Results are kept by handle: a quick browser can finish before the waiting view exists.
window.latchkeyFinished = new Map();
on('login-finished', (result) => {
  window.latchkeyFinished.set(result.handle, result);
  const w = window.latchkeyWaiting;
  if (!w || w.handle !== result.handle) {
    if (current === 'home') nav('home');
    return;
  }
  nav('finished', { result, params: w.params });
});

(async () => {
  // Both first questions go out at once; the skeleton in index.html is on screen meanwhile.
  const [info] = await Promise.all([(early('info') || call('app_info')).catch(() => null), prefetchAccounts()]);
  performance.mark('answers');
  if (info && info.trust_note) {
    // Whom Latchkey trusts beyond the usual certificate authorities: never silent.
    view.before(h('p', { class: 'warn banner', role: 'status', 'data-trust-note': '' }, info.trust_note));
  }
  if (info && info.problem) {
    view.replaceChildren(h('section', { 'data-view': 'problem' }, errorBox(info.problem)));
    document.body.dataset.ready = 'true';
    return;
  }
  nav('home');
})();
