//! The credential store: the OS keyring backend and one serialized worker with a timeout. The
//! shared names (`backend`) and chunking (`chunks`) are re-exported here for callers.

pub use super::backend::{Backend, StoreError, SERVICE};
pub use super::chunks::{get, put, remove, CHUNK_LIMIT};
use crate::secret::Secret;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// Default time one credential-store call may take before we give up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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

    #[cfg(target_os = "macos")]
    fn entry(key: &str) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(SERVICE, key).map_err(classify)
    }

    /// A generic credential named so that a person browsing Credential Manager knows what it
    /// is: the target `Latchkey: account:<id>` (chunks `…#<slot>.<n>`), the key as the user
    /// name, and a comment saying how to remove it properly.
    #[cfg(windows)]
    fn entry(key: &str) -> Result<keyring::Entry, StoreError> {
        let cred = windows_credential(key);
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    }
}

/// The Windows credential for a vault key (see `KeyringBackend::entry`).
#[cfg(windows)]
pub fn windows_credential(key: &str) -> keyring::windows::WinCredential {
    keyring::windows::WinCredential {
        username: key.to_string(),
        target_name: windows_target(key),
        target_alias: String::new(),
        comment: "Kept by Latchkey for your sign-ins. Remove accounts in Latchkey (or with latchkey logout) rather than here, so that the provider revokes them too.".into(),
    }
}

/// The Credential Manager target name of a vault key.
pub fn windows_target(key: &str) -> String {
    format!("Latchkey: {key}")
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

    fn diagnoser(&self) -> fn(StoreError) -> StoreError {
        super::secret_service::diagnose
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
    diagnose: fn(StoreError) -> StoreError,
}

impl Worker {
    /// Moves the backend onto its own thread.
    pub fn spawn(backend: Box<dyn Backend>, timeout: Duration) -> Self {
        let description = backend.describe();
        let diagnose = backend.diagnoser();
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
            diagnose,
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
        let answer = match self.submit(f)?.recv_timeout(self.timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(self.timed_out()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Other),
        };
        answer.map_err(self.diagnose)
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

#[cfg(test)]
mod tests {
    use super::super::chunks::fake::FakeBackend;
    use super::*;

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
}
