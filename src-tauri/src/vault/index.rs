//! The non-secret account index, `accounts.json`: atomic writes, 0600 in a 0700 directory,
//! and a damaged or newer file is kept aside instead of being overwritten.

pub use super::policy::{Approval, Policy};
use crate::provider::ProviderSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The schema version this build reads and writes.
pub const SCHEMA: u32 = 1;

/// How an account obtains tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Authorization code + PKCE; refreshed with a refresh token.
    #[default]
    Oauth,
    /// A personal access token pasted by the person; no expiry.
    PersonalToken,
    /// A machine account using the client-credentials grant.
    ClientCredentials,
}

/// What the app knows about an account's health, shown as its status chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Tokens are usable (or refreshable).
    #[default]
    Valid,
    /// The provider refused the grant; the person must sign in again.
    NeedsSignIn,
    /// The last refresh failed for a reason that may pass (network, 5xx).
    Offline,
}

/// One connected account. Holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEntry {
    /// Stable id, also the keyring user `account:<id>`.
    pub id: String,
    /// Provider id (`taskade`, `github`, or a user-added one).
    pub provider: String,
    /// Optional name the person gave it.
    #[serde(default)]
    pub label: Option<String>,
    /// Handle or email, when known.
    #[serde(default)]
    pub identity: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Access-token expiry (unix seconds); mirrors the secret record for display.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Health.
    #[serde(default)]
    pub status: AccountStatus,
    /// How tokens are obtained.
    #[serde(default)]
    pub kind: AccountKind,
    /// Client id used for this account (recorded at every sign-in since 0.2; older accounts
    /// may lack it and then use the provider's).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
    /// When the last refresh ran and what came of it (plain words, no secret).
    #[serde(default)]
    pub last_refresh: Option<RefreshNote>,
    /// Where this account's tokens may go, fixed at sign-in (S24). `None` only for accounts
    /// saved before 0.2, which follow their provider entry as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::provider::Destinations>,
    /// The person's subject (`sub`) at the issuer, when the provider said: a second sign-in of
    /// the same person updates this account instead of adding one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Who gets this account's token without asking (issue 39). `None`: accounts from before
    /// policies, which hand out as before (`allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// Programs the person allowed, by executable path (issue 39).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// The outcome of the last refresh, for the details view and `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshNote {
    /// Unix seconds.
    pub at: i64,
    /// `refreshed`, `needs_sign_in` or `transient`.
    pub outcome: String,
    /// Plain-words detail, never a token.
    #[serde(default)]
    pub detail: Option<String>,
}

/// A dynamically registered client (RFC 7591) remembered per provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The client id the provider issued.
    pub client_id: String,
    /// The redirect URI it was registered with.
    pub redirect_uri: String,
    /// Unix seconds.
    pub registered_at: i64,
    /// How it authenticates at the token endpoint (its secret, if any, is in the vault under
    /// `client-secret:<provider>:<client id>`).
    #[serde(default)]
    pub auth: crate::provider::ClientAuth,
}

/// A pending sign-in, listed so stale ones can be swept. Its secrets are in the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingNote {
    /// Transaction handle (hash of the state, not the state).
    pub handle: String,
    /// Provider id.
    pub provider: String,
    /// Unix seconds.
    pub expires: i64,
}

/// Person-facing preferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Seconds before a copied token is cleared from the clipboard; 0 = never.
    pub clipboard_clear_secs: u64,
    /// Minimum refresh margin in seconds.
    pub refresh_margin_secs: u64,
    /// Command that opens URLs instead of the system browser (`%s` = the URL).
    pub browser_command: Option<String>,
    /// The "Latchkey keeps running in the tray" notice was shown once.
    pub tray_hint_shown: bool,
    /// Start Latchkey (in the tray) when the person logs in. Off by default.
    pub start_at_login: bool,
    /// On a desktop with no tray, closing the window quits Latchkey instead of leaving it
    /// refreshing in the background. Off by default.
    pub quit_without_tray: bool,
    /// The "no tray here; Latchkey keeps refreshing in the background" notice was shown once.
    pub background_hint_shown: bool,
    /// The client metadata document to name as the client id where a server takes one;
    /// `None` is Latchkey's own (`provider::DEFAULT_CLIENT_METADATA_URL`).
    pub client_metadata_url: Option<String>,
    /// Never use a client metadata document (register, or ask for a client id, instead).
    pub client_metadata_off: bool,
    /// Proxy and extra certificate authorities (Settings → Network).
    pub network: crate::network_settings::Network,
    /// The policy new accounts get (issue 39); `allow` unless the person chose another.
    pub default_policy: Policy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clipboard_clear_secs: 30,
            refresh_margin_secs: 300,
            browser_command: None,
            tray_hint_shown: false,
            start_at_login: false,
            quit_without_tray: false,
            background_hint_shown: false,
            client_metadata_url: None,
            client_metadata_off: false,
            network: Default::default(),
            default_policy: Policy::Allow,
        }
    }
}

