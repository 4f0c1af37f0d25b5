//! The AI apps `latchkey mcp add` writes to: where each keeps its MCP servers on each OS, in
//! which shape, and whether it looks installed. The formats are from each app's
//! documentation (README, "Use with AI apps"); none of the apps runs in the tests.

use std::path::PathBuf;

/// An AI app whose MCP configuration Latchkey can edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    /// Claude Desktop: `claude_desktop_config.json`, `mcpServers`.
    ClaudeDesktop,
    /// Cursor: `~/.cursor/mcp.json`, `mcpServers`.
    Cursor,
    /// Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers`.
    Windsurf,
    /// VS Code: the user profile's `mcp.json` (JSON with comments), `servers`, `"type": "stdio"`.
    VsCode,
    /// Claude Code: `~/.claude.json` (user scope, as `claude mcp add -s user` writes it).
    ClaudeCode,
    /// Zed: its `settings.json` (JSON with comments), `context_servers`.
    Zed,
}

impl App {
    /// Every app, in the order they are listed.
    pub const ALL: [App; 6] = [
        App::ClaudeDesktop,
        App::ClaudeCode,
        App::Cursor,
        App::VsCode,
        App::Windsurf,
        App::Zed,
    ];

    /// The name on the command line (`--app`).
    pub fn id(self) -> &'static str {
        match self {
            App::ClaudeDesktop => "claude-desktop",
            App::Cursor => "cursor",
            App::Windsurf => "windsurf",
            App::VsCode => "vscode",
            App::ClaudeCode => "claude-code",
            App::Zed => "zed",
        }
    }

    /// The app's own name, for people.
    pub fn name(self) -> &'static str {
        match self {
            App::ClaudeDesktop => "Claude Desktop",
            App::Cursor => "Cursor",
            App::Windsurf => "Windsurf",
            App::VsCode => "VS Code",
            App::ClaudeCode => "Claude Code",
            App::Zed => "Zed",
        }
    }

    /// The app named `id` on the command line.
    pub fn from_id(id: &str) -> Option<App> {
        App::ALL.into_iter().find(|a| a.id() == id)
    }

    /// The object that maps server names to their entries.
    pub fn servers_key(self) -> &'static str {
        match self {
            App::VsCode => "servers",
            App::Zed => "context_servers",
            _ => "mcpServers",
        }
    }

    /// True when the app reads JSON with comments and trailing commas; the others read
    /// strict JSON, so a comment there is refused rather than kept.
    pub fn jsonc(self) -> bool {
        matches!(self, App::VsCode | App::Zed)
    }

    /// The file the app reads its user-wide MCP servers from, on this OS.
    pub fn config_path(self) -> Option<PathBuf> {
        let home = dirs::home_dir();
        // Roaming AppData on Windows, ~/Library/Application Support on macOS, XDG on Linux.
        let config = dirs::config_dir();
        match self {
            // No Linux build is published; the community builds read this path.
            App::ClaudeDesktop => {
                config.map(|c| under(c, &["Claude", "claude_desktop_config.json"]))
            }
            App::Cursor => home.map(|h| under(h, &[".cursor", "mcp.json"])),
            App::Windsurf => home.map(|h| under(h, &[".codeium", "windsurf", "mcp_config.json"])),
            App::VsCode => config.map(|c| under(c, &["Code", "User", "mcp.json"])),
            App::ClaudeCode => home.map(|h| h.join(".claude.json")),
            // Zed keeps ~/.config on macOS too; %APPDATA%\Zed on Windows.
            App::Zed => {
                if cfg!(windows) {
                    config.map(|c| under(c, &["Zed", "settings.json"]))
                } else {
                    let xdg = std::env::var_os("XDG_CONFIG_HOME")
                        .map(PathBuf::from)
                        .filter(|p| p.is_absolute());
                    xdg.or_else(|| home.map(|h| h.join(".config")))
                        .map(|c| under(c, &["zed", "settings.json"]))
                }
            }
        }
    }

    /// The program the app installs on PATH, if it has one.
    fn program(self) -> Option<&'static str> {
        match self {
            App::ClaudeDesktop => None,
            App::Cursor => Some("cursor"),
            App::Windsurf => Some("windsurf"),
            App::VsCode => Some("code"),
            App::ClaudeCode => Some("claude"),
            App::Zed => Some("zed"),
        }
    }

    /// True when the app looks installed for this person: its settings file or folder
    /// exists, or its program is on PATH.
    pub fn detected(self) -> bool {
        let Some(path) = self.config_path() else {
            return false;
        };
        let folder = match self {
            // The settings file's own folder is made by the app at its first start.
            App::ClaudeCode => dirs::home_dir().map(|h| h.join(".claude")),
            _ => path.parent().map(PathBuf::from),
        };
        path.exists() || folder.is_some_and(|f| f.is_dir()) || self.program().is_some_and(on_path)
    }

    /// The entry that runs `program args…` as a stdio MCP server, in this app's shape.
    pub fn entry(self, program: &str, args: &[String]) -> serde_json::Value {
        let mut e = serde_json::Map::new();
        if matches!(self, App::VsCode | App::ClaudeCode) {
            e.insert("type".into(), "stdio".into());
        }
        e.insert("command".into(), program.into());
        e.insert("args".into(), args.into());
        if matches!(self, App::ClaudeCode | App::Zed) {
            e.insert("env".into(), serde_json::Value::Object(Default::default()));
        }
        serde_json::Value::Object(e)
    }
}

