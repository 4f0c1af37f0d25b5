// The official TypeScript SDK's stdio client driving `latchkey mcp connect` (as an AI app
// does), for Latchkey's bridge tests. MCP_CLIENT (JSON) names the command and the steps;
// the report (JSON, one line) goes to stdout, the bridge's stderr is passed through.
//   { "command": "...", "args": [...], "env": {...}, "steps": [ "list", {"call": "echo", "args": {...}}, ... ] }
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const spec = JSON.parse(process.env.MCP_CLIENT);
const report = { steps: [] };
const logs = [];
const client = new Client({ name: 'latchkey-test-client', version: '1.0.0' }, { capabilities: { sampling: {} } });
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: 'assistant', content: { type: 'text', text: 'hello from the client' }, model: 'test-model',
}));
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params.data); });
const transport = new StdioClientTransport({ command: spec.command, args: spec.args, env: { ...process.env, ...(spec.env || {}) }, stderr: 'inherit' });
const text = (r) => (r.content || []).map((c) => c.text).join('');
try {
  const started = Date.now();
  await client.connect(transport);
  report.connected_ms = Date.now() - started;
  report.server = client.getServerVersion();
  for (const step of spec.steps) {
    try {
      if (step === 'list') {
        const r = await client.listTools();
        report.steps.push({ list: r.tools.map((t) => t.name).sort() });
      } else if (step === 'wait-log') {
        const until = Date.now() + 10000;
        while (!logs.length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        report.steps.push({ logs: [...logs] });
      } else if (step.sleep) {
        await new Promise((r) => setTimeout(r, step.sleep));
        report.steps.push({ slept: step.sleep });
      } else if (step.call) {
        const progress = [];
        const r = await client.callTool({ name: step.call, arguments: step.args || {} }, undefined, {
          onprogress: (p) => progress.push(p.progress), timeout: 60000,
        });
        const t = text(r);
        report.steps.push({ call: step.call, text: t.length > 4096 ? t.slice(0, 64) : t, length: t.length, isError: Boolean(r.isError), progress });
      }
    } catch (e) {
      report.steps.push({ error: String(e.message || e) });
    }
  }
} catch (e) {
  report.error = String(e.message || e);
}
await client.close().catch(() => {});
// Exit once the report is written: a pipe takes it asynchronously.
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
