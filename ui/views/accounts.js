// Home: the connected accounts, or the first-run empty state.
import { h } from '../ipc.js';

const STATUS_WORDS = {
  valid: 'Valid',
  no_expiry: 'No expiry',
  needs_sign_in: 'Needs sign-in',
  offline: 'Offline — will retry',
  expired: 'Expired',
};

function expiresIn(at) {
  if (!at) return '';
  const mins = Math.round((at * 1000 - Date.now()) / 60000);
  if (mins <= 0) return ' · refreshing soon';
  return mins < 90 ? ` · expires in ${mins} min` : ` · expires in ${Math.round(mins / 60)} h`;
}

export function emptyState(onConnect) {
  return h('section', { class: 'empty', 'data-view': 'empty' },
    h('img', { src: 'logo.svg', alt: '' }),
    h('h2', {}, 'Keep your app sign-ins in one safe place'),
    h('p', {},
      'Latchkey connects to your Taskade account, or any other service that uses OAuth, and keeps the access safely in your computer’s keyring. ',
      'It keeps it fresh in the background, so you can copy it into other tools whenever you need it.'),
    h('button', { type: 'button', id: 'connect', onclick: onConnect }, 'Connect an account'));
}

export function accountList(accounts) {
  return h('section', { 'data-view': 'accounts', 'aria-label': 'Connected accounts' },
    accounts.map((a) => h('article', { class: 'card', 'data-account': a.id },
      h('div', { style: 'flex:1' },
        h('div', { class: 'who' }, a.identity || a.label || a.id),
        h('div', { class: 'muted' }, a.provider_name)),
      h('span', { class: `chip ${a.status}` }, (STATUS_WORDS[a.status] || a.status) + (a.status === 'valid' ? expiresIn(a.expires_at) : '')))));
}
