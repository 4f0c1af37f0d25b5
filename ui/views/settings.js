// Settings: clipboard, refresh margin, start at login. The browser command is shown, not
// edited: it runs a program, so only `latchkey config browser` sets it (S21).
import { call, h, errorBox, toast } from '../ipc.js';

export async function renderSettings(view, nav) {
  let s, info;
  try { [s, info] = await Promise.all([call('get_settings'), call('app_info')]); } catch (e) { view.replaceChildren(errorBox(e)); return; }
  const clear = h('input', { type: 'number', min: '0', max: '3600', value: String(s.clipboard_clear_secs), id: 'set-clear', 'data-input': 'clear' });
  const margin = h('input', { type: 'number', min: '1', max: '60', value: String(Math.round(s.refresh_margin_secs / 60)), id: 'set-margin' });
  const login = h('input', { type: 'checkbox', id: 'set-login', 'data-input': 'start-at-login' });
  login.checked = Boolean(s.start_at_login);
  login.style.width = 'auto';
  login.style.minHeight = '0';
  const quit = h('input', { type: 'checkbox', id: 'set-quit', 'data-input': 'quit-without-tray' });
  quit.checked = Boolean(s.quit_without_tray);
  view.replaceChildren(h('form', { 'data-view': 'settings', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await call('set_settings', { settings: { ...s, clipboard_clear_secs: Number(clear.value) || 0, refresh_margin_secs: (Number(margin.value) || 5) * 60, start_at_login: login.checked, quit_without_tray: quit.checked } });
      toast('Settings saved', { leadsOn: true });
      nav('home');
    } catch (e) { view.append(errorBox(e)); }
  } },
  h('h2', {}, 'Settings'),
  h('div', { class: 'field' }, h('label', { for: 'set-clear' }, 'Clear copied tokens after (seconds, 0 = never)'), clear),
  h('div', { class: 'field' }, h('label', { for: 'set-margin' }, 'Refresh tokens this many minutes before they expire (at least)'), margin),
  h('div', { class: 'row' }, login, h('label', { for: 'set-login' }, 'Start Latchkey in the tray when I log in')),
  h('div', { class: 'row' }, quit, h('label', { for: 'set-quit' }, 'On a desktop without a tray, quit when I close the window (otherwise Latchkey keeps refreshing in the background)')),
  h('div', { class: 'field', 'data-browser-command': '' }, h('span', {}, 'Sign-ins open in: ', h('strong', {}, s.browser_command || 'your default browser')),
    h('p', { class: 'hint' }, 'To use another browser, run this in a terminal:'),
    h('code', { class: 'block' }, 'latchkey config browser "firefox --private-window %s"')),
  h('p', { class: 'muted' }, `Tokens are kept in ${info.store || 'your keyring'}. Account list: ${info.data_dir}. Theme follows your system.`),
  h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => nav('home') }, 'Cancel'), h('button', { type: 'submit' }, 'Save'))));
  clear.focus();
}
