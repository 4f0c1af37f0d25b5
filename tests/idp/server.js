// Latchkey's test authorization server: panva/oidc-provider (OpenID Certified) on 127.0.0.1.
//
// Settings come from the IDP_CONFIG environment variable (JSON, all optional):
//   accessTtl   access-token lifetime in seconds (default 3600)
//   refreshTtl  refresh-token lifetime in seconds (default 14 days)
//   rotate      rotate refresh tokens on every use (default false)
//   pats        personal access tokens the Taskade stand-in accepts (default [])
//   discovery   "split": the RFC 8414 document lacks userinfo and the OpenID one lacks
//               revocation, as on some real servers; "no-userinfo": no userinfo at all
//   scopes      the scopes the server knows (default openid offline_access email profile api)
//   authMethods the client authentication methods it accepts at its endpoints (default all
//               of oidc-provider's), e.g. ["client_secret_basic"] for a Basic-only server
//   cimd        {cert, key, doc}: take client ids that are client metadata document URLs
//               (oidc-provider's clientIdMetadataDocument), and serve `doc` over https with
//               that certificate (trusted through NODE_EXTRA_CA_CERTS) at
//               https://127.0.0.1:PORT/oauth/client.json, its client_id set to that address;
//               the first stdout line then also has "cimdUrl"
//
// Routes mirror Taskade's (/oauth2/authorize, /oauth2/token, /oauth2/register), so the Taskade
// preset can point here through LATCHKEY_TASKADE_BASE. The first stdout line is JSON:
// {"issuer": "http://127.0.0.1:PORT"}. Test-only control and counters live under /__test/.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import Provider from 'oidc-provider';
import { mcpRoutes, isSdkMcpResource } from './mcp.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

// The built-in development store forgets all but 1,000 entries; the benchmarks hold hundreds of
// grants, so the same in-memory adapter gets a bigger store.
const store = new LRU({ maxSize: 500000 });
const bigMemoryAdapter = (model) => new MemoryAdapter(model, store, 0);

const cfg = JSON.parse(process.env.IDP_CONFIG || '{}');
const CANARY = 'lkCANARY';
const accessTtl = Number(cfg.accessTtl ?? 3600);
const refreshTtl = Number(cfg.refreshTtl ?? 14 * 24 * 3600);
const rotate = Boolean(cfg.rotate);
const pats = new Set(cfg.pats ?? []);
const discoveryMode = cfg.discovery || '';
const knownScopes = cfg.scopes || ['openid', 'offline_access', 'email', 'profile', 'api'];

// Counters read by tests through GET /__test/stats.
const stats = { client_assertions: {}, par_requests: 0, par_uris_seen: 0, dpop_api_ok: 0, dpop_refusals: [], dpop_nonce_asks: 0, token_requests: 0, invalid_grant: 0, grant_errors: [], revocations: 0, registrations: 0, foreign_api_tokens: 0, introspections: 0, cimd_fetches: 0 };
const mode = { deny: false, tokenStatus: 0, tokenDelayMs: 0, tokenFault: '', user: 'alice', foreignAs: '', rootPrm: false, moveTo: '', acceptResources: [] };

// The client metadata document's own little https server (cfg.cimd), started first.
let cimdUrl = '';
if (cfg.cimd) {
  const doc = JSON.parse(readFileSync(cfg.cimd.doc, 'utf8'));
  const docServer = https.createServer({ cert: readFileSync(cfg.cimd.cert), key: readFileSync(cfg.cimd.key) }, (req, res) => {
    stats.cimd_fetches += 1;
    if (req.url !== '/oauth/client.json') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=0' });
    res.end(JSON.stringify({ ...doc, client_id: cimdUrl }));
  });
  await new Promise((r) => docServer.listen(0, '127.0.0.1', r));
  cimdUrl = `https://127.0.0.1:${docServer.address().port}/oauth/client.json`;
}

