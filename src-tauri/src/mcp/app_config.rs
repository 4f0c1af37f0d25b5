//! Reading and editing an AI app's MCP settings file in place: every other entry, comment and
//! line break stays as the person (or the app) wrote it. A file that does not parse is
//! refused, naming its line, and never touched. A write keeps a backup of the file as it
//! was and replaces it in one step.

use super::apps::App;
use crate::errors::{ExitClass, UserError};
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use std::path::{Path, PathBuf};

/// An AI app's settings file as read from disk.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Whose file.
    pub app: App,
    /// Where it is (a link is followed, so the edit lands in the file it points to).
    pub path: PathBuf,
    /// Its text; None when it does not exist yet.
    pub text: Option<String>,
}

/// A change to one settings file, not yet written.
#[derive(Debug, Clone)]
pub struct Edit {
    /// Whose file.
    pub app: App,
    /// Where it is.
    pub path: PathBuf,
    /// The text before (None: the file is new).
    pub before: Option<String>,
    /// The text after.
    pub after: String,
}

fn unreadable(app: App, path: &Path, e: std::io::Error) -> UserError {
    UserError::new(
        "app_config_unreadable",
        format!(
            "Could not read {}'s settings {} ({e}).",
            app.name(),
            path.display()
        ),
        "Check that the file belongs to you and can be read, then run the command again.",
        ExitClass::Other,
    )
}

fn unparsable(app: App, path: &Path, line: usize, column: usize, what: &str) -> UserError {
    UserError::new(
        "app_config_unparsable",
        format!(
            "{}'s settings {} cannot be read at line {line}, column {column}: {what}. Latchkey left the file untouched.",
            app.name(),
            path.display()
        ),
        format!(
            "Fix line {line} of that file (or open it in {} to see the problem), then run the command again.",
            app.name()
        ),
        ExitClass::Other,
    )
}

impl ConfigFile {
    /// Reads `app`'s settings file; a missing file reads as empty.
    pub fn read(app: App) -> Result<ConfigFile, UserError> {
        let path = app.config_path().ok_or_else(|| {
            UserError::new(
                "no_home",
                "Your home folder is not known, so the AI app's settings cannot be found.",
                "Set HOME (or on Windows, APPDATA) and run the command again.",
                ExitClass::Other,
            )
        })?;
        Self::read_at(app, path)
    }

    /// Reads the settings file at `path`.
    pub fn read_at(app: App, path: PathBuf) -> Result<ConfigFile, UserError> {
        // Follow a link (dotfile managers keep these files elsewhere). Not on Windows, where
        // canonical paths are `\\?\` paths that people and apps do not expect.
        let path = if cfg!(unix) {
            std::fs::canonicalize(&path).unwrap_or(path)
        } else {
            path
        };
        let text = match std::fs::read(&path) {
            Ok(bytes) => Some(
                String::from_utf8(bytes)
                    .map_err(|_| unparsable(app, &path, 1, 1, "it is not UTF-8 text"))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(unreadable(app, &path, e)),
        };
        Ok(ConfigFile { app, path, text })
    }

    /// The file parsed, keeping every comment and space. A file of only blanks is `{}`.
    fn tree(&self) -> Result<CstRootNode, UserError> {
        let text = match self.text.as_deref() {
            Some(t) if !t.trim().is_empty() => t,
            _ => "{}\n",
        };
        let (app, path) = (self.app, &self.path);
        if !app.jsonc() {
            // The app reads strict JSON: what it would refuse is refused here too.
            if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
                let what = e.to_string();
                let what = what.split(" at line").next().unwrap_or("").to_string();
                return Err(unparsable(app, path, e.line(), e.column(), &what));
            }
        }
        let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| {
            let what = e.kind().to_string().to_lowercase();
            unparsable(app, path, e.line_display(), e.column_display(), &what)
        })?;
        if root.value().is_some() && root.object_value().is_none() {
            return Err(unparsable(app, path, 1, 1, "it is not a JSON object"));
        }
        Ok(root)
    }

    /// The servers map, refusing one that is not an object.
    fn servers(&self, root: &CstRootNode, create: bool) -> Result<Option<CstObject>, UserError> {
        let obj = root.object_value_or_set();
        let key = self.app.servers_key();
        match obj.get(key) {
            Some(prop) => match prop.value().and_then(|v| v.as_object()) {
                Some(o) => Ok(Some(o)),
                None => Err(unparsable(
                    self.app,
                    &self.path,
                    line_of(self.text.as_deref().unwrap_or(""), key),
                    1,
                    &format!("\"{key}\" is not an object"),
                )),
            },
            None if create => Ok(Some(obj.object_value_or_set(key))),
            None => Ok(None),
        }
    }

    /// Every server entry in the file, by name, in file order.
    pub fn entries(&self) -> Result<Vec<(String, serde_json::Value)>, UserError> {
        let root = self.tree()?;
        let Some(servers) = self.servers(&root, false)? else {
            return Ok(Vec::new());
        };
        Ok(servers
            .properties()
            .into_iter()
            .filter_map(|p| {
                let name = p.name()?.decoded_value().ok()?;
                let value = p.value()?.to_serde_value()?;
                Some((name, value))
            })
            .collect())
    }

    /// The file with `name` set to `entry` (added at the end, or replaced in place).
    pub fn with_entry(&self, name: &str, entry: &serde_json::Value) -> Result<Edit, UserError> {
        let root = self.tree()?;
        let servers = self.servers(&root, true)?.expect("created");
        match servers.get(name) {
            Some(prop) => prop.set_value(input(entry)),
            None => {
                servers.append(name, input(entry));
            }
        }
        Ok(self.edit(root))
    }

    /// The file without the entry `name`; None when it has none.
    pub fn without_entry(&self, name: &str) -> Result<Option<Edit>, UserError> {
        let root = self.tree()?;
        let Some(servers) = self.servers(&root, false)? else {
            return Ok(None);
        };
        let Some(prop) = servers.get(name) else {
            return Ok(None);
        };
        prop.remove();
        Ok(Some(self.edit(root)))
    }

    fn edit(&self, root: CstRootNode) -> Edit {
        let mut after = root.to_string();
        if !after.ends_with('\n') {
            after.push('\n');
        }
        Edit {
            app: self.app,
            path: self.path.clone(),
            before: self.text.clone(),
            after,
        }
    }
}

