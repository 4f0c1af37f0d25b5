// Add account: pick a provider, then a way to connect. No OAuth knowledge needed.
import { call, h, errorBox, toast } from '../ipc.js';

function field(label, input, hint) {
  const id = `f-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

export async function renderAdd(view, nav) {
  let providers;
  try { providers = await call('list_providers'); } catch (e) { view.replaceChildren(errorBox(e)); return; }
  view.replaceChildren(h('section', { 'data-view': 'add' },
    h('h2', {}, 'Connect an account'),
    h('p', { class: 'muted' }, 'Which service do you want to connect?'),
    h('div', { class: 'grid' },
      providers.map((p) => h('button', { type: 'button', class: 'tile', 'data-provider': p.id, onclick: () => nav('method', { provider: p }) },
        h('span', { class: 'badge', 'aria-hidden': 'true' }, p.name.slice(0, 1)), p.name)),
      h('button', { type: 'button', class: 'tile', 'data-provider': 'other', onclick: () => nav('other') },
        h('span', { class: 'badge', 'aria-hidden': 'true' }, '+'), 'Other…')),
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Back'))));
  view.querySelector('.tile').focus();
}

// Only what works is offered: a browser sign-in needs a client (one-click registration, or
// one set up before); otherwise a personal token or your own app comes first.
export function renderMethod(view, nav, { provider: p }) {
  const choices = [];
  if (p.browser_ready) {
    choices.push(h('button', { type: 'button', class: 'choice', 'data-method': 'browser', onclick: () => nav('signin', { provider: p.id }) },
      h('strong', {}, 'Sign in with your browser'),
      h('span', {}, p.one_click ? `Recommended. Your browser opens ${p.name}; approve there and you’re done.` : `Your browser opens ${p.name}; approve there and you’re done.`)));
  }
  if (p.device) {
    choices.push(h('button', { type: 'button', class: 'choice', 'data-method': 'device', onclick: () => nav('device', { provider: p }) },
      h('strong', {}, 'Sign in on another device'),
      h('span', {}, 'Latchkey shows a short code; type it on your phone or any computer with a browser.')));
  }
  if (p.supports_pat) {
    choices.push(h('button', { type: 'button', class: 'choice', 'data-method': 'pat', onclick: () => nav('pat', { provider: p }) },
      h('strong', {}, 'Paste a personal access token'), h('span', {}, p.browser_ready ? 'For a token you created in the service’s settings.' : `The quickest way: create a token in ${p.name}’s settings and paste it here.`)));
  }
  choices.push(h('button', { type: 'button', class: 'choice', 'data-method': 'own', onclick: () => nav('own', { provider: p }) },
    h('strong', {}, 'Use my own OAuth app'), h('span', {}, p.browser_ready ? 'If you registered an app with its own client ID.' : `${p.name} needs an app you register once; Latchkey shows each step.`)));
  if (p.machine) {
    choices.push(h('button', { type: 'button', class: 'choice sub', 'data-method': 'machine', onclick: () => nav('machine', { provider: p }) },
      h('strong', {}, 'Machine access (client ID and secret)'), h('span', {}, 'For scripts and services: no person signs in; Latchkey asks for a new token when one expires.')));
  }
  view.replaceChildren(h('section', { 'data-view': 'method' },
    h('h2', {}, `Connect ${p.name}`), h('div', { class: 'stack' }, choices),
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('add') }, 'Back'))));
  view.querySelector('.choice').focus();
}

export function renderPat(view, nav, { provider: p }) {
  const token = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', 'data-input': 'token', placeholder: p.id === 'taskade' ? 'tskdp_…' : '' });
  const label = h('input', { type: 'text', 'data-input': 'label', placeholder: 'e.g. Work' });
  const status = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', 'data-action': 'save-token' }, 'Check and save');
  const form = h('form', { 'data-view': 'pat', onsubmit: async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    status.replaceChildren(h('p', { class: 'muted' }, `Checking the token with ${p.name}…`));
    try {
      const a = await call('add_token', { provider: p.id, token: token.value, label: label.value });
      token.value = '';
      toast(`Connected ${a.provider_name} as ${a.identity || a.id}`, { leadsOn: true });
      nav('home');
    } catch (e) {
      status.replaceChildren(errorBox(e));
      save.disabled = false;
      token.focus();
    }
  } },
  h('h2', {}, `Paste your ${p.name} token`),
  p.pat_help ? h('p', { class: 'muted' }, p.pat_help) : null,
  field('Personal access token', token, 'It is stored in your computer’s keyring, never in a file.'),
  field('Name (optional)', label),
  status,
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('method', { provider: p }) }, 'Back'), save));
  view.replaceChildren(form);
  token.focus();
}

export async function renderOwn(view, nav, { provider: p }) {
  const info = await call('app_info');
  const clientId = h('input', { type: 'text', autocomplete: 'off', 'data-input': 'client-id' });
  const secret = h('input', { type: 'password', autocomplete: 'off', 'data-input': 'client-secret' });
  const redirect = h('select', { 'data-input': 'redirect' }, h('option', { value: 'loopback' }, 'This computer (loopback, recommended)'), h('option', { value: 'scheme' }, 'Latchkey link (dev.latchkey:)'));
  // Each provider has its own redirect when it does not confirm itself with `iss`.
  const scheme = p.redirect_scheme || info.redirect_uri;
  const loopback = p.redirect_loopback || info.loopback_redirect;
  const uri = h('code', { 'data-redirect-uri': '' }, loopback);
  redirect.addEventListener('change', () => { uri.textContent = redirect.value === 'scheme' ? scheme : loopback; });
  const copy = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try { await navigator.clipboard.writeText(uri.textContent); toast('Redirect URI copied'); } catch { toast('Select the address and copy it'); }
  } }, 'Copy');
  view.replaceChildren(h('form', { 'data-view': 'own', onsubmit: (ev) => {
    ev.preventDefault();
    nav('signin', { provider: p.id, clientId: clientId.value, clientSecret: secret.value, redirect: redirect.value });
  } },
  h('h2', {}, `Use your own ${p.name} app`),
  p.app_help ? h('p', { 'data-app-help': '' }, p.app_help) : null,
  h('p', { class: 'muted' }, 'Register this redirect URI in your app’s settings at the provider:'),
  h('div', { class: 'row' }, uri, copy),
  field('Return address', redirect),
  field('Client ID', clientId),
  field('Client secret (only if the provider gave you one)', secret, 'Kept in your keyring. Apps installed on a computer usually have none.'),
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('method', { provider: p }) }, 'Back'), h('button', { type: 'submit' }, 'Sign in'))));
  clientId.focus();
}

export function renderOther(view, nav) {
  const dpop = h('input', { type: 'checkbox', id: 'other-dpop', 'data-input': 'require-dpop' });
  dpop.style.width = 'auto';
  dpop.style.minHeight = '0';
  const issuer = h('input', { type: 'url', placeholder: 'https://api.example.com/mcp or https://login.example.com', 'data-input': 'issuer' });
  const clientId = h('input', { type: 'text', autocomplete: 'off', 'data-input': 'client-id' });
  const scopes = h('input', { type: 'text', autocomplete: 'off', 'data-input': 'scopes', placeholder: 'e.g. openid offline_access' });
  const metadata = h('input', { type: 'url', 'data-input': 'resource-metadata', placeholder: 'https://api.example.com/.well-known/oauth-protected-resource' });
  const secret = h('input', { type: 'password', autocomplete: 'off', 'data-input': 'client-secret' });
  view.replaceChildren(h('form', { 'data-view': 'other', onsubmit: (ev) => {
    ev.preventDefault();
    nav('signin', { issuer: issuer.value, clientId: clientId.value, clientSecret: secret.value, scopes: scopes.value, resourceMetadata: metadata.value, requireDpop: dpop.checked });
  } },
  h('h2', {}, 'Connect another service'),
  h('p', { class: 'muted' }, 'Paste the address of the API you want to use, or the service’s sign-in address (its “issuer”). Latchkey finds the rest.'),
  field('Address', issuer),
  field('Client ID (if the service gave you one)', clientId),
  field('Scopes (optional)', scopes, 'Leave empty to ask for what the service lists. Separate several with spaces.'),
  h('details', { class: 'advanced' }, h('summary', {}, 'Advanced'),
    field('Client secret (only if the service gave you one with the client ID)', secret, 'Kept in your keyring.'),
    field('API metadata address (if the API told another tool where it is)', metadata),
    h('div', { class: 'row' }, dpop, h('label', { for: 'other-dpop' }, 'Require sender-constrained tokens (DPoP): a copied token is useless without this computer’s key. Latchkey uses DPoP anyway wherever the service offers it.'))),
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('add') }, 'Back'), h('button', { type: 'submit' }, 'Continue'))));
  issuer.focus();
}

export function renderMachine(view, nav, { provider: p }) {
  const clientId = h('input', { type: 'text', autocomplete: 'off', 'data-input': 'machine-client-id' });
  const secret = h('input', { type: 'password', autocomplete: 'off', 'data-input': 'machine-secret' });
  const scopes = h('input', { type: 'text', autocomplete: 'off', 'data-input': 'machine-scopes' });
  const label = h('input', { type: 'text', 'data-input': 'machine-label', placeholder: 'e.g. Nightly export' });
  const status = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', 'data-action': 'save-machine' }, 'Check and save');
  view.replaceChildren(h('form', { 'data-view': 'machine', onsubmit: async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    status.replaceChildren(h('p', { class: 'muted' }, `Asking ${p.name} for a token…`));
    try {
      const a = await call('add_machine_account', { provider: p.id, clientId: clientId.value, clientSecret: secret.value, scopes: scopes.value, label: label.value });
      secret.value = '';
      toast(`Connected ${a.provider_name} machine access as ${a.identity || a.id}`, { leadsOn: true });
      nav('home');
    } catch (e) {
      status.replaceChildren(errorBox(e));
      save.disabled = false;
    }
  } },
  h('h2', {}, `Machine access to ${p.name}`),
  h('p', { class: 'muted' }, 'For scripts and services. Use the client ID and secret of an app you registered for machine access. The secret is kept in your computer’s keyring.'),
  field('Client ID', clientId),
  field('Client secret', secret),
  field('Scopes (optional)', scopes, 'Separate several with spaces.'),
  field('Name (optional)', label),
  status,
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('method', { provider: p }) }, 'Back'), save)));
  clientId.focus();
}