/// The whole index file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Schema version; a newer one is never overwritten.
    pub schema: u32,
    /// Providers the person added ("Other").
    #[serde(default)]
    pub providers: Vec<ProviderSpec>,
    /// Dynamic client registrations, by provider id.
    #[serde(default)]
    pub registrations: BTreeMap<String, ClientRegistration>,
    /// Connected accounts.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Pending sign-ins (non-secret notes).
    #[serde(default)]
    pub pending: Vec<PendingNote>,
    /// Account used when a command names none and the provider is ambiguous.
    #[serde(default)]
    pub default_account: Option<String>,
    /// Preferences.
    #[serde(default)]
    pub settings: Settings,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema: SCHEMA,
            providers: Vec::new(),
            registrations: BTreeMap::new(),
            accounts: Vec::new(),
            pending: Vec::new(),
            default_account: None,
            settings: Settings::default(),
        }
    }
}

impl Index {
    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// Mutable access to the account with this id.
    pub fn account_mut(&mut self, id: &str) -> Option<&mut AccountEntry> {
        self.accounts.iter_mut().find(|a| a.id == id)
    }
}

/// Problems with the index file, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Written by a newer Latchkey; left untouched.
    #[error("accounts.json was written by a newer version of Latchkey (schema {found})")]
    NewerSchema {
        /// The schema number found.
        found: u32,
    },
    /// Unreadable or unwritable file system.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What we tried.
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error (no secrets in paths or errno text).
        source: std::io::Error,
    },
}

impl IndexError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            IndexError::NewerSchema { .. } => "index_newer_schema",
            IndexError::Io { .. } => "index_io",
        }
    }

    /// What to do.
    pub fn fix(&self) -> String {
        match self {
            IndexError::NewerSchema { .. } => "Update Latchkey to the newest version; your accounts are safe and were not changed.".into(),
            IndexError::Io { path, .. } => format!(
                "Check that {} exists and belongs to you (chmod 700), or set LATCHKEY_HOME to a writable folder.",
                path.parent().unwrap_or(path).display()
            ),
        }
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> IndexError + 'a {
    move |source| IndexError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the data directory with mode 0700 (and tightens an existing one).
pub fn ensure_private_dir(dir: &Path) -> Result<(), IndexError> {
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    crate::platform::secure_dir(dir).map_err(io("secure", dir))
}

/// Result of reading the index: the data plus a notice when a damaged file was set aside.
pub struct Loaded {
    /// The index (empty when none existed or the old one was damaged).
    pub index: Index,
    /// Where a damaged file was moved, if that happened now.
    pub set_aside: Option<PathBuf>,
}

/// Reads `accounts.json`. A damaged file is renamed to `accounts.json.damaged-<time>` and an
/// empty index is returned with a notice; a newer schema is an error and the file stays put.
pub fn load(path: &Path) -> Result<Loaded, IndexError> {
    let bytes = match crate::platform::read_shared(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                index: Index::default(),
                set_aside: None,
            })
        }
        Err(e) => return Err(io("read", path)(e)),
    };
    // One typed parse on the happy path. The schema is checked on the parsed index, and only
    // a file that does not parse is probed for a newer schema (whose fields may not fit),
    // with a struct that allocates nothing for the rest: a whole JSON tree of a large index
    // cost as much as the parse itself (issue 29).
    #[derive(Deserialize)]
    struct Probe {
        schema: Option<u64>,
    }
    let newer = |found: u64| IndexError::NewerSchema {
        found: found as u32,
    };
    match serde_json::from_slice::<Index>(&bytes) {
        Ok(index) if index.schema > SCHEMA => Err(newer(u64::from(index.schema))),
        Ok(index) => Ok(Loaded {
            index,
            set_aside: None,
        }),
        Err(e) => {
            if let Some(found) = serde_json::from_slice::<Probe>(&bytes)
                .ok()
                .and_then(|p| p.schema)
                .filter(|&f| f > u64::from(SCHEMA))
            {
                return Err(newer(found));
            }
            let aside =
                path.with_file_name(format!("accounts.json.damaged-{}", crate::clock::now()));
            tracing::warn!(line = e.line(), column = e.column(), aside = %aside.display(), "accounts.json is damaged; keeping it aside");
            fs::rename(path, &aside).map_err(io("set aside", path))?;
            Ok(Loaded {
                index: Index::default(),
                set_aside: Some(aside),
            })
        }
    }
}

