//! Which proxy Latchkey goes through (issue 28): the checks on what the person types in
//! Settings → Network, and the one decision (`plan_proxy`) both programs' HTTP client follows:
//! the settings, then the environment (`HTTPS_PROXY`, `NO_PROXY`…), then on Linux GNOME's
//! proxy settings, which an app started from the desktop menu sees even when the environment
//! is bare. Trust (which certificate authorities) is in `network.rs`.

use crate::network_settings::{Network, Proxy};

/// The proxy Latchkey will use, decided in one place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyPlan {
    /// Proxy for https:// requests.
    pub https: Option<String>,
    /// Proxy for http:// requests.
    pub http: Option<String>,
    /// Reached directly.
    pub direct: Vec<String>,
    /// Where the choice came from, in words.
    pub from: String,
    /// Leave it to reqwest's own reading of the OS settings (Windows, macOS).
    pub os_decides: bool,
    /// Something the person should know (an automatic configuration Latchkey can't read).
    pub note: Option<String>,
}

impl ProxyPlan {
    /// One line for `latchkey status` and the window.
    pub fn describe(&self) -> String {
        let mut s = match (&self.https, &self.http) {
            (None, None) if self.os_decides => format!("as {} say", self.from),
            (None, None) => format!("none ({})", self.from),
            (Some(a), Some(b)) if a != b => format!("{a} for https, {b} for http ({})", self.from),
            (Some(a), _) | (None, Some(a)) => format!("{a} ({})", self.from),
        };
        if !self.direct.is_empty() && (self.https.is_some() || self.http.is_some()) {
            s.push_str(&format!("; direct: {}", self.direct.join(", ")));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!(". {n}"));
        }
        s
    }
}

fn env_first(names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n.to_string(), v.trim().to_string()))
    })
}

/// Decides the proxy from the settings, the environment and the desktop's settings.
pub fn plan_proxy(net: &Network) -> ProxyPlan {
    let mut plan = ProxyPlan {
        direct: net.no_proxy.clone(),
        ..ProxyPlan::default()
    };
    match &net.proxy {
        Proxy::Off => {
            plan.from = "Settings → Network: direct connections".into();
            plan.direct.clear();
            return plan;
        }
        Proxy::Manual(u) => {
            plan.https = Some(u.clone());
            plan.http = Some(u.clone());
            plan.from = "Settings → Network".into();
            return plan;
        }
        Proxy::System => {}
    }
    let https = env_first(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]);
    let http = env_first(&["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"]);
    if https.is_some() || http.is_some() {
        let names: Vec<String> = https
            .iter()
            .chain(http.iter())
            .map(|(n, _)| n.clone())
            .collect();
        let mut names = names;
        names.dedup();
        plan.from = format!("the environment: {}", names.join(", "));
        plan.https = https.map(|(_, v)| v);
        plan.http = http.map(|(_, v)| v);
        if let Some((_, list)) = env_first(&["NO_PROXY", "no_proxy"]) {
            plan.direct.extend(
                list.split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty()),
            );
        }
        return plan;
    }
    if cfg!(any(windows, target_os = "macos")) {
        plan.from = "the system's proxy settings".into();
        plan.os_decides = true;
        return plan;
    }
    match gnome_proxy() {
        Some(g) => {
            plan.from = "GNOME's proxy settings".into();
            plan.https = g.https;
            plan.http = g.http;
            plan.direct.extend(g.ignore);
            plan.note = g.note;
        }
        None => plan.from = "no proxy is set in the environment or the desktop".into(),
    }
    plan
}

/// GNOME's proxy settings (org.gnome.system.proxy), read with `gsettings`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GnomeProxy {
    /// Proxy for https.
    pub https: Option<String>,
    /// Proxy for http.
    pub http: Option<String>,
    /// ignore-hosts.
    pub ignore: Vec<String>,
    /// A mode Latchkey can't follow.
    pub note: Option<String>,
}

