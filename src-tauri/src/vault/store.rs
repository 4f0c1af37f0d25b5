//! The credential store: a small backend trait, the OS keyring backend, one serialized worker
//! with a timeout, and chunking for records larger than the smallest platform limit.

use crate::secret::Secret;
use sha2::{Digest, Sha256};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// The keyring service name every Latchkey entry uses.
pub const SERVICE: &str = "latchkey";

/// Windows Credential Manager's blob limit is 2,560 bytes of UTF-16, i.e. 1,280 ASCII
/// characters; every platform chunks at that size so one code path is tested everywhere.
pub const CHUNK_LIMIT: usize = 1280;

/// Default time one credential-store call may take before we give up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A credential-store failure, already classified into something a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No Secret Service / Keychain / Credential Manager could be reached.
    #[error("no credential store is running")]
    Unavailable,
    /// The store is there but locked.
    #[error("the keyring is locked")]
    Locked,
    /// The store did not answer in time.
    #[error("the credential store did not answer within {0} s")]
    Timeout(u64),
    /// A value exceeded the store's size limit even after chunking.
    #[error("the record is too large for the credential store")]
    TooLarge,
    /// The store refused access.
    #[error("the credential store denied access")]
    PermissionDenied,
    /// A stored value failed its length or checksum check.
    #[error("a stored record is damaged ({0})")]
    Corrupt(&'static str),
    /// The backend forgets items (a mock, or a session-only store).
    #[error("the credential store does not keep items after a restart")]
    NotPersistent,
    /// Anything else; the detail is logged, never shown.
    #[error("the credential store failed")]
    Other,
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable => "store_unavailable",
            StoreError::Locked => "keyring_locked",
            StoreError::Timeout(_) => "store_timeout",
            StoreError::TooLarge => "record_too_large",
            StoreError::PermissionDenied => "store_permission_denied",
            StoreError::Corrupt(_) => "record_corrupt",
            StoreError::NotPersistent => "store_not_persistent",
            StoreError::Other => "store_failure",
        }
    }

    /// What the person can do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            StoreError::Unavailable => "Start your desktop's keyring (GNOME Keyring or KWallet) and log in to a desktop session; on a headless machine run Latchkey inside `dbus-run-session` with gnome-keyring-daemon started.",
            StoreError::Locked => "Unlock your keyring (for example with the \"Passwords and Keys\" app, or `gnome-keyring-daemon --unlock`), then try again.",
            StoreError::Timeout(_) => "Your keyring may be waiting for a password prompt. Answer it or unlock the keyring, then try again.",
            StoreError::TooLarge => "This provider's tokens are unusually large. Report it to the Latchkey maintainers.",
            StoreError::PermissionDenied => "Allow Latchkey to use your keychain when your system asks, then try again.",
            StoreError::Corrupt(_) => "Sign in to this account again; Latchkey will replace the damaged record.",
            StoreError::NotPersistent => "Install and start a persistent credential store such as GNOME Keyring (package gnome-keyring).",
            StoreError::Other => "Try again. If it keeps failing, run with LATCHKEY_LOG=debug and report the log.",
        }
    }
}

/// A backend: one string value per key. Implementations are synchronous and may block.
pub trait Backend: Send {
    /// Reads a value; `Ok(None)` when there is no entry.
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError>;
    /// Creates or replaces a value.
    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError>;
    /// Deletes a value; `Ok(false)` when there was none.
    fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Human name of where secrets go, e.g. "GNOME Keyring via Secret Service".
    fn describe(&self) -> String;
}

/// The OS credential store: `keyring` v3 on macOS and Windows; on Linux one reused Secret
/// Service connection (see `vault::secret_service` for why not keyring's per-call one).
pub struct KeyringBackend {
    description: String,
    #[cfg(target_os = "linux")]
    session: super::secret_service::Session,
}

