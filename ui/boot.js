// Asks the app for its first answers while the ES modules load: a classic script runs at once,
// the modules only when their whole graph has arrived. main.js picks the answers up.
(() => {
  performance.mark('boot.js');
  const t = window.__TAURI__;
  if (!t || !t.core) return;
  const boot = { info: t.core.invoke('app_info'), accounts: t.core.invoke('list_accounts') };
  // A failure is read later, by whoever takes the answer; not an unhandled rejection now.
  for (const p of Object.values(boot)) p.catch(() => {});
  window.latchkeyBoot = boot;
})();
