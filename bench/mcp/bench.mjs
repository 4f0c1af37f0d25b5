// P11-P13 (BENCHMARKS.md): the official MCP SDK's client talking to one MCP server three ways,
// in one run, with the same token:
//   direct      the SDK's Streamable HTTP client, straight to the server (the floor)
//   latchkey    the SDK's stdio client through `latchkey mcp connect URL` (the account's token
//               from the OS credential store)
//   mcp-remote  the SDK's stdio client through `node mcp-remote/dist/proxy.js URL --header
//               'Authorization: Bearer …'` (the bridge most AI apps are configured with today)
// BENCH_MCP (JSON): { url, token, latchkey, home, mcpRemote, calls, starts, idleSecs }.
// Prints one JSON line of raw samples (milliseconds, KiB).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const cfg = JSON.parse(process.env.BENCH_MCP);
const remoteConfig = mkdtempSync(join(tmpdir(), 'mcp-remote-'));

function transport(kind) {
  if (kind === 'direct') {
    return new StreamableHTTPClientTransport(new URL(cfg.url), { requestInit: { headers: { Authorization: `Bearer ${cfg.token}` } } });
  }
  if (kind === 'latchkey') {
    return new StdioClientTransport({ command: cfg.latchkey, args: ['mcp', 'connect', cfg.url], env: { ...process.env, LATCHKEY_HOME: cfg.home }, stderr: 'ignore' });
  }
  return new StdioClientTransport({
    command: process.execPath,
    args: [cfg.mcpRemote, cfg.url, '--allow-http', '--transport', 'http-only', '--header', `Authorization: Bearer ${cfg.token}`],
    env: { ...process.env, MCP_REMOTE_CONFIG_DIR: remoteConfig },
    stderr: 'ignore',
  });
}

async function open(kind) {
  const t = transport(kind);
  const c = new Client({ name: 'latchkey-bench', version: '1.0.0' });
  const started = performance.now();
  await c.connect(t);
  return { c, t, ms: performance.now() - started };
}

function memory(pid) {
  const kib = (text, key) => Number((new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text) || [])[1] || 0);
  return {
    rss: kib(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'),
    pss: kib(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss'),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};
for (const kind of ['direct', 'latchkey', 'mcp-remote']) {
  const r = { start: [], call: [] };
  // P12: process start to the first answered initialize (connect() sends it and waits).
  for (let i = 0; i < cfg.starts; i += 1) {
    const s = await open(kind);
    r.start.push(s.ms);
    await s.c.close();
  }
  // P11: a tools/call round trip, after a warm-up; P13: the idle bridge's memory.
  const s = await open(kind);
  for (let i = 0; i < 20; i += 1) await s.c.callTool({ name: 'echo', arguments: { text: 'warm' } });
  for (let i = 0; i < cfg.calls; i += 1) {
    const t0 = performance.now();
    await s.c.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
    r.call.push(performance.now() - t0);
  }
  if (kind !== 'direct') {
    await sleep(cfg.idleSecs * 1000);
    r.memory = memory(s.t.pid);
  }
  await s.c.close();
  out[kind] = r;
}
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