impl KeyringBackend {
    /// Selects the platform store and refuses one that does not persist until deleted.
    pub fn new() -> Result<Self, StoreError> {
        // On Linux we talk to Secret Service directly, never through keyring's keyutils
        // cache: the cache is per login session, so a GUI and a terminal could read different
        // generations of a rotated refresh token, and replaying an old one kills the grant.
        #[cfg(not(target_os = "linux"))]
        if !matches!(
            keyring::default::default_credential_builder().persistence(),
            keyring::credential::CredentialPersistence::UntilDelete
        ) {
            return Err(StoreError::NotPersistent);
        }
        Ok(KeyringBackend {
            description: platform_description(),
            #[cfg(target_os = "linux")]
            session: Default::default(),
        })
    }

    /// How many store connections this backend has opened (Linux; 0 elsewhere, where the
    /// platform API has no connection to keep).
    pub fn connections_opened(&self) -> u64 {
        #[cfg(target_os = "linux")]
        return self.session.connections_opened();
        #[cfg(not(target_os = "linux"))]
        0
    }

    #[cfg(not(target_os = "linux"))]
    fn entry(key: &str) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(SERVICE, key).map_err(classify)
    }
}

fn platform_description() -> String {
    if cfg!(target_os = "macos") {
        "macOS Keychain".into()
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager".into()
    } else {
        let desktop = std::env::var("XDG_CURRENT_DESKTOP")
            .unwrap_or_default()
            .to_lowercase();
        if desktop.contains("kde") {
            "KWallet via Secret Service".into()
        } else {
            "GNOME Keyring via Secret Service".into()
        }
    }
}

#[cfg(target_os = "linux")]
impl Backend for KeyringBackend {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        self.session.get(key)
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        self.session.set(key, value)
    }

    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.session.delete(key)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(not(target_os = "linux"))]
impl Backend for KeyringBackend {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        match Self::entry(key)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        Self::entry(key)?
            .set_password(value.expose())
            .map_err(classify)
    }

    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        match Self::entry(key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// Turns a keyring error (macOS, Windows) into a stable class. The platform text is logged at debug level
/// (it names D-Bus objects, never secrets) and never shown to the person.
#[cfg(not(target_os = "linux"))]
pub fn classify(e: keyring::Error) -> StoreError {
    let detail = e.to_string();
    tracing::debug!(error = %detail, "credential store error");
    let lower = detail.to_lowercase();
    match e {
        keyring::Error::NoStorageAccess(_) => {
            if lower.contains("denied") || lower.contains("not authorized") {
                StoreError::PermissionDenied
            } else {
                StoreError::Locked
            }
        }
        keyring::Error::TooLong(..) => StoreError::TooLarge,
        keyring::Error::BadEncoding(_) => StoreError::Corrupt("not text"),
        keyring::Error::PlatformFailure(_) => {
            if lower.contains("dbus")
                || lower.contains("d-bus")
                || lower.contains("serviceunknown")
                || lower.contains("org.freedesktop.secrets")
                || lower.contains("no such")
                || lower.contains("connection")
            {
                StoreError::Unavailable
            } else if lower.contains("denied") {
                StoreError::PermissionDenied
            } else if lower.contains("locked") || lower.contains("prompt") {
                StoreError::Locked
            } else {
                StoreError::Other
            }
        }
        _ => StoreError::Other,
    }
}

type Job = Box<dyn FnOnce(&dyn Backend) + Send>;

/// Serializes every backend call on one thread and bounds each call with a timeout.
///
/// keyring's docs warn that concurrent access to one credential can fail on some platforms,
/// and a hung D-Bus call must never hang the UI or a script.
pub struct Worker {
    tx: Mutex<mpsc::Sender<Job>>,
    timeout: Duration,
    description: String,
}

impl Worker {
    /// Moves the backend onto its own thread.
    pub fn spawn(backend: Box<dyn Backend>, timeout: Duration) -> Self {
        let description = backend.describe();
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("latchkey-store".into())
            .spawn(move || {
                for job in rx {
                    // A panicking backend must not take the worker down with it.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&*backend)));
                }
            })
            .map(|_| ())
            .unwrap_or_else(
                |e| tracing::error!(error = %e, "could not start the credential-store thread"),
            );
        Worker {
            tx: Mutex::new(tx),
            timeout,
            description,
        }
    }

    /// Where secrets are kept, in words.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Runs `f` on the worker thread and waits at most the timeout for its answer.
    pub fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Backend) -> Result<R, StoreError> + Send + 'static,
    {
        match self.submit(f)?.recv_timeout(self.timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(self.timed_out()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Other),
        }
    }

    /// Queues `f` on the worker thread; its answer arrives on the returned channel whenever
    /// the store gives it (a caller that must know when a write has settled waits there).
    pub fn submit<R, F>(&self, f: F) -> Result<mpsc::Receiver<Result<R, StoreError>>, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Backend) -> Result<R, StoreError> + Send + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |b| {
            let _ = rtx.send(f(b));
        });
        let tx = self.tx.lock().map_err(|_| StoreError::Other)?;
        tx.send(job).map_err(|_| StoreError::Other)?;
        Ok(rrx)
    }

    /// How long a caller waits for an answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The error for an answer that did not come in time.
    pub fn timed_out(&self) -> StoreError {
        StoreError::Timeout(self.timeout.as_secs().max(1))
    }
}

