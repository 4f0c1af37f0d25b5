//! The person's network settings (Settings → Network, kept in the index): which proxy, which
//! hosts to reach directly, and an extra certificate authority file, with the checks on what
//! the person types. What the settings decide at run time (the proxy plan, the trust store) is
//! in `oauth::proxy` and `oauth::network`.

use serde::{Deserialize, Serialize};

/// Which proxy to use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "url")]
pub enum Proxy {
    /// The environment, then (on Linux) GNOME's settings; Windows' and macOS's own settings.
    #[default]
    System,
    /// Always connect directly.
    Off,
    /// This proxy (`http://host:port`).
    Manual(String),
}

/// The person's network settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Which proxy.
    pub proxy: Proxy,
    /// Hosts, domains (`.corp.example`) and address ranges reached directly.
    pub no_proxy: Vec<String>,
    /// A PEM file of certificate authorities to trust as well.
    pub ca_file: Option<String>,
}

impl Network {
    /// Refuses a setting that can't work, with the reason in words.
    pub fn check(&self) -> Result<(), String> {
        if let Proxy::Manual(u) = &self.proxy {
            check_proxy_url(u)?;
        }
        for h in &self.no_proxy {
            check_direct_entry(h)?;
        }
        if let Some(f) = &self.ca_file {
            check_ca_file(f)?;
        }
        Ok(())
    }
}

/// Checks an extra CA file: readable, and holding at least one PEM certificate. Returns how
/// many it holds.
pub fn check_ca_file(path: &str) -> Result<usize, String> {
    let p = std::path::Path::new(path);
    if !p.is_absolute() {
        return Err(format!(
            "{} is not a full path (start it with /)",
            shown(path)
        ));
    }
    let pem =
        std::fs::read(p).map_err(|e| format!("could not read the CA file {}: {e}", shown(path)))?;
    let n = reqwest::Certificate::from_pem_bundle(&pem)
        .map(|c| c.len())
        .unwrap_or(0);
    if n == 0 {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            shown(path)
        ));
    }
    Ok(n)
}

pub(crate) fn shown(s: &str) -> String {
    crate::text::plain_text(s, 200)
}

/// Checks a proxy address: `http://host:port` (or https), no path, no password.
pub fn check_proxy_url(u: &str) -> Result<String, String> {
    let u = u.trim();
    let with_scheme = if u.contains("://") {
        u.to_string()
    } else {
        format!("http://{u}")
    };
    let parsed = url::Url::parse(&with_scheme)
        .map_err(|_| format!("\"{}\" is not a proxy address", shown(u)))?;
    match parsed.scheme() {
        "http" | "https" => {}
        s if s.starts_with("socks") => {
            return Err(
                "SOCKS proxies are not supported; give an HTTP proxy (http://host:port)".into(),
            )
        }
        s => {
            return Err(format!(
                "a proxy address starts with http:// or https://, not {}://",
                shown(s)
            ))
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("\"{}\" names no proxy host", shown(u)));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a proxy address with a user name or password would be kept in a plain file; Latchkey doesn't take proxy passwords".into());
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "\"{}\" has a path; a proxy address is only http://host:port",
            shown(u)
        ));
    }
    if parsed.port_or_known_default().is_none() {
        return Err(format!("\"{}\" needs a port", shown(u)));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Splits a typed "addresses to reach directly" list (commas, spaces or new lines).
pub fn parse_direct_list(s: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    for h in &list {
        check_direct_entry(h)?;
    }
    Ok(list)
}

/// One entry of the direct list: a host name, `.domain`, `*.domain`, an address, a CIDR range
/// or `*`; never a URL.
pub fn check_direct_entry(h: &str) -> Result<(), String> {
    let ok_chars = h.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '*' | '[' | ']')
    });
    if h.is_empty() || h.contains("://") || !ok_chars || h.len() > 253 {
        return Err(format!(
            "\"{}\" is not a host, domain or address range; give e.g. intranet.example, .corp.example or 10.0.0.0/8",
            shown(h)
        ));
    }
    if let Some((addr, bits)) = h.split_once('/') {
        let ip: std::net::IpAddr = addr.parse().map_err(|_| {
            format!(
                "\"{}\" is not an address range such as 10.0.0.0/8",
                shown(h)
            )
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits.parse::<u8>().map_or(true, |b| b > max) {
            return Err(format!("\"{}\" has a bad prefix length", shown(h)));
        }
    }
    Ok(())
}
