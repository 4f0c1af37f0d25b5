//! What `latchkey mcp connect` and `mcp add` share: the transport choice and the check of a
//! server's address.

use crate::errors::{ExitClass, UserError};
use clap::ValueEnum;

/// Which MCP transport to speak.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum TransportArg {
    /// Streamable HTTP, falling back to HTTP+SSE when the server answers 404 or 405.
    Auto,
    /// Streamable HTTP only.
    Http,
    /// The 2024-11-05 HTTP+SSE transport only.
    Sse,
}

pub(super) fn usage(message: String, fix: &str) -> UserError {
    UserError::new("usage", message, fix, ExitClass::Other)
}

/// Checks an MCP server's address: http(s), and plain http only on this computer.
pub(super) fn check_url(url: &str) -> Result<url::Url, UserError> {
    let parsed = url::Url::parse(url).map_err(|_| {
        usage(
            format!("{:?} is not an address.", crate::text::plain_text(url, 200)),
            "Give the MCP server's full address, e.g. https://mcp.example.com/mcp",
        )
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(usage(
            format!(
                "{} is not an http(s) address.",
                crate::text::plain_text(url, 200)
            ),
            "Give the MCP server's https:// address.",
        ));
    }
    crate::provider::check_endpoint(url).map_err(|m| {
        UserError::new(
            "not_https",
            crate::errors::capitalize(&m),
            "Use the server's https:// address; plain http is only for servers on this computer.",
            ExitClass::Other,
        )
    })?;
    Ok(parsed)
}