// ---- chunking -------------------------------------------------------------------------------
//
// A value up to CHUNK_LIMIT is stored as `lk1:<value>`. A larger one goes into chunk entries
// `<key>#<slot>.<n>` first, and only then is the header `lk1c:<slot>:<count>:<len>:<sha256>`
// written. Two slots alternate, so a crash before the header leaves the previous record intact.

const INLINE: &str = "lk1:";
const CHUNKED: &str = "lk1c:";

struct Header {
    slot: u8,
    count: usize,
    len: usize,
    sha: String,
}

fn parse_header(v: &str) -> Option<Header> {
    let rest = v.strip_prefix(CHUNKED)?;
    let mut it = rest.split(':');
    let h = Header {
        slot: it.next()?.parse().ok()?,
        count: it.next()?.parse().ok()?,
        len: it.next()?.parse().ok()?,
        sha: it.next()?.to_string(),
    };
    (it.next().is_none() && h.slot < 2).then_some(h)
}

fn chunk_key(key: &str, slot: u8, n: usize) -> String {
    format!("{key}#{slot}.{n}")
}

fn sha_hex(data: &str) -> String {
    let d = Sha256::digest(data.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn split_chunks(value: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut cut = rest.len().min(limit);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    out
}

/// Deletes `<key>#<slot>.<n>` from `from` upward until one is missing.
fn sweep(b: &dyn Backend, key: &str, slot: u8, from: usize) -> Result<(), StoreError> {
    let mut n = from;
    while b.delete(&chunk_key(key, slot, n))? {
        n += 1;
    }
    Ok(())
}

/// Stores a value of any size under `key`.
pub fn put(b: &dyn Backend, key: &str, value: &Secret, limit: usize) -> Result<(), StoreError> {
    let old = b.get(key)?;
    let old_header = old.as_ref().and_then(|v| parse_header(v.expose()));
    let raw = value.expose();
    if raw.len() + INLINE.len() <= limit {
        b.set(key, &Secret::new(format!("{INLINE}{raw}")))?;
        if let Some(h) = old_header {
            sweep(b, key, h.slot, 0)?;
        }
        return Ok(());
    }
    let slot = old_header.as_ref().map_or(0, |h| 1 - h.slot);
    let pieces = split_chunks(raw, limit);
    for (n, piece) in pieces.iter().enumerate() {
        b.set(&chunk_key(key, slot, n), &Secret::new(*piece))?;
    }
    // Leftovers from an earlier crashed write into this slot.
    sweep(b, key, slot, pieces.len())?;
    let header = format!(
        "{CHUNKED}{slot}:{}:{}:{}",
        pieces.len(),
        raw.len(),
        sha_hex(raw)
    );
    b.set(key, &Secret::new(header))?;
    if let Some(h) = old_header {
        sweep(b, key, h.slot, 0)?;
    }
    Ok(())
}

/// Reads a value stored by [`put`], verifying chunk count, length and checksum.
pub fn get(b: &dyn Backend, key: &str) -> Result<Option<Secret>, StoreError> {
    let Some(v) = b.get(key)? else {
        return Ok(None);
    };
    let v = v.expose();
    if let Some(inline) = v.strip_prefix(INLINE) {
        return Ok(Some(Secret::new(inline)));
    }
    let h = parse_header(v).ok_or(StoreError::Corrupt("unknown format"))?;
    let mut out = String::with_capacity(h.len);
    for n in 0..h.count {
        let piece = b
            .get(&chunk_key(key, h.slot, n))?
            .ok_or(StoreError::Corrupt("missing chunk"))?;
        out.push_str(piece.expose());
    }
    if out.len() != h.len {
        return Err(StoreError::Corrupt("truncated"));
    }
    if sha_hex(&out) != h.sha {
        return Err(StoreError::Corrupt("checksum mismatch"));
    }
    Ok(Some(Secret::new(out)))
}

/// Deletes a value and every chunk it owns; `Ok(false)` when there was nothing.
pub fn remove(b: &dyn Backend, key: &str) -> Result<bool, StoreError> {
    let old = b.get(key)?;
    if let Some(h) = old.as_ref().and_then(|v| parse_header(v.expose())) {
        sweep(b, key, h.slot, 0)?;
    }
    // Chunks of a crashed write may sit in either slot.
    sweep(b, key, 0, 0)?;
    sweep(b, key, 1, 0)?;
    Ok(b.delete(key)? || old.is_some())
}

#[cfg(test)]
pub mod fake {
    //! An in-memory backend with a size limit and failure injection, for unit tests only.
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// Shared state so a test can inspect what the worker thread wrote.
    #[derive(Clone, Default)]
    pub struct FakeBackend {
        pub items: Arc<Mutex<BTreeMap<String, String>>>,
        pub max_len: Option<usize>,
        pub fail_after_sets: Arc<Mutex<Option<usize>>>,
        pub error: Arc<Mutex<Option<StoreError>>>,
        pub delay: Option<Duration>,
    }

    impl Backend for FakeBackend {
        fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
            if let Some(d) = self.delay {
                std::thread::sleep(d);
            }
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            Ok(self
                .items
                .lock()
                .unwrap()
                .get(key)
                .cloned()
                .map(Secret::new))
        }
        fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            if self.max_len.is_some_and(|m| value.len() > m) {
                return Err(StoreError::TooLarge);
            }
            let mut budget = self.fail_after_sets.lock().unwrap();
            if let Some(n) = budget.as_mut() {
                if *n == 0 {
                    return Err(StoreError::Other);
                }
                *n -= 1;
            }
            self.items
                .lock()
                .unwrap()
                .insert(key.into(), value.expose().into());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<bool, StoreError> {
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            Ok(self.items.lock().unwrap().remove(key).is_some())
        }
        fn describe(&self) -> String {
            "test memory store".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeBackend;
    use super::*;

    fn limited() -> FakeBackend {
        FakeBackend {
            max_len: Some(CHUNK_LIMIT),
            ..Default::default()
        }
    }

    #[test]
    fn small_value_is_stored_inline() {
        let b = limited();
        put(&b, "account:a", &Secret::new("hello"), CHUNK_LIMIT).unwrap();
        assert_eq!(b.items.lock().unwrap().len(), 1);
        assert_eq!(get(&b, "account:a").unwrap().unwrap().expose(), "hello");
    }

    #[test]
    fn large_value_round_trips_through_size_limited_store() {
        let b = limited();
        let big: String = (0..8192)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        put(&b, "account:a", &Secret::new(big.clone()), CHUNK_LIMIT).unwrap();
        assert!(
            b.items.lock().unwrap().len() > 6,
            "8 KB must be split into chunks"
        );
        assert!(b
            .items
            .lock()
            .unwrap()
            .values()
            .all(|v| v.len() <= CHUNK_LIMIT));
        assert_eq!(get(&b, "account:a").unwrap().unwrap().expose(), big);
    }

    #[test]
    fn shrinking_a_record_sweeps_stale_chunks() {
        let b = limited();
        put(&b, "k", &Secret::new("x".repeat(6000)), CHUNK_LIMIT).unwrap();
        put(&b, "k", &Secret::new("y".repeat(3000)), CHUNK_LIMIT).unwrap();
        assert_eq!(b.items.lock().unwrap().len(), 1 + 3);
        put(&b, "k", &Secret::new("small"), CHUNK_LIMIT).unwrap();
        assert_eq!(b.items.lock().unwrap().len(), 1);
        assert_eq!(get(&b, "k").unwrap().unwrap().expose(), "small");
    }

    #[test]
    fn truncated_chunks_are_detected() {
        let b = limited();
        put(&b, "k", &Secret::new("z".repeat(4000)), CHUNK_LIMIT).unwrap();
        let last = b
            .items
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.contains('#'))
            .max()
            .cloned()
            .unwrap();
        b.items.lock().unwrap().insert(last.clone(), "z".into());
        assert_eq!(get(&b, "k").unwrap_err(), StoreError::Corrupt("truncated"));
        b.items.lock().unwrap().remove(&last);
        assert_eq!(
            get(&b, "k").unwrap_err(),
            StoreError::Corrupt("missing chunk")
        );
    }

    #[test]
    fn tampered_chunk_fails_checksum() {
        let b = limited();
        put(&b, "k", &Secret::new("q".repeat(4000)), CHUNK_LIMIT).unwrap();
        let first = b
            .items
            .lock()
            .unwrap()
            .keys()
            .find(|k| k.ends_with(".0"))
            .cloned()
            .unwrap();
        let tampered = format!("r{}", &"q".repeat(CHUNK_LIMIT)[1..]);
        b.items.lock().unwrap().insert(first, tampered);
        assert_eq!(
            get(&b, "k").unwrap_err(),
            StoreError::Corrupt("checksum mismatch")
        );
    }

    #[test]
    fn crash_before_header_keeps_previous_record() {
        let b = limited();
        let first = "a".repeat(5000);
        put(&b, "k", &Secret::new(first.clone()), CHUNK_LIMIT).unwrap();
        // Allow two chunk writes, then fail: the header is never rewritten.
        *b.fail_after_sets.lock().unwrap() = Some(2);
        assert!(put(&b, "k", &Secret::new("b".repeat(5000)), CHUNK_LIMIT).is_err());
        *b.fail_after_sets.lock().unwrap() = None;
        assert_eq!(get(&b, "k").unwrap().unwrap().expose(), first);
        // The next good write reuses the crashed slot and sweeps its leftovers.
        put(&b, "k", &Secret::new("c".repeat(2000)), CHUNK_LIMIT).unwrap();
        assert_eq!(get(&b, "k").unwrap().unwrap().expose(), "c".repeat(2000));
        assert_eq!(b.items.lock().unwrap().len(), 1 + 2);
    }

    #[test]
    fn remove_deletes_every_chunk() {
        let b = limited();
        put(&b, "k", &Secret::new("m".repeat(7000)), CHUNK_LIMIT).unwrap();
        put(&b, "other", &Secret::new("keep"), CHUNK_LIMIT).unwrap();
        assert!(remove(&b, "k").unwrap());
        let keys: Vec<_> = b.items.lock().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["other".to_string()]);
        assert!(!remove(&b, "k").unwrap());
    }

    #[test]
    fn worker_times_out_on_a_hanging_store() {
        let b = FakeBackend {
            delay: Some(Duration::from_millis(600)),
            ..Default::default()
        };
        let w = Worker::spawn(Box::new(b), Duration::from_millis(100));
        let started = std::time::Instant::now();
        let r = w.call(|b| b.get("x"));
        assert_eq!(r.unwrap_err().code(), "store_timeout");
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn worker_survives_a_panicking_job() {
        let w = Worker::spawn(Box::new(FakeBackend::default()), Duration::from_secs(2));
        let r: Result<(), StoreError> = w.call(|_| panic!("boom"));
        assert!(r.is_err());
        assert!(w.call(|b| b.get("x")).unwrap().is_none());
    }

    #[test]
    fn every_error_has_a_code_and_a_fix() {
        for e in [
            StoreError::Unavailable,
            StoreError::Locked,
            StoreError::Timeout(5),
            StoreError::TooLarge,
            StoreError::PermissionDenied,
            StoreError::Corrupt("x"),
            StoreError::NotPersistent,
            StoreError::Other,
        ] {
            assert!(!e.code().is_empty());
            assert!(e.fix().len() > 20);
            assert!(!e.to_string().to_lowercase().contains("dbus"));
        }
    }
}
