//! The MCP bridge (issue 38): `latchkey mcp connect URL` relays JSON-RPC between an AI app on
//! stdio and a remote MCP server over Streamable HTTP, or the 2024-11-05 HTTP+SSE transport.
//! Two transports and a relay loop: the stdio half ([`stdio`], [`message`]) knows no OAuth;
//! the HTTP half ([`remote`]) gets its headers from an [`Access`], which is Latchkey's
//! accounts: the same token sender, refresh lock and DPoP keys as everything else, so N
//! bridges share one account, one sign-in and one refresh.

mod access;
pub mod app_config;
pub mod apps;
pub mod message;
mod relay;
mod remote;
pub mod setup;
pub mod sse;
pub mod stdio;

pub use access::{Access, AccountAccess, BoxFut, NoAccess, Refusal, SignIn, SignInFor};
pub use relay::{relay, run, Options, Transport};
