// Settings: clipboard, refresh margin, start at login, network (proxy, direct addresses, an
// extra CA file). The browser command is shown, not edited: it runs a program, so only
// `latchkey config browser` sets it (S21).
import { call, h, errorBox, toast } from '../ipc.js';

export async function renderSettings(view, nav) {
  let s, info, net;
  try { [s, info, net] = await Promise.all([call('get_settings'), call('app_info'), call('network_report')]); } catch (e) { view.replaceChildren(errorBox(e)); return; }
  const network = s.network || { proxy: { mode: 'system' }, no_proxy: [], ca_file: null };
  const mode = network.proxy.mode;
  const radio = (value, label) => {
    const r = h('input', { type: 'radio', name: 'proxy-mode', value, id: `proxy-${value}`, 'data-input': `proxy-${value}` });
    r.checked = mode === value;
    r.style.width = 'auto';
    r.style.minHeight = '0';
    r.addEventListener('change', () => { proxyUrl.disabled = value !== 'manual'; if (value === 'manual') proxyUrl.focus(); });
    return h('div', { class: 'choice' }, r, h('label', { for: `proxy-${value}` }, label));
  };
  const proxyUrl = h('input', { type: 'text', id: 'set-proxy', 'data-input': 'proxy-url', placeholder: 'http://proxy.example.com:3128', value: mode === 'manual' ? network.proxy.url : '', spellcheck: 'false', autocomplete: 'off' });
  proxyUrl.disabled = mode !== 'manual';
  const direct = h('input', { type: 'text', id: 'set-direct', 'data-input': 'no-proxy', placeholder: 'localhost, 127.0.0.1, .corp.example, 10.0.0.0/8', value: (network.no_proxy || []).join(', '), spellcheck: 'false', autocomplete: 'off' });
  const caFile = h('input', { type: 'text', id: 'set-ca', 'data-input': 'ca-file', placeholder: '/usr/local/share/ca-certificates/company.crt', value: network.ca_file || '', spellcheck: 'false', autocomplete: 'off' });
  const readNetwork = () => {
    const chosen = view.querySelector('input[name="proxy-mode"]:checked')?.value || 'system';
    return {
      proxy: chosen === 'manual' ? { mode: 'manual', url: proxyUrl.value.trim() } : { mode: chosen },
      no_proxy: direct.value.split(/[\s,]+/).filter(Boolean),
      ca_file: caFile.value.trim() || null,
    };
  };
  const clear = h('input', { type: 'number', min: '0', max: '3600', value: String(s.clipboard_clear_secs), id: 'set-clear', 'data-input': 'clear' });
  const margin = h('input', { type: 'number', min: '1', max: '60', value: String(Math.round(s.refresh_margin_secs / 60)), id: 'set-margin' });
  const login = h('input', { type: 'checkbox', id: 'set-login', 'data-input': 'start-at-login' });
  login.checked = Boolean(s.start_at_login);
  login.style.width = 'auto';
  login.style.minHeight = '0';
  const policy = h('select', { id: 'set-policy', 'data-input': 'default-policy' },
    [['allow', 'Any program, without asking me'], ['ask-new', 'Ask me the first time each program asks'], ['ask-always', 'Ask me every time'], ['deny', 'Only me, in Latchkey']]
      .map(([v, l]) => { const o = h('option', { value: v }, l); o.selected = (s.default_policy || 'allow') === v; return o; }));
  const quit = h('input', { type: 'checkbox', id: 'set-quit', 'data-input': 'quit-without-tray' });
  quit.checked = Boolean(s.quit_without_tray);
  view.replaceChildren(h('form', { 'data-view': 'settings', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await call('set_settings', { settings: { ...s, clipboard_clear_secs: Number(clear.value) || 0, refresh_margin_secs: (Number(margin.value) || 5) * 60, start_at_login: login.checked, quit_without_tray: quit.checked, default_policy: policy.value, network: readNetwork() } });
      toast('Settings saved', { leadsOn: true });
      nav('home');
    } catch (e) { view.querySelector('.error')?.remove(); view.append(errorBox(e)); }
  } },
  h('h2', {}, 'Settings'),
  h('div', { class: 'field' }, h('label', { for: 'set-clear' }, 'Clear copied tokens after (seconds, 0 = never)'), clear),
  h('div', { class: 'field' }, h('label', { for: 'set-margin' }, 'Refresh tokens this many minutes before they expire (at least)'), margin),
  h('div', { class: 'field' }, h('label', { for: 'set-policy' }, 'New accounts: who may use their token (each account can change it in its details)'), policy),
  h('div', { class: 'row' }, login, h('label', { for: 'set-login' }, 'Start Latchkey in the tray when I log in')),
  h('div', { class: 'row' }, quit, h('label', { for: 'set-quit' }, 'On a desktop without a tray, quit when I close the window (otherwise Latchkey keeps refreshing in the background)')),
  h('div', { class: 'field', 'data-browser-command': '' }, h('span', {}, 'Sign-ins open in: ', h('strong', {}, s.browser_command || 'your default browser')),
    h('p', { class: 'hint' }, 'To use another browser, run this in a terminal:'),
    h('code', { class: 'block' }, 'latchkey config browser "firefox --private-window %s"')),
  h('fieldset', { class: 'network', 'data-network': '' },
    h('legend', {}, 'Network'),
    h('p', { class: 'hint' }, 'Proxy'),
    radio('system', "Use the system's settings (environment, or your desktop's proxy settings)"),
    radio('off', 'No proxy'),
    radio('manual', 'This proxy:'),
    h('div', { class: 'field indent' }, proxyUrl),
    h('div', { class: 'field' }, h('label', { for: 'set-direct' }, 'Reach these directly, without the proxy'), direct),
    h('div', { class: 'field' }, h('label', { for: 'set-ca' }, 'Also trust the certificate authorities in this file (PEM), for networks that check encrypted connections'), caFile),
    h('div', { class: 'muted', 'data-network-report': '' },
      h('p', {}, 'Trusted now: ', net.trust.join('; '), '.'),
      h('p', {}, 'Proxy now: ', net.proxy, '.'))),
  h('p', { class: 'muted' }, `Tokens are kept in ${info.store || 'your keyring'}. Account list: ${info.data_dir}. Theme follows your system.`),
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Cancel'), h('button', { type: 'submit' }, 'Save'))));
  clear.focus();
}