/// `base` with `parts` joined one by one: a '/' inside one part would stay a '/' on Windows.
fn under(base: PathBuf, parts: &[&str]) -> PathBuf {
    parts.iter().fold(base, |p, part| p.join(part))
}

fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|d| {
        let p = d.join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
        p.is_file()
    })
}

/// The `latchkey` command-line program an AI app should run: this program, or the one next
/// to the desktop app.
pub fn cli_program() -> PathBuf {
    let name = format!("latchkey{}", std::env::consts::EXE_SUFFIX);
    // Not canonicalized: a package manager's link (Homebrew's bin/latchkey into a versioned
    // folder) must stay the link, or the entry breaks at the next upgrade.
    match std::env::current_exe().ok() {
        Some(e) if e.file_name().is_some_and(|n| n == name.as_str()) => e,
        Some(e) => e.with_file_name(&name),
        None => PathBuf::from(name),
    }
}

/// What a server entry runs, read back: the server address, the account and the headers when
/// it runs `latchkey mcp connect`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bridge {
    /// The MCP server's address.
    pub url: String,
    /// `--account`, when the entry names one.
    pub account: Option<String>,
}

/// Reads `latchkey mcp connect URL [--account ID] …` back out of an entry's command and args.
pub fn bridge_of(entry: &serde_json::Value) -> Option<Bridge> {
    let command = entry.get("command")?.as_str()?;
    let stem = std::path::Path::new(command)
        .file_stem()?
        .to_string_lossy()
        .to_string();
    // A Windows path read on any OS, too.
    let stem = stem.rsplit('\\').next().unwrap_or(&stem).to_string();
    if stem != "latchkey" {
        return None;
    }
    let args: Vec<&str> = entry
        .get("args")?
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let rest = args.strip_prefix(&["mcp", "connect"])?;
    let mut url = None;
    let mut account = None;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match *a {
            "--account" => account = it.next().map(|s| s.to_string()),
            "--header" | "--transport" => {
                it.next();
            }
            a if a.starts_with("--account=") => account = Some(a[10..].to_string()),
            a if a.starts_with('-') => {}
            a if url.is_none() => url = Some(a.to_string()),
            _ => {}
        }
    }
    Some(Bridge { url: url?, account })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_app_writes_its_documented_shape() {
        let args = vec!["mcp".to_string(), "connect".into(), "https://x/mcp".into()];
        let vs = App::VsCode.entry("/usr/bin/latchkey", &args);
        assert_eq!(vs["type"], "stdio");
        assert_eq!(vs["command"], "/usr/bin/latchkey");
        let cd = App::ClaudeDesktop.entry("/usr/bin/latchkey", &args);
        assert!(cd.get("type").is_none());
        assert_eq!(cd["args"][2], "https://x/mcp");
        assert_eq!(App::Zed.servers_key(), "context_servers");
        assert_eq!(App::VsCode.servers_key(), "servers");
        assert_eq!(App::Cursor.servers_key(), "mcpServers");
        for a in App::ALL {
            assert_eq!(App::from_id(a.id()), Some(a));
        }
    }

    #[test]
    fn a_bridge_is_read_back_from_its_entry_and_nothing_else_is() {
        let e = serde_json::json!({"command": "C:\\Program Files\\Latchkey\\latchkey.exe",
            "args": ["mcp", "connect", "--header", "X: y", "https://a/mcp", "--account", "acc-1"]});
        assert_eq!(
            bridge_of(&e),
            Some(Bridge {
                url: "https://a/mcp".into(),
                account: Some("acc-1".into())
            })
        );
        let other = serde_json::json!({"command": "npx", "args": ["mcp-remote", "https://a/mcp"]});
        assert_eq!(bridge_of(&other), None);
        let not_connect = serde_json::json!({"command": "latchkey", "args": ["token", "x"]});
        assert_eq!(bridge_of(&not_connect), None);
    }
}
