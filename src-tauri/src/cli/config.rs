//! `latchkey config`: the browser command (the one setting only the command line may change,
//! since it runs a program, S21), the client metadata document, and the network: proxy,
//! addresses reached directly, an extra CA file (the same as Settings → Network).

use super::output::println_out;
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(super) enum ConfigCmd {
    /// Open sign-ins with this command instead of the default browser ("%s" is replaced by
    /// the address). Without COMMAND, shows the current one. Only the command line can set
    /// it, since it runs a program.
    Browser {
        /// e.g. "firefox --private-window %s".
        command: Option<String>,
        /// Go back to the default browser.
        #[arg(long, conflicts_with = "command")]
        reset: bool,
    },
    /// The client metadata document Latchkey names as its client id where a server takes one
    /// (no registration needed). Without URL, shows the current one.
    ClientMetadataUrl {
        /// An https address of a document describing Latchkey as a native public client.
        url: Option<String>,
        /// Back to Latchkey's own document.
        #[arg(long, conflicts_with_all = ["url", "off"])]
        reset: bool,
        /// Never use one: register, or ask for a client id, instead.
        #[arg(long, conflicts_with = "url")]
        off: bool,
    },
    /// The proxy both programs use. Without URL, shows the one in use and where it comes from.
    Proxy {
        /// An HTTP proxy, e.g. http://proxy.example.com:3128.
        url: Option<String>,
        /// Follow the system: the environment (HTTPS_PROXY, NO_PROXY), else the desktop's
        /// proxy settings (GNOME; Windows; macOS). The default.
        #[arg(long, conflicts_with_all = ["url", "off"])]
        system: bool,
        /// Always connect directly.
        #[arg(long, conflicts_with = "url")]
        off: bool,
    },
    /// Hosts, domains (.corp.example) and address ranges (10.0.0.0/8) reached without the
    /// proxy, separated by commas. Without LIST, shows them.
    NoProxy {
        /// e.g. "localhost, 127.0.0.1, .corp.example".
        list: Option<String>,
        /// Clear the list.
        #[arg(long, conflicts_with = "list")]
        reset: bool,
    },
    /// A PEM file of certificate authorities to trust as well as the bundled ones and the
    /// system's (for networks that inspect TLS). Without PATH, shows every trusted source.
    CaFile {
        /// Full path of the PEM file.
        path: Option<std::path::PathBuf>,
        /// Trust only the bundled and the system's authorities again.
        #[arg(long, conflicts_with = "path")]
        reset: bool,
    },
}

fn bad_network(why: String) -> UserError {
    UserError::new(
        "bad_network_setting",
        crate::errors::capitalize(&why),
        "Nothing was changed. Run the command again with a value that works.",
        ExitClass::Other,
    )
}

fn update_network(
    accounts: &Accounts,
    change: impl FnOnce(&mut crate::network_settings::Network),
) -> Result<crate::network_settings::Network, UserError> {
    let mut net = accounts.vault().index()?.settings.network;
    change(&mut net);
    net.check().map_err(bad_network)?;
    let saved = net.clone();
    accounts
        .vault()
        .update_index(|idx| idx.settings.network = net)?;
    Ok(saved)
}

pub(super) fn config_proxy(url: Option<String>, system: bool, off: bool) -> Result<i32, UserError> {
    use crate::network_settings::check_proxy_url;
    use crate::network_settings::Proxy;
    use crate::oauth::proxy::plan_proxy;
    let accounts = Accounts::open()?;
    let url = url.filter(|u| !u.trim().is_empty());
    if url.is_none() && !system && !off {
        let net = accounts.vault().index()?.settings.network;
        println_out(&plan_proxy(&net).describe())?;
        return Ok(0);
    }
    let proxy = match url {
        Some(u) => Proxy::Manual(check_proxy_url(&u).map_err(bad_network)?),
        None if off => Proxy::Off,
        None => Proxy::System,
    };
    let net = update_network(&accounts, |n| n.proxy = proxy)?;
    eprintln!("Proxy: {}", plan_proxy(&net).describe());
    Ok(0)
}