/// Writes `accounts.json` atomically: temp file in the same dir, fsync, rename, fsync dir.
pub fn store(path: &Path, index: &Index) -> Result<(), IndexError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let json = serde_json::to_vec_pretty(index)
        .map_err(|e| io("encode", path)(std::io::Error::other(e)))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".accounts.json.")
        .tempfile_in(dir)
        .map_err(io("create a temp file in", dir))?;
    crate::platform::secure_file(tmp.as_file()).map_err(io("secure", path))?;
    tmp.write_all(&json).map_err(io("write", path))?;
    tmp.write_all(b"\n").map_err(io("write", path))?;
    tmp.as_file().sync_all().map_err(io("sync", path))?;
    crate::platform::replace_file(tmp, path).map_err(io("replace", path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An exclusive lock on the index for one read-modify-write, across processes.
pub struct IndexLock {
    _file: File,
}

impl IndexLock {
    /// Blocks until no other process is writing the index.
    pub fn acquire(dir: &Path) -> Result<Self, IndexError> {
        let p = dir.join("accounts.json.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io("open", &p))?;
        file.lock().map_err(io("lock", &p))?;
        Ok(IndexLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> AccountEntry {
        AccountEntry {
            id: id.into(),
            provider: "taskade".into(),
            label: None,
            identity: Some("alice".into()),
            scopes: vec![],
            expires_at: None,
            status: AccountStatus::Valid,
            kind: AccountKind::Oauth,
            client_id: None,
            created: 1,
            updated: 1,
            last_refresh: None,
            binding: None,
            subject: None,
            policy: None,
            approvals: Vec::new(),
        }
    }

    #[test]
    fn index_round_trips_with_private_modes() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("home");
        ensure_private_dir(&dir).unwrap();
        let p = dir.join("accounts.json");
        let mut idx = Index::default();
        idx.accounts.push(entry("a1"));
        store(&p, &idx).unwrap();
        assert_eq!(load(&p).unwrap().index, idx);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
    }

    /// Readers never stop a writer: on Windows a reader holding the file made the writer's
    /// replace fail with "Access denied" (CI, the Wine suite's four parallel `token`
    /// processes). Each reader here reads every millisecond, as often as processes can start.
    /// Runs on every platform; `./dev.sh test` runs it under Wine, whose rename has the old
    /// Windows semantics (no replacing a file that is open), so there the retry is what passes.
    #[test]
    fn writes_replace_the_index_while_other_threads_read_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("accounts.json");
        let mut idx = Index::default();
        idx.accounts.push(entry("a1"));
        store(&p, &idx).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (p, done) = (p.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut reads = 0u32;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let loaded = load(&p).expect("a reader always sees a whole index");
                        assert!(loaded.set_aside.is_none(), "never a half-written file");
                        reads += 1;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    reads
                })
            })
            .collect();
        for n in 0..50 {
            idx.accounts[0].updated = n;
            store(&p, &idx).expect("a write never fails because someone reads");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads: u32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(reads > 0);
        assert_eq!(load(&p).unwrap().index.accounts[0].updated, 49);
    }

    #[test]
    fn damaged_index_is_kept_aside_not_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("accounts.json");
        fs::write(&p, b"{\"schema\":1,\"accounts\":[{\"id\":").unwrap();
        let loaded = load(&p).unwrap();
        let aside = loaded.set_aside.expect("set aside");
        assert!(loaded.index.accounts.is_empty());
        assert_eq!(
            fs::read(&aside).unwrap(),
            b"{\"schema\":1,\"accounts\":[{\"id\":"
        );
        assert!(!p.exists());
    }

    #[test]
    fn newer_schema_is_refused_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("accounts.json");
        fs::write(&p, b"{\"schema\":99,\"accounts\":[],\"future\":true}").unwrap();
        let err = load(&p).err().expect("must refuse");
        assert_eq!(err.code(), "index_newer_schema");
        assert_eq!(
            fs::read(&p).unwrap(),
            b"{\"schema\":99,\"accounts\":[],\"future\":true}"
        );
        // A newer file whose fields don't fit today's types is refused too, not set aside.
        let reshaped = b"{\"schema\":7,\"accounts\":{\"by-id\":{}}}";
        fs::write(&p, reshaped).unwrap();
        assert_eq!(
            load(&p).err().expect("refused").code(),
            "index_newer_schema"
        );
        assert_eq!(fs::read(&p).unwrap(), reshaped);
        assert!(
            fs::read_dir(d.path()).unwrap().count() == 1,
            "nothing set aside"
        );
    }
}