// cfg.tls {cert, key}: the issuer itself is https (a certificate signed by a test CA that only
// the OS store of the test's Latchkey may trust).
const seenJti = new Set();
const apiNonce = randomBytes(16).toString('base64url');
const server = cfg.tls ? https.createServer({ cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) }) : http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `${cfg.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  // Providers that send no `iss` get a redirect path of their own (S10); the tests use these ids.
  const ownPaths = ['noiss', 'evil'];
  const nativeRedirects = ['dev.latchkey:/oauth/callback', 'http://127.0.0.1/callback',
    ...ownPaths.flatMap((id) => [`dev.latchkey:/oauth/callback/${id}`, `http://127.0.0.1/callback/${id}`])];
  const common = {
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password'],
    response_types: ['code'],
    redirect_uris: nativeRedirects,
  };
  const mcpResources = [`${issuer}/mcp`, `${issuer}/mcp2`, `${issuer}/mcp-post`, `${issuer}/mcp-hidden`, `${issuer}/mcp-legacy`, `${issuer}/mcp-move`, issuer];
  const provider = new Provider(issuer, {
    ...(Array.isArray(cfg.authMethods) ? { clientAuthMethods: cfg.authMethods } : {}),
    // The document server is on loopback, which oidc-provider's fetch refuses (its SSRF
    // guard); this test server lets it through.
    ...(cfg.cimd ? { fetch: (url, options) => { delete options.dispatcher; return fetch(url, options); } } : {}),
    adapter: bigMemoryAdapter,
    clients: [
      { client_id: 'latchkey-public', token_endpoint_auth_method: 'none', ...common },
      { client_id: 'latchkey-basic', client_secret: 'basic-secret-value', token_endpoint_auth_method: 'client_secret_basic', ...common },
      { client_id: 'latchkey-post', client_secret: 'post-secret-value', token_endpoint_auth_method: 'client_secret_post', ...common },
      {
        client_id: 'latchkey-machine',
        client_secret: 'machine-secret-value',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    clientDefaults: { application_type: 'native', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@example.test`, email_verified: true, preferred_username: sub, name: sub };
        },
      };
    },
    // Claims define scopes too: only those the server is configured to know.
    claims: Object.fromEntries(Object.entries({ openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] })
      .filter(([scope]) => knownScopes.includes(scope))),
    scopes: knownScopes,
    clockTolerance: 0,
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: () => rotate,
    ttl: {
      AccessToken: accessTtl,
      ClientCredentials: accessTtl,
      RefreshToken: refreshTtl,
      AuthorizationCode: 60,
      Grant: refreshTtl,
      Interaction: 600,
      Session: 3600,
      DeviceCode: 600,
    },
    features: {
      devInteractions: { enabled: false },
      // cfg.dpop {nonce, apiNonce}: DPoP (RFC 9449), with server nonces at the token endpoint
      // (nonce) and at /api/dpop (apiNonce). Off otherwise: oidc-provider 9 turns it on by
      // default, and the other suites test bearer tokens.
      // cfg.par {require}: pushed authorization requests (RFC 9126). Off otherwise, like DPoP.
      pushedAuthorizationRequests: {
        enabled: Boolean(cfg.par),
        requirePushedAuthorizationRequests: Boolean(cfg.par?.require),
      },
      dPoP: {
        enabled: Boolean(cfg.dpop),
        nonceSecret: cfg.dpop?.nonce ? randomBytes(32) : undefined,
        requireNonce: () => Boolean(cfg.dpop?.nonce),
      },
      revocation: { enabled: true },
      clientIdMetadataDocument: { enabled: Boolean(cfg.cimd), ack: 'draft-02' },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      deviceFlow: { enabled: true },
      userinfo: { enabled: discoveryMode !== 'no-userinfo' },
      // Plain OAuth 2.0 requests (no openid scope, like Taskade's) get opaque tokens for the
      // stand-in API; OpenID requests keep tokens that work at userinfo.
      resourceIndicators: {
        enabled: true,
        defaultResource(ctx) {
          const scope = ctx.oidc.params?.scope || ctx.oidc.entities?.RefreshToken?.scope || ctx.oidc.entities?.AuthorizationCode?.scope || '';
          return String(scope).split(' ').includes('openid') ? undefined : `${issuer}/api`;
        },
        useGrantedResource: () => true,
        // Protected APIs that announce their authorization (RFC 9728) get tokens bound to
        // themselves (RFC 8707); `/mcp-ignored` stands for a server that ignores `resource`.
        getResourceServerInfo(_ctx, indicator) {
          // Another server's API that moved here (issue 25's migration test).
          if ((mode.acceptResources || []).includes(indicator)) {
            return { scope: 'mcp:read mcp:write mcp:admin', audience: indicator, accessTokenFormat: 'opaque', accessTokenTTL: accessTtl };
          }
          if (isSdkMcpResource(issuer, indicator)) {
            return { scope: 'mcp:read mcp:write mcp:admin', audience: indicator, accessTokenFormat: 'opaque', accessTokenTTL: accessTtl };
          }
          if (mcpResources.includes(indicator)) {
            return { scope: 'mcp:read mcp:write mcp:admin', audience: indicator, accessTokenFormat: 'opaque', accessTokenTTL: accessTtl };
          }
          if (indicator === `${issuer}/mcp-ignored`) {
            return { scope: 'mcp:read mcp:write', audience: `${issuer}/api`, accessTokenFormat: 'opaque', accessTokenTTL: accessTtl };
          }
          return { scope: 'api', audience: `${issuer}/api`, accessTokenFormat: 'opaque', accessTokenTTL: accessTtl };
        },
      },
    },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      registration: '/oauth2/register',
      revocation: '/oauth2/revoke',
      introspection: '/oauth2/introspect',
      device_authorization: '/oauth2/device',
      code_verification: '/device',
      userinfo: '/me',
      jwks: '/jwks',
    },
  });

  // Canary: every token and code this server issues starts with a marker, so the harness can
  // prove none of them ever reaches a log, an error, a webview event or a file in the data
  // folder (S19). The marker is not secret; the random part after it is.
  for (const Model of [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode, provider.ClientCredentials, provider.DeviceCode]) {
    const original = Model.prototype.generateTokenId;
    Model.prototype.generateTokenId = function canaryTokenId() { return `${CANARY}${original.call(this)}`; };
  }

  // The resource-owner password grant, for the one test that proves Latchkey only uses it
  // behind its insecure switch (S23). oidc-provider has no built-in password grant.
  provider.registerGrantType('password', async (ctx) => {
    const { username, password } = ctx.oidc.params;
    if (username !== 'alice' || password !== 'wonderland') {
      ctx.status = 400;
      ctx.body = { error: 'invalid_grant', error_description: 'wrong username or password' };
      stats.grant_errors.push('invalid_grant');
      return;
    }
    const { client } = ctx.oidc;
    const grant = new provider.Grant({ accountId: 'alice', clientId: client.clientId });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    const at = new provider.AccessToken({ accountId: 'alice', client, grantId, scope: 'openid', gty: 'password' });
    const rt = new provider.RefreshToken({ accountId: 'alice', client, grantId, scope: 'openid', gty: 'password' });
    ctx.body = { access_token: await at.save(), refresh_token: await rt.save(), token_type: 'Bearer', expires_in: accessTtl, scope: 'openid' };
  }, ['username', 'password', 'scope']);

  provider.on('grant.error', (_ctx, err) => {
    stats.grant_errors.push(err.error);
    if (err.error === 'invalid_grant') stats.invalid_grant += 1;
  });
  provider.on('registration_create.success', () => { stats.registrations += 1; });
  provider.on('pushed_authorization_request.success', () => { stats.par_requests += 1; });
  // This oidc-provider version emits no revocation.success event: revocations are counted as
  // answered requests to the endpoint (see the middleware below).

  // A bearer token is valid when the provider's own store still holds it unexpired.
  async function bearer(ctx) {
    const m = /^Bearer (.+)$/.exec(ctx.get('authorization') || '');
    if (!m) return null;
    const value = m[1];
    // Each personal token is its own person, so tests can tell accounts apart.
    if (pats.has(value)) return { accountId: `pat-${createHash('sha256').update(value).digest('hex').slice(0, 8)}`, kind: 'pat' };
    const token = (await provider.AccessToken.find(value)) || (await provider.ClientCredentials.find(value));
    if (!token || token.isExpired) return null;
    // A DPoP-bound token is not a bearer token (RFC 9449 §7.2).
    if (token.jkt) return null;
    return { accountId: token.accountId || token.clientId, kind: 'oauth', aud: token.aud, scope: token.scope || '' };
  }

  // RFC 9728: protected APIs that announce their authorization server.
  function prm(resource, extra = {}) {
    return { resource, authorization_servers: [issuer], scopes_supported: ['mcp:read'], bearer_methods_supported: ['header'], ...extra };
  }
  function challenge(ctx, path, error) {
    ctx.status = 401;
    const meta = `${issuer}/.well-known/oauth-protected-resource${path}`;
    ctx.set('WWW-Authenticate', `Bearer resource_metadata="${meta}"${error || ''}`);
    ctx.body = { ok: false, message: 'Unauthorized' };
  }

  function unauthorized(ctx) {
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    ctx.body = { ok: false, message: 'Unauthorized', code: 'UNAUTHORIZED' };
  }

  // private_key_jwt (RFC 7523): client assertions the server accepted, by endpoint path.
  // A DPoP-bound caller (RFC 9449 §7) at `url`: the token must be bound to the proof's key,
  // and the proof fresh, unreplayed, for this method and address, with the token's hash and
  // (cfg.dpop.apiNonce) the APIs' current nonce. Returns { who } or { error }.
  async function dpopCaller(ctx, url) {
    const m = /^DPoP (.+)$/.exec(ctx.get('authorization') || '');
    const proof = ctx.get('dpop');
    if (!m || !proof) return { error: 'invalid_token' };
    let verified;
    try {
      verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    } catch { return { error: 'invalid_dpop_proof' }; }
    const { payload, protectedHeader } = verified;
    if (payload.htm !== ctx.method || payload.htu !== url) return { error: 'invalid_dpop_proof' };
    if (typeof payload.iat !== 'number' || Math.abs(payload.iat - Date.now() / 1000) > 60) return { error: 'invalid_dpop_proof' };
    if (!payload.jti || seenJti.has(payload.jti)) return { error: 'invalid_dpop_proof' };
    seenJti.add(payload.jti);
    if (payload.ath !== createHash('sha256').update(m[1]).digest('base64url')) return { error: 'invalid_dpop_proof' };
    if (cfg.dpop?.apiNonce && payload.nonce !== apiNonce) return { error: 'use_dpop_nonce' };
    const token = (await provider.AccessToken.find(m[1])) || (await provider.ClientCredentials.find(m[1]));
    if (!token || token.isExpired || !token.jkt) return { error: 'invalid_token' };
    if (token.jkt !== await calculateJwkThumbprint(protectedHeader.jwk)) return { error: 'invalid_token' };
    return { who: { accountId: token.accountId || token.clientId, kind: 'oauth', aud: token.aud, scope: token.scope || '', jkt: token.jkt }, token: m[1] };
  }

  // The official TypeScript SDK's MCP servers (tests/idp/mcp.js), behind this server's tokens.
  provider.use(mcpRoutes({ issuer, bearer, stats, dpopCaller, apiNonce }));

  provider.use(async (ctx, next) => {
    await next();
    let used = false;
    // The pushed request's params are replaced by the authorization request's once the client
    // is authenticated; a private_key_jwt client can only have authenticated with its assertion.
    try {
      used = Boolean(ctx.oidc?.params?.client_assertion)
        || (ctx.path === '/request' && ctx.oidc?.client?.clientAuthMethod === 'private_key_jwt');
    } catch { used = false; }
    if (used && ctx.status < 400) stats.client_assertions[ctx.path] = (stats.client_assertions[ctx.path] || 0) + 1;
  });

  provider.use(async (ctx, next) => {
    // A client registered by hand, as an administrator would (a machine client with the
    // public key Latchkey printed): POST /__test/client with its metadata.
    if (ctx.path === '/__test/client' && ctx.method === 'POST') {
      const meta = await readJson(ctx.req);
      await provider.Client.adapter.upsert(meta.client_id, meta);
      ctx.body = { ok: true };
      return;
    }
    // Taskade's authorize takes no scope; oidc-provider refuses a request that grants none,
    // so the stand-in reads a scope-less request as its one API scope.
    if (ctx.path === '/oauth2/authorize' && ctx.method === 'GET' && !ctx.query.scope) {
      ctx.querystring = `${ctx.querystring}&scope=api`;
    }
    // Test control and counters.
    if (ctx.path === '/__test/stats') { ctx.body = stats; return; }
    // Discovery documents that differ, as real servers' do.
    if (discoveryMode === 'split' && ctx.path.startsWith('/.well-known/')) {
      await next();
      if (ctx.body && typeof ctx.body === 'object') {
        const doc = { ...ctx.body };
        if (ctx.path === '/.well-known/oauth-authorization-server') delete doc.userinfo_endpoint;
        if (ctx.path === '/.well-known/openid-configuration') delete doc.revocation_endpoint;
        ctx.body = doc;
      }
      return;
    }
    // mode.parFail: the pushed authorization request endpoint refuses every push.
    if (mode.parFail && ctx.path === '/request' && ctx.method === 'POST') {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'pushed requests are refused right now' };
      return;
    }
    if (ctx.path === '/__test/mode' && ctx.method === 'POST') {
      const body = await readJson(ctx.req);
      Object.assign(mode, body);
      if (Array.isArray(body.pats)) body.pats.forEach((p) => pats.add(p));
      if (Array.isArray(body.revokePats)) body.revokePats.forEach((p) => pats.delete(p));
      ctx.body = mode;
      return;
    }
    if (ctx.path === '/oauth2/introspect' && ctx.method === 'POST') {
      await next();
      if (ctx.status === 200) stats.introspections += 1;
      return;
    }
    // A hostile API (F1): its metadata names another server (`mode.foreignAs`), and it
    // answers 200 to any bearer token, counting those it was handed.
    if (ctx.path === '/.well-known/oauth-protected-resource/mcp-foreign') {
      ctx.body = prm(`${issuer}/mcp-foreign`, { authorization_servers: [mode.foreignAs], scopes_supported: ['api', 'openid'] });
      return;
    }
    if (ctx.path === '/mcp-foreign') {
      if (/^Bearer\s/i.test(ctx.get('authorization'))) {
        stats.foreign_api_tokens += 1;
        ctx.body = { ok: true };
        return;
      }
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp-foreign", scope="api"`);
      ctx.body = { ok: false };
      return;
    }
    if (ctx.path === '/oauth2/revoke' && ctx.method === 'POST') {
      await next();
      if (ctx.status === 200) stats.revocations += 1;
      return;
    }
    if (ctx.path === '/oauth2/token' && ctx.method === 'POST') {
      stats.token_requests += 1;
      if (mode.tokenDelayMs) await new Promise((r) => setTimeout(r, mode.tokenDelayMs));
      if (mode.tokenStatus) { ctx.status = mode.tokenStatus; ctx.body = '<html>upstream trouble</html>'; ctx.type = 'html'; return; }
      // Broken answers for the fault battery.
      if (mode.tokenFault === 'garbage') { ctx.status = 200; ctx.type = 'json'; ctx.body = '{"access_token": 12, "token_type": ['; return; }
      if (mode.tokenFault === 'huge') { ctx.status = 200; ctx.type = 'json'; ctx.body = Buffer.alloc(50 * 1024 * 1024, 0x61); return; }
      if (mode.tokenFault === 'drop') { ctx.req.socket.destroy(); ctx.respond = false; return; }
      // The answer is made at once and held back: the server has already rotated (F6).
      if (mode.tokenReplyDelayMs) { await next(); await new Promise((r) => setTimeout(r, mode.tokenReplyDelayMs)); return; }
    }
    // Taskade stand-in: the connection test and two read-only API calls.
    if (ctx.path === '/oauth2/ping' || ctx.path.startsWith('/api/v1/')) {
      const who = await bearer(ctx);
      if (!who) { unauthorized(ctx); return; }
      if (ctx.path === '/oauth2/ping') ctx.body = { ok: true, handle: who.accountId };
      else if (ctx.path === '/api/v1/workspaces') ctx.body = { ok: true, items: [{ id: 'ws1', name: 'Home' }] };
      else if (ctx.path === '/api/v1/me/projects') ctx.body = { ok: true, items: [{ id: 'p1', name: 'Launch plan' }] };
      else { ctx.status = 404; ctx.body = { ok: false, message: 'Not found', code: 'NOT_FOUND' }; }
      return;
    }
    if (ctx.path === '/api/scoped') {
      const who = await bearer(ctx);
      if (!who) { unauthorized(ctx); return; }
      ctx.status = 403;
      ctx.set('WWW-Authenticate', 'Bearer error="insufficient_scope", scope="admin"');
      ctx.body = { ok: false, message: 'Forbidden', code: 'FORBIDDEN' };
      return;
    }
    // APIs that behave like today's remote MCP servers (issue 25). `/mcp-post` answers a GET
    // with 405 and names its metadata only in the 401 to a POST, at an address that is not a
    // well-known one; `/mcp-hidden` names none at all (a client must be told); `/rootapi` has
    // only the origin's root metadata (`mode.rootPrm`), whose resource is the origin.
    const aud = async () => {
      const who = await bearer(ctx);
      return who && (Array.isArray(who.aud) ? who.aud : [who.aud]);
    };
    // `/mcp-move`: an API whose metadata names this server, or `mode.moveTo` once it has
    // moved; then it takes only that server's tokens (checked by introspection there, as a
    // confidential client may), and refuses this server's.
    if (ctx.path === '/.well-known/oauth-protected-resource/mcp-move') {
      ctx.body = prm(`${issuer}/mcp-move`, { authorization_servers: [mode.moveTo || issuer] });
      return;
    }
    if (ctx.path === '/mcp-move') {
      const want = `${issuer}/mcp-move`;
      let ok = false;
      const m = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization') || '');
      if (m && mode.moveTo) {
        const r = await fetch(`${mode.moveTo}/oauth2/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('latchkey-basic:basic-secret-value').toString('base64')}` },
          body: new URLSearchParams({ token: m[1] }).toString(),
        });
        const v = await r.json();
        ok = v.active === true && [].concat(v.aud || []).includes(want);
      } else if (m) {
        const a = await aud();
        ok = Boolean(a && a.includes(want));
      }
      if (!ok) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp-move"`);
        ctx.body = { ok: false };
        return;
      }
      ctx.body = { ok: true, resource: want };
      return;
    }
    if (ctx.path === '/meta/mcp-post') { ctx.body = prm(`${issuer}/mcp-post`); return; }
    if (ctx.path === '/meta/mcp-hidden') { ctx.body = prm(`${issuer}/mcp-hidden`); return; }
    if (ctx.path === '/mcp-post') {
      if (ctx.method !== 'POST') { ctx.status = 405; ctx.body = { error: 'method_not_allowed' }; return; }
      const a = await aud();
      if (!a || !a.includes(`${issuer}/mcp-post`)) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', `Bearer resource_metadata="${issuer}/meta/mcp-post"`);
        ctx.body = { ok: false };
        return;
      }
      ctx.body = { ok: true, resource: `${issuer}/mcp-post` };
      return;
    }
    // `/mcp-legacy`: a 2025-03-26-style MCP server: no resource metadata at all; its origin
    // is the authorization server.
    if (ctx.path === '/mcp-hidden' || ctx.path === '/rootapi' || ctx.path === '/mcp-legacy') {
      const want = ctx.path === '/rootapi' ? issuer : `${issuer}${ctx.path}`;
      const a = await aud();
      if (!a || !a.includes(want)) { ctx.status = 401; ctx.set('WWW-Authenticate', 'Bearer'); ctx.body = { ok: false }; return; }
      ctx.body = { ok: true, resource: want };
      return;
    }
    if (ctx.path === '/.well-known/oauth-protected-resource' && mode.rootPrm) {
      ctx.body = prm(issuer);
      return;
    }
    // RFC 9728 metadata for the protected APIs below (path-inserted form).
    const wk = '/.well-known/oauth-protected-resource';
    if (ctx.path.startsWith(wk)) {
      const rest = ctx.path.slice(wk.length);
      const docs = {
        '/mcp': prm(`${issuer}/mcp`),
        '/mcp2': prm(`${issuer}/mcp2`),
        '/mcp-ignored': prm(`${issuer}/mcp-ignored`),
        '/mcp-wrongmeta': prm(`${issuer}/somewhere-else`),
        '/mcp-badas': prm(`${issuer}/mcp-badas`, { authorization_servers: ['http://127.0.0.1:9/nothing-here'] }),
      };
      if (docs[rest]) { ctx.body = docs[rest]; return; }
      ctx.status = 404; ctx.body = { error: 'not_found' }; return;
    }
    // Protected APIs: each accepts only tokens whose audience is itself.
    const mcp = /^\/(mcp|mcp2|mcp-ignored|mcp-wrongmeta|mcp-badas)(\/admin|\/admin403)?$/.exec(ctx.path);
    if (mcp) {
      const path = `/${mcp[1]}`;
      const who = await bearer(ctx);
      const aud = who && (Array.isArray(who.aud) ? who.aud : [who.aud]);
      if (!who || !aud.includes(`${issuer}${path}`)) { challenge(ctx, path, who ? ', error="invalid_token"' : ''); return; }
      if (mcp[2] && !who.scope.split(' ').includes('mcp:admin')) {
        challenge(ctx, path, ', error="insufficient_scope", scope="mcp:read mcp:admin"');
        // RFC 6750 §3.1's status for it; /admin stands for servers that answer 401.
        if (mcp[2] === '/admin403') ctx.status = 403;
        return;
      }
      ctx.body = { ok: true, sub: who.accountId, resource: `${issuer}${path}` };
      return;
    }
    if (ctx.path === '/open') { ctx.body = { ok: true, open: true }; return; }
    // Some servers answer 403 with `invalid_token` for an expired token, not 401.
    if (ctx.path === '/api/strict403') {
      const who = await bearer(ctx);
      if (!who) {
        ctx.status = 403;
        ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
        ctx.body = { ok: false, message: 'Forbidden', code: 'FORBIDDEN' };
        return;
      }
      ctx.body = { ok: true, sub: who.accountId };
      return;
    }
    // A DPoP-checking API (RFC 9449 §7): the token must be DPoP-bound to the proof's key, and
    // the proof fresh, unreplayed, for this method and address, with the token's hash and
    // (cfg.dpop.apiNonce) this API's current nonce.
    if (ctx.path === '/api/dpop' || ctx.path === '/api/dpop-other') {
      const refuse = (error) => {
        stats.dpop_refusals.push(error);
        if (error === 'use_dpop_nonce') { stats.dpop_nonce_asks += 1; ctx.set('DPoP-Nonce', apiNonce); }
        ctx.status = 401;
        ctx.set('WWW-Authenticate', `DPoP error="${error}", algs="ES256"`);
        ctx.body = { ok: false, error };
      };
      const r = await dpopCaller(ctx, `${issuer}${ctx.path}`);
      if (r.error) { refuse(r.error); return; }
      const token = { accountId: r.who.accountId, jkt: r.who.jkt };
      stats.dpop_api_ok += 1;
      ctx.body = { ok: true, sub: token.accountId || token.clientId, jkt: token.jkt };
      return;
    }
    if (ctx.path === '/api/protected') {
      const who = await bearer(ctx);
      if (!who) { unauthorized(ctx); return; }
      ctx.body = { ok: true, sub: who.accountId };
      return;
    }
    // Approve (or deny) every interaction without a person: login as alice, consent to all.
    if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const { prompt, params, session } = details;
      let result;
      if (mode.deny) {
        result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
      } else if (prompt.name === 'login') {
        result = { login: { accountId: mode.user || 'alice' } };
      } else {
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        const d = prompt.details;
        if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
        if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
        if (d.missingResourceScopes) {
          for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
        }
        result = { consent: { grantId: await grant.save() } };
      }
      const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      ctx.redirect(to);
      return;
    }
    await next();
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, cimdUrl })}\n`);
});

function readJson(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => { try { resolve(JSON.parse(data || '{}')); } catch { resolve({}); } });
  });
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
