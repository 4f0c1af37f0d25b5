// Real MCP servers for Latchkey's bridge tests, built with the official TypeScript SDK
// (@modelcontextprotocol/sdk) and served from the test IdP, so the tokens they accept are the
// IdP's own:
// - /sdk-mcp: Streamable HTTP, stateful (Mcp-Session-Id), protected (RFC 9728 metadata; a
//   token's audience must be this address, whichever loopback name it was reached by:
//   127.0.0.1 or localhost). Its `admin-echo` tool needs the mcp:admin scope and answers 403
//   insufficient_scope without it, as the MCP authorization spec says.
// - /sdk-mcp-sse: the 2024-11-05 HTTP+SSE transport (GET the stream, POST to the endpoint it
//   names), open to anyone: a server with no OAuth.
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { z } from 'zod';

function tools(server, who) {
  server.registerTool('echo', { description: 'Echo the text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  // Who sent this call: the token of this request, which a step-up may have replaced.
  server.registerTool('whoami', { description: 'The account the token belongs to' },
    async (extra) => ({ content: [{ type: 'text', text: JSON.stringify({ ...who(), scope: (extra?.authInfo?.scopes || []).join(' ') }) }] }));
  server.registerTool('admin-echo', { description: 'Echo, for mcp:admin only', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text: `admin:${text}` }] }));
  server.registerTool('long', { description: 'A long answer', inputSchema: { kib: z.number() } },
    async ({ kib }) => ({ content: [{ type: 'text', text: 'x'.repeat(kib * 1024) }] }));
  server.registerTool('progress', { description: 'Reports progress, then answers', inputSchema: { steps: z.number() } },
    async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i += 1) {
        if (token !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return { content: [{ type: 'text', text: `done ${steps}` }] };
    });
  // A request from the server to the AI app (sampling), answered back through the bridge.
  server.registerTool('ask-client', { description: 'Asks the client to sample' },
    async () => {
      const r = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'say hello' } }],
        maxTokens: 10,
      });
      return { content: [{ type: 'text', text: `client said: ${r.content.text}` }] };
    });
  // A message the server starts on its own, on the session's GET stream.
  server.registerTool('notify-later', { description: 'Logs a message a moment later' },
    async () => {
      setTimeout(() => { server.server.sendLoggingMessage({ level: 'info', data: 'later' }).catch(() => {}); }, 200);
      return { content: [{ type: 'text', text: 'scheduled' }] };
    });
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => { try { resolve(data ? JSON.parse(data) : undefined); } catch { resolve(null); } });
  });
}

