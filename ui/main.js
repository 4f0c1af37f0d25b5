// Entry point: renders the current view and keeps it in step with the app.
import { call, h } from './ipc.js';
import { emptyState, accountList } from './views/accounts.js';

const view = document.getElementById('view');

function showError(e) {
  view.replaceChildren(h('section', { class: 'error', role: 'alert', 'data-error': e.code },
    h('h2', {}, e.message),
    h('p', {}, e.fix)));
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function render() {
  try {
    const accounts = await call('list_accounts');
    document.getElementById('add-account').hidden = accounts.length === 0;
    view.replaceChildren(accounts.length === 0
      ? emptyState(() => toast('Sign-in arrives in the next version of Latchkey.'))
      : accountList(accounts));
  } catch (e) {
    showError(e);
  }
  document.body.dataset.ready = 'true';
}

render();