pub(super) fn config_no_proxy(list: Option<String>, reset: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let list = match (list, reset) {
        (_, true) => Vec::new(),
        (Some(l), false) => crate::network_settings::parse_direct_list(&l).map_err(bad_network)?,
        (None, false) => {
            let net = accounts.vault().index()?.settings.network;
            println_out(&if net.no_proxy.is_empty() {
                "(none)".to_string()
            } else {
                net.no_proxy.join(", ")
            })?;
            return Ok(0);
        }
    };
    let net = update_network(&accounts, |n| n.no_proxy = list)?;
    if net.no_proxy.is_empty() {
        eprintln!("Every address goes through the proxy, if there is one.");
    } else {
        eprintln!("Reached directly: {}", net.no_proxy.join(", "));
    }
    Ok(0)
}

pub(super) fn config_ca_file(
    path: Option<std::path::PathBuf>,
    reset: bool,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let path = match (path, reset) {
        (_, true) => None,
        (Some(p), false) => {
            let full = if p.is_absolute() {
                p
            } else {
                std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
            };
            Some(full.to_string_lossy().into_owned())
        }
        (None, false) => {
            let net = accounts.vault().index()?.settings.network;
            for line in crate::oauth::network::report(&net).trust {
                println_out(&line)?;
            }
            return Ok(0);
        }
    };
    let n = match &path {
        Some(p) => Some(crate::network_settings::check_ca_file(p).map_err(bad_network)?),
        None => None,
    };
    update_network(&accounts, |net| net.ca_file = path.clone())?;
    match (path, n) {
        (Some(p), Some(n)) => eprintln!(
            "Latchkey now also trusts the {n} certificate authorit{} in {p}.",
            if n == 1 { "y" } else { "ies" }
        ),
        _ => eprintln!(
            "Latchkey trusts only its bundled and the system's certificate authorities again."
        ),
    }
    Ok(0)
}

pub(super) fn config_client_metadata_url(
    url: Option<String>,
    reset: bool,
    off: bool,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    if !reset && !off && url.as_deref().is_none_or(|u| u.trim().is_empty()) {
        let s = accounts.vault().index()?.settings;
        let shown = if s.client_metadata_off {
            "(off)".to_string()
        } else {
            s.client_metadata_url
                .unwrap_or_else(|| crate::provider::DEFAULT_CLIENT_METADATA_URL.into())
        };
        println_out(&shown)?;
        return Ok(0);
    }
    let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    if let Some(u) = &url {
        crate::provider::check_client_metadata_url(u).map_err(|why| {
            UserError::new(
                "bad_client_metadata_url",
                crate::errors::capitalize(&why),
                "Nothing was changed. Give the https address of the document itself, e.g. https://example.com/oauth/client.json.",
                ExitClass::Other,
            )
        })?;
    }
    let said = url.clone();
    accounts.vault().update_index(|idx| {
        idx.settings.client_metadata_off = off;
        idx.settings.client_metadata_url = if reset {
            None
        } else {
            url.or(idx.settings.client_metadata_url.take())
        };
    })?;
    match (off, said) {
        (true, _) => eprintln!("Latchkey will not use a client metadata document."),
        (false, Some(u)) => {
            eprintln!("Servers that take client metadata documents will be given {u}.")
        }
        (false, None) => eprintln!("Back to Latchkey's own client metadata document."),
    }
    Ok(0)
}

pub(super) fn config_browser(command: Option<String>, reset: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let new = match (command, reset) {
        (_, true) => None,
        (Some(c), false) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => {
            let now = accounts.vault().index()?.settings.browser_command;
            println_out(now.as_deref().unwrap_or("(the default browser)"))?;
            return Ok(0);
        }
    };
    if let Some(c) = &new {
        crate::platform::check_browser_command(c).map_err(|why| {
            UserError::new(
                "bad_browser_command",
                why,
                "Nothing was changed; run the command again with a browser program.",
                ExitClass::Other,
            )
        })?;
    }
    let said = new.clone();
    accounts
        .vault()
        .update_index(|idx| idx.settings.browser_command = new)?;
    match said {
        Some(c) => eprintln!("Sign-ins now open with: {c}"),
        None => eprintln!("Sign-ins now open in your default browser."),
    }
    Ok(0)
}