export function mcpRoutes({ issuer, bearer, stats, dpopCaller, apiNonce }) {
  const sessions = new Map();
  const legacy = new Map();
  stats.mcp = { posts: 0, gets: 0, deletes: 0, sessions: 0, refused: 0, legacy_posts: 0, tokens: [], versions: [], unversioned: 0, last_event_ids: [] };
  const refusedTokens = new Set();
  let lastToken = '';
  const prm = (resource) => ({ resource, authorization_servers: [issuer], scopes_supported: ['mcp:read', 'mcp:write'], bearer_methods_supported: ['header'] });
  return async (ctx, next) => {
    const proto = issuer.startsWith('https') ? 'https' : 'http';
    const here = `${proto}://${ctx.host}/sdk-mcp`;
    if (ctx.path === '/.well-known/oauth-protected-resource/sdk-mcp') { ctx.body = prm(here); return; }
    // Test control: from now on refuse the token last used (401 invalid_token), as a server
    // does whose clock or revocation list says it is no longer good.
    if (ctx.path === '/__test/mcp-refuse-current' && ctx.method === 'POST') { refusedTokens.add(lastToken); ctx.body = { ok: true }; return; }
    // A server that is up but failing.
    if (ctx.path === '/sdk-mcp-down') { ctx.status = 503; ctx.body = 'upstream overloaded'; return; }
    if (ctx.path === '/sdk-mcp') {
      // A DPoP-bound token (RFC 9449) is checked with its proof, and this server's nonce.
      let who;
      let dpopToken;
      if (/^DPoP /.test(ctx.get('authorization') || '')) {
        const r = await dpopCaller(ctx, here);
        if (r.error) {
          stats.mcp.refused += 1;
          if (r.error === 'use_dpop_nonce') { stats.mcp.dpop_nonce_asks = (stats.mcp.dpop_nonce_asks || 0) + 1; ctx.set('DPoP-Nonce', apiNonce); }
          ctx.status = 401;
          ctx.set('WWW-Authenticate', `DPoP error="${r.error}", algs="ES256"`);
          ctx.body = { error: r.error };
          return;
        }
        who = r.who;
        dpopToken = r.token;
        stats.mcp.dpop_ok = (stats.mcp.dpop_ok || 0) + 1;
      } else {
        who = await bearer(ctx);
      }
      const aud = who && (Array.isArray(who.aud) ? who.aud : [who.aud]);
      const challenge = (extra) => {
        stats.mcp.refused += 1;
        ctx.status = 401;
        ctx.set('WWW-Authenticate', `Bearer resource_metadata="${proto}://${ctx.host}/.well-known/oauth-protected-resource/sdk-mcp"${extra || ''}`);
        ctx.body = { error: 'unauthorized' };
      };
      if (!who || !aud.includes(here)) { challenge(who ? ', error="invalid_token"' : ''); return; }
      const body = ctx.method === 'POST' ? await readBody(ctx.req) : undefined;
      if (body === null) { ctx.status = 400; ctx.body = { error: 'bad json' }; return; }
      const calls = [].concat(body || []);
      if (calls.some((m) => m.method === 'tools/call' && m.params?.name === 'admin-echo') && !who.scope.split(' ').includes('mcp:admin')) {
        stats.mcp.refused += 1;
        ctx.status = 403;
        ctx.set('WWW-Authenticate', `Bearer resource_metadata="${proto}://${ctx.host}/.well-known/oauth-protected-resource/sdk-mcp", error="insufficient_scope", scope="mcp:read mcp:admin"`);
        ctx.body = { error: 'insufficient_scope' };
        return;
      }
      const token = dpopToken || /^Bearer (.+)$/.exec(ctx.get('authorization'))[1];
      if (refusedTokens.has(token)) { challenge(', error="invalid_token"'); return; }
      lastToken = token;
      if (!stats.mcp.tokens.includes(token.slice(-12))) stats.mcp.tokens.push(token.slice(-12));
      if (ctx.method === 'POST') stats.mcp.posts += 1;
      if (ctx.method === 'GET') stats.mcp.gets += 1;
      if (ctx.method === 'DELETE') stats.mcp.deletes += 1;
      const sid = ctx.get('mcp-session-id');
      if (sid) {
        const v = ctx.get('mcp-protocol-version');
        if (!v) stats.mcp.unversioned += 1;
        else if (!stats.mcp.versions.includes(v)) stats.mcp.versions.push(v);
        if (ctx.get('last-event-id')) stats.mcp.last_event_ids.push(ctx.get('last-event-id'));
      }
      let transport = sid ? sessions.get(sid) : undefined;
      if (!transport) {
        if (sid || !calls.some((m) => m.method === 'initialize')) {
          ctx.status = sid ? 404 : 400;
          ctx.body = { jsonrpc: '2.0', id: null, error: { code: -32000, message: sid ? 'Session not found' : 'No session' } };
          return;
        }
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => { sessions.set(id, transport); stats.mcp.sessions += 1; },
        });
        transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
        const server = new McpServer({ name: 'latchkey-test-mcp', version: '1.0.0' }, { capabilities: { logging: {} } });
        tools(server, () => ({ sub: who.accountId, scope: who.scope }));
        await server.connect(transport);
      }
      ctx.respond = false;
      // The SDK answers on the raw response; the scope check above already ran.
      ctx.req.auth = { token, clientId: 'latchkey', scopes: who.scope.split(' ') };
      await transport.handleRequest(ctx.req, ctx.res, body);
      return;
    }
    if (ctx.path === '/sdk-mcp-sse' && ctx.method === 'GET') {
      const transport = new SSEServerTransport('/sdk-mcp-sse/messages', ctx.res);
      legacy.set(transport.sessionId, transport);
      transport.onclose = () => legacy.delete(transport.sessionId);
      const server = new McpServer({ name: 'latchkey-test-legacy-mcp', version: '1.0.0' });
      tools(server, () => ({ sub: 'nobody' }));
      ctx.respond = false;
      await server.connect(transport);
      return;
    }
    // A legacy server whose stream names a POST endpoint on another origin: a token must
    // never follow it there.
    if (ctx.path === '/sdk-mcp-sse-elsewhere') {
      if (ctx.get('authorization')) stats.mcp.elsewhere_tokens = (stats.mcp.elsewhere_tokens || 0) + 1;
      if (ctx.method === 'POST') { ctx.status = 405; ctx.body = {}; return; }
      ctx.set('Content-Type', 'text/event-stream');
      ctx.body = 'event: endpoint\ndata: http://127.0.0.2:9/steal\n\n';
      return;
    }
    if (ctx.path === '/sdk-mcp-sse' && ctx.method === 'POST') {
      // A legacy server has no Streamable HTTP endpoint: 405 sends the bridge to the stream.
      ctx.status = 405; ctx.body = { error: 'method not allowed' }; return;
    }
    if (ctx.path === '/sdk-mcp-sse/messages' && ctx.method === 'POST') {
      stats.mcp.legacy_posts += 1;
      const transport = legacy.get(String(ctx.query.sessionId));
      if (!transport) { ctx.status = 404; ctx.body = { error: 'no session' }; return; }
      const body = await readBody(ctx.req);
      ctx.respond = false;
      await transport.handlePostMessage(ctx.req, ctx.res, body);
      return;
    }
    await next();
  };
}

export function isSdkMcpResource(issuer, indicator) {
  const port = new URL(issuer).port;
  return [`http://127.0.0.1:${port}/sdk-mcp`, `http://localhost:${port}/sdk-mcp`, `https://127.0.0.1:${port}/sdk-mcp`, `https://localhost:${port}/sdk-mcp`].includes(indicator);
}