fn gnome_proxy() -> Option<GnomeProxy> {
    let out = std::process::Command::new("gsettings")
        .args(["list-recursively", "org.gnome.system.proxy"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_gsettings(&String::from_utf8_lossy(&out.stdout))
}

fn gvariant_str(v: &str) -> String {
    v.trim().trim_matches('\'').to_string()
}

/// Parses `gsettings list-recursively org.gnome.system.proxy`.
pub fn parse_gsettings(text: &str) -> Option<GnomeProxy> {
    let mut kv = std::collections::HashMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        if let (Some(schema), Some(key), Some(value)) = (parts.next(), parts.next(), parts.next()) {
            kv.insert(format!("{schema} {key}"), value.trim().to_string());
        }
    }
    let get = |k: &str| {
        kv.get(&format!("org.gnome.system.proxy{k}"))
            .map(|v| gvariant_str(v))
    };
    let mode = get(" mode")?;
    let server = |which: &str| {
        let host = get(&format!(".{which} host")).filter(|h| !h.is_empty())?;
        let port = get(&format!(".{which} port"))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .unwrap_or(8080);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        Some(format!("http://{host}:{port}"))
    };
    let mut g = GnomeProxy::default();
    match mode.as_str() {
        "manual" => {
            g.http = server("http");
            g.https = server("https").or_else(|| {
                (get(" use-same-proxy").as_deref() != Some("false"))
                    .then(|| g.http.clone())
                    .flatten()
            });
            let ignore = kv
                .get("org.gnome.system.proxy ignore-hosts")
                .cloned()
                .unwrap_or_default();
            g.ignore = ignore
                .trim_start_matches("@as")
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(gvariant_str)
                .filter(|h| !h.is_empty())
                .collect();
        }
        "auto" => {
            g.note = Some("GNOME is set to an automatic proxy configuration, which Latchkey can't read; set the proxy in Settings → Network (latchkey config proxy URL)".into());
        }
        _ => {}
    }
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network_settings::{check_proxy_url, parse_direct_list};

    #[test]
    fn proxy_addresses_that_cannot_work_are_refused_with_the_reason() {
        assert_eq!(
            check_proxy_url("proxy.corp:3128").unwrap(),
            "http://proxy.corp:3128"
        );
        assert_eq!(
            check_proxy_url(" http://10.0.0.1:8080/ ").unwrap(),
            "http://10.0.0.1:8080"
        );
        assert!(check_proxy_url("socks5://p:1080")
            .unwrap_err()
            .contains("SOCKS"));
        assert!(check_proxy_url("http://u:pw@p:3128")
            .unwrap_err()
            .contains("password"));
        assert!(check_proxy_url("http://p:3128/path")
            .unwrap_err()
            .contains("path"));
        assert!(check_proxy_url("ftp://p:21")
            .unwrap_err()
            .contains("http://"));
        assert!(check_proxy_url("http://:3128").is_err());
        assert!(check_proxy_url("not a url at all").is_err());
    }

    #[test]
    fn direct_lists_take_hosts_domains_and_ranges_but_not_urls() {
        assert_eq!(
            parse_direct_list("localhost, .corp.example\n10.0.0.0/8 ::1 *.intra").unwrap(),
            vec!["localhost", ".corp.example", "10.0.0.0/8", "::1", "*.intra"]
        );
        assert!(parse_direct_list("http://intranet")
            .unwrap_err()
            .contains("not a host"));
        assert!(parse_direct_list("10.0.0.0/40")
            .unwrap_err()
            .contains("prefix"));
        assert!(parse_direct_list("a;b").is_err());
    }

    #[test]
    fn gnome_manual_settings_become_the_proxy_and_its_ignore_list() {
        let text = "org.gnome.system.proxy autoconfig-url ''\n\
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1']\n\
org.gnome.system.proxy mode 'manual'\n\
org.gnome.system.proxy use-same-proxy true\n\
org.gnome.system.proxy.http host 'proxy.corp'\n\
org.gnome.system.proxy.http port 3128\n\
org.gnome.system.proxy.https host ''\n\
org.gnome.system.proxy.https port 0\n";
        let g = parse_gsettings(text).unwrap();
        assert_eq!(g.http.as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(g.https.as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(g.ignore, vec!["localhost", "127.0.0.0/8", "::1"]);
        let none = parse_gsettings(&text.replace("'manual'", "'none'")).unwrap();
        assert_eq!(none, GnomeProxy::default());
        let auto = parse_gsettings(&text.replace("'manual'", "'auto'")).unwrap();
        assert!(auto.note.unwrap().contains("automatic"));
        assert!(auto.https.is_none());
        let empty = parse_gsettings(&text.replace(
            "ignore-hosts ['localhost', '127.0.0.0/8', '::1']",
            "ignore-hosts @as []",
        ))
        .unwrap();
        assert!(empty.ignore.is_empty());
    }

    #[test]
    fn manual_and_off_settings_win_over_the_environment() {
        let manual = Network {
            proxy: Proxy::Manual("http://p:1".into()),
            no_proxy: vec!["direct.example".into()],
            ca_file: None,
        };
        let plan = plan_proxy(&manual);
        assert_eq!(plan.https.as_deref(), Some("http://p:1"));
        assert_eq!(plan.direct, vec!["direct.example"]);
        let off = plan_proxy(&Network {
            proxy: Proxy::Off,
            ..manual
        });
        assert_eq!((off.https, off.http), (None, None));
        assert!(!off.os_decides);
    }
}