/// The 1-based line where `key` first appears as a quoted name.
fn line_of(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.find(&quoted)
        .map(|at| text[..at].matches('\n').count() + 1)
        .unwrap_or(1)
}

fn input(v: &serde_json::Value) -> CstInputValue {
    use serde_json::Value;
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(input).collect()),
        Value::Object(o) => {
            // The order the apps' documentation writes an entry in; serde_json sorts keys.
            const FIRST: [&str; 5] = ["type", "command", "args", "env", "url"];
            let rank = |k: &str| FIRST.iter().position(|f| *f == k).unwrap_or(FIRST.len());
            let mut props: Vec<_> = o.iter().collect();
            props.sort_by_key(|(k, _)| rank(k));
            CstInputValue::Object(
                props
                    .into_iter()
                    .map(|(k, v)| (k.clone(), input(v)))
                    .collect(),
            )
        }
    }
}

impl Edit {
    /// The change as lines removed (`-`) and added (`+`) with two lines of context, headed by
    /// the file's path.
    pub fn diff(&self) -> String {
        let before: Vec<&str> = self.before.as_deref().unwrap_or("").lines().collect();
        let after: Vec<&str> = self.after.lines().collect();
        let head = before
            .iter()
            .zip(&after)
            .take_while(|(a, b)| a == b)
            .count();
        let tail = before[head..]
            .iter()
            .rev()
            .zip(after[head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = match &self.before {
            Some(_) => format!("--- {}\n+++ {}\n", self.path.display(), self.path.display()),
            None => format!("+++ {} (new file)\n", self.path.display()),
        };
        let from = head.saturating_sub(2);
        out.push_str(&format!("@@ line {} @@\n", from + 1));
        for l in &before[from..head] {
            out.push_str(&format!("  {l}\n"));
        }
        for l in &before[head..before.len() - tail] {
            out.push_str(&format!("- {l}\n"));
        }
        for l in &after[head..after.len() - tail] {
            out.push_str(&format!("+ {l}\n"));
        }
        let end = (after.len() - tail + 2).min(after.len());
        for l in &after[after.len() - tail..end] {
            out.push_str(&format!("  {l}\n"));
        }
        out
    }

    /// Writes the change: the file as it was goes to `FILE.latchkey-backup`, then the new text
    /// replaces the file in one step, with the old file's permissions. Refused when the file
    /// changed since it was read (the AI app may have written it). Returns the backup's path.
    pub fn write(&self) -> Result<Option<PathBuf>, UserError> {
        let now = ConfigFile::read_at(self.app, self.path.clone())?;
        if now.text != self.before {
            return Err(UserError::new(
                "app_config_changed",
                format!(
                    "{}'s settings {} changed while Latchkey was editing them; nothing was written.",
                    self.app.name(),
                    self.path.display()
                ),
                "Run the command again.",
                ExitClass::Other,
            ));
        }
        let failed = |e: std::io::Error| {
            UserError::new(
                "app_config_write",
                format!(
                    "Could not write {}'s settings {} ({e}); the file is as it was.",
                    self.app.name(),
                    self.path.display()
                ),
                "Check that the folder belongs to you and the disk has room, then run the command again.",
                ExitClass::Other,
            )
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(failed)?;
        let backup = match &self.before {
            Some(before) => {
                let mut name = self.path.file_name().unwrap_or_default().to_os_string();
                name.push(".latchkey-backup");
                let backup = self.path.with_file_name(name);
                write_new(dir, &backup, before, Some(&self.path)).map_err(failed)?;
                Some(backup)
            }
            None => None,
        };
        write_new(dir, &self.path, &self.after, Some(&self.path)).map_err(failed)?;
        tracing::info!(app = self.app.id(), "AI app settings written");
        Ok(backup)
    }
}

/// Writes `text` to a temp file in `dir` with `like`'s permissions (0600 for a new file on
/// Unix: the file may hold other servers' keys), then moves it over `path`.
fn write_new(dir: &Path, path: &Path, text: &str, like: Option<&Path>) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = tempfile::Builder::new()
        .prefix(".latchkey-")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    match like.and_then(|p| std::fs::metadata(p).ok()) {
        Some(m) => tmp.as_file().set_permissions(m.permissions())?,
        None => crate::platform::secure_file(tmp.as_file())?,
    }
    crate::platform::replace_file(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(app: App, text: Option<&str>) -> (tempfile::TempDir, ConfigFile) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("settings.json");
        if let Some(t) = text {
            std::fs::write(&path, t).unwrap();
        }
        let f = ConfigFile::read_at(app, path).unwrap();
        (d, f)
    }

    #[test]
    fn an_entry_is_added_keeping_every_comment_and_other_server() {
        let before = "{\n  // my servers\n  \"servers\": {\n    \"other\": { \"type\": \"http\", \"url\": \"https://o\" }, // keep\n  },\n  \"inputs\": []\n}\n";
        let (_d, f) = file(App::VsCode, Some(before));
        let entry = App::VsCode.entry("C:\\L\\latchkey.exe", &["mcp".into()]);
        let e = f.with_entry("taskade", &entry).unwrap();
        assert!(e.after.contains("// my servers"), "{}", e.after);
        assert!(e.after.contains("// keep"), "{}", e.after);
        assert!(e.after.contains("\"inputs\": []"), "{}", e.after);
        let parsed = CstRootNode::parse(&e.after, &ParseOptions::default()).unwrap();
        let v = parsed.to_serde_value().unwrap();
        assert_eq!(v["servers"]["taskade"]["command"], "C:\\L\\latchkey.exe");
        assert_eq!(v["servers"]["other"]["url"], "https://o");
        assert!(e.diff().contains("+ "), "{}", e.diff());
        let at = |k: &str| e.after.find(k).unwrap();
        assert!(
            at("\"type\": \"stdio\"") < at("\"command\"") && at("\"command\"") < at("\"args\"")
        );
    }

    #[test]
    fn a_broken_file_is_refused_naming_its_line() {
        let (_d, f) = file(
            App::Cursor,
            Some("{\n  \"mcpServers\": {\n    \"a\": {,\n  }\n}\n"),
        );
        let err = f.with_entry("x", &serde_json::json!({})).unwrap_err();
        assert_eq!(err.code, "app_config_unparsable");
        assert!(err.message.contains("line 3"), "{}", err.message);
        // Strict JSON apps refuse comments rather than keep what they cannot read.
        let (_d, f) = file(App::ClaudeDesktop, Some("{\n // no\n}\n"));
        let err = f.entries().unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
        let (_d, f) = file(App::Zed, Some("{ \"context_servers\": [] }"));
        let err = f.entries().unwrap_err();
        assert!(err.message.contains("not an object"), "{}", err.message);
    }

    #[test]
    fn a_missing_or_blank_file_gets_a_fresh_object() {
        for text in [None, Some("  \n")] {
            let (_d, f) = file(App::ClaudeCode, text);
            let e = f
                .with_entry("s", &serde_json::json!({"command": "latchkey"}))
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&e.after).unwrap();
            assert_eq!(v["mcpServers"]["s"]["command"], "latchkey");
        }
    }

    #[test]
    fn removing_takes_out_one_entry_and_leaves_the_rest() {
        let before = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n    \"b\": {\"command\": \"y\"}\n  },\n  \"numStartups\": 4\n}\n";
        let (_d, f) = file(App::ClaudeCode, Some(before));
        let e = f.without_entry("a").unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&e.after).unwrap();
        assert!(v["mcpServers"].get("a").is_none());
        assert_eq!(v["mcpServers"]["b"]["command"], "y");
        assert_eq!(v["numStartups"], 4);
        assert!(f.without_entry("zzz").unwrap().is_none());
    }

    #[test]
    fn a_write_keeps_a_backup_and_refuses_a_file_changed_meanwhile() {
        let (_d, f) = file(App::Cursor, Some("{\"mcpServers\": {}}"));
        let e = f
            .with_entry("s", &serde_json::json!({"command": "c"}))
            .unwrap();
        let backup = e.write().unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(backup).unwrap(),
            "{\"mcpServers\": {}}"
        );
        assert_eq!(std::fs::read_to_string(&f.path).unwrap(), e.after);
        // The same edit again: the file is no longer what it was read as.
        let err = e.write().unwrap_err();
        assert_eq!(err.code, "app_config_changed");
    }
}
