//! The vault: secrets in the OS credential store, the account index on disk, and the
//! per-account lock that keeps two processes from refreshing one account at once.

mod backend;
mod chunks;
mod error;
pub mod index;
mod lock;
mod policy;
mod record;
#[cfg(target_os = "linux")]
mod secret_service;
pub mod store;

use crate::secret::Secret;
pub use error::VaultError;
use index::{AccountEntry, Index, IndexError, IndexLock};
pub use lock::{AccountFileLock, AccountLock};
pub use record::TokenRecord;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Backend, StoreError, Worker};

/// Key of an account's token record in the credential store.
pub fn account_key(id: &str) -> String {
    format!("account:{id}")
}

/// Key of a user-entered client secret: it belongs to one client of one provider, so two
/// clients (a sign-in client and a machine account's, or two data folders' providers of the
/// same id) never read each other's secret.
pub fn client_secret_key(provider: &str, client_id: &str) -> String {
    format!("client-secret:{provider}:{client_id}")
}

/// Where versions before 0.1 kept a provider's client secret (one per provider); read as a
/// fallback for the provider's own client.
pub fn legacy_client_secret_key(provider: &str) -> String {
    format!("client-secret:{provider}")
}

/// Key of a pending sign-in transaction (holds the PKCE verifier).
pub fn pending_key(handle: &str) -> String {
    format!("pending:{handle}")
}

/// An index update waiting for the next batched write, and where its outcome goes.
type IndexJob = (
    Box<dyn FnOnce(&mut Index) + Send>,
    std::sync::mpsc::Sender<Result<(), VaultError>>,
);

/// The vault. Cheap to share behind an `Arc`.
pub struct Vault {
    dir: PathBuf,
    worker: Worker,
    account_mutexes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    index_queue: Mutex<Vec<IndexJob>>,
    index_writer: Mutex<()>,
    index_writes: std::sync::atomic::AtomicU64,
}

impl Vault {
    /// Opens the vault in the data dir with the OS credential store.
    pub fn open() -> Result<Self, VaultError> {
        let dir = crate::paths::data_dir().ok_or(VaultError::NoDataDir)?;
        let backend = store::KeyringBackend::new()?;
        Self::open_with(&dir, Box::new(backend), store::DEFAULT_TIMEOUT)
    }

    /// Opens the vault in `dir` with any backend (tests use a fake).
    pub fn open_with(
        dir: &Path,
        backend: Box<dyn Backend>,
        timeout: Duration,
    ) -> Result<Self, VaultError> {
        index::ensure_private_dir(dir)?;
        Ok(Vault {
            dir: dir.to_path_buf(),
            worker: Worker::spawn(backend, timeout),
            account_mutexes: Mutex::new(HashMap::new()),
            index_queue: Mutex::new(Vec::new()),
            index_writer: Mutex::new(()),
            index_writes: Default::default(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where secrets are kept, in words ("GNOME Keyring via Secret Service").
    pub fn store_description(&self) -> &str {
        self.worker.describe()
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("accounts.json")
    }

    /// Reads the index. A damaged file is set aside (logged) and an empty index returned.
    pub fn index(&self) -> Result<Index, VaultError> {
        Ok(self.load_index()?.index)
    }

    /// Reads the index and reports whether a damaged file was just set aside.
    pub fn load_index(&self) -> Result<index::Loaded, VaultError> {
        Ok(index::load(&self.index_path())?)
    }

    /// Read-modify-write of the index under the cross-process index lock.
    pub fn update_index<R>(&self, f: impl FnOnce(&mut Index) -> R) -> Result<R, VaultError> {
        let _lock = IndexLock::acquire(&self.dir)?;
        let mut idx = index::load(&self.index_path())?.index;
        let r = f(&mut idx);
        index::store(&self.index_path(), &idx)?;
        self.index_writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(r)
    }

    /// [`Vault::update_index`] for updates that return nothing. Updates that other threads
    /// queue while a write is under way go into the next write together: one read and one
    /// write of the file for all of them. `refresh --all` and the app's "Refresh all" would
    /// otherwise rewrite the whole index once per account. Returns when this update is on disk.
    pub fn update_index_batched(
        &self,
        f: impl FnOnce(&mut Index) + Send + 'static,
    ) -> Result<(), VaultError> {
        let (tx, rx) = std::sync::mpsc::channel();
        // A panicking update poisons nothing that matters: the queue and the writer token
        // stay usable.
        self.index_queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Box::new(f), tx));
        {
            let _writer = self.index_writer.lock().unwrap_or_else(|p| p.into_inner());
            let jobs =
                std::mem::take(&mut *self.index_queue.lock().unwrap_or_else(|p| p.into_inner()));
            if !jobs.is_empty() {
                let (updates, waiting): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                tracing::debug!(updates = updates.len(), "one index write for a batch");
                let outcome = self.update_index(|idx| updates.into_iter().for_each(|u| u(idx)));
                for w in waiting {
                    let _ = w.send(outcome.as_ref().map(|_| ()).map_err(error::duplicate));
                }
            }
        }
        // Ours was in this batch or in one an earlier thread wrote while we waited.
        rx.recv().unwrap_or(Err(VaultError::Index(IndexError::Io {
            action: "update",
            path: self.index_path(),
            source: std::io::Error::other("an index update failed in another thread"),
        })))
    }

    /// How many times this vault has written the index file (for tests and benchmarks).
    pub fn index_writes(&self) -> u64 {
        self.index_writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stores any secret under `key`, chunked when large.
    pub fn put_secret(&self, key: &str, value: &Secret) -> Result<(), VaultError> {
        let key = key.to_string();
        let value = value.clone();
        Ok(self
            .worker
            .call(move |b| store::put(b, &key, &value, store::CHUNK_LIMIT))?)
    }

    /// Reads a secret stored with [`Vault::put_secret`].
    pub fn get_secret(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        let key = key.to_string();
        Ok(self.worker.call(move |b| store::get(b, &key))?)
    }

    /// Deletes a secret and its chunks.
    pub fn delete_secret(&self, key: &str) -> Result<bool, VaultError> {
        let key = key.to_string();
        Ok(self.worker.call(move |b| store::remove(b, &key))?)
    }

    /// Reads an account's token record.
    pub fn read_record(&self, id: &str) -> Result<Option<TokenRecord>, VaultError> {
        match self.get_secret(&account_key(id))? {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw.expose())
                .map(Some)
                .map_err(|_| VaultError::BadRecord),
        }
    }

    /// Saves an account's token record (both tokens at once).
    pub fn write_record(&self, id: &str, rec: &TokenRecord) -> Result<(), VaultError> {
        let json = Secret::new(serde_json::to_string(rec).map_err(|_| VaultError::BadRecord)?);
        self.put_secret(&account_key(id), &json)
    }

    /// Saves an account's record while its lock `lock` is held, and hands the lock back.
    ///
    /// S14: when the store answers too late, the timeout error comes back now, but the lock
    /// moves to a thread that keeps it until the queued write has finished or failed. Until
    /// then no other thread or process can take the account and read the old refresh token.
    pub fn write_record_holding<L: Send + 'static>(
        &self,
        id: &str,
        rec: &TokenRecord,
        lock: L,
    ) -> Result<L, VaultError> {
        let key = account_key(id);
        let json = Secret::new(serde_json::to_string(rec).map_err(|_| VaultError::BadRecord)?);
        let settled = self
            .worker
            .submit(move |b| store::put(b, &key, &json, store::CHUNK_LIMIT))?;
        match settled.recv_timeout(self.worker.timeout()) {
            Ok(r) => r.map(|()| lock).map_err(VaultError::from),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!("the credential store is slow; the account stays locked until the write settles");
                let spawned = std::thread::Builder::new()
                    .name("latchkey-settle".into())
                    .spawn(move || {
                        let _ = settled.recv();
                        drop(lock);
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "no thread to wait for the credential store in; the account lock was released");
                }
                Err(self.worker.timed_out().into())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Other.into()),
        }
    }

    /// Saves a new or signed-in-again account while its lock is held: the secret first, then
    /// the index entry, so the index never lists an account whose secret was not stored.
    pub fn add_account_holding<L: Send + 'static>(
        &self,
        entry: AccountEntry,
        rec: &TokenRecord,
        lock: L,
    ) -> Result<(), VaultError> {
        let lock = self.write_record_holding(&entry.id, rec, lock)?;
        let r = self.update_index(|idx| {
            idx.accounts.retain(|a| a.id != entry.id);
            idx.accounts.push(entry);
        });
        drop(lock);
        r
    }

    /// Saves a new account without a lock of the caller's (tests and tools).
    pub fn add_account(&self, entry: AccountEntry, rec: &TokenRecord) -> Result<(), VaultError> {
        self.add_account_holding(entry, rec, ())
    }

    /// Deletes every entry an account owns (record and chunks), then its index entry.
    pub fn remove_account(&self, id: &str) -> Result<(), VaultError> {
        self.delete_secret(&account_key(id))?;
        self.update_index(|idx| {
            idx.accounts.retain(|a| a.id != id);
            if idx.default_account.as_deref() == Some(id) {
                idx.default_account = None;
            }
        })
    }

    /// Accounts listed in the index whose secret is missing (they show as "needs sign-in").
    /// Deletes nothing.
    pub fn repair_report(&self) -> Result<Vec<String>, VaultError> {
        let idx = self.index()?;
        let mut orphans = Vec::new();
        for a in &idx.accounts {
            if self.get_secret(&account_key(&a.id))?.is_none() {
                orphans.push(a.id.clone());
            }
        }
        Ok(orphans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunks::fake::FakeBackend;
    use index::{AccountKind, AccountStatus};

    pub(super) fn vault(dir: &Path) -> (Vault, FakeBackend) {
        let fake = FakeBackend {
            max_len: Some(store::CHUNK_LIMIT),
            ..Default::default()
        };
        (
            Vault::open_with(dir, Box::new(fake.clone()), Duration::from_secs(2)).unwrap(),
            fake,
        )
    }

    fn rec(token: &str) -> TokenRecord {
        TokenRecord {
            access_token: Secret::new(token),
            refresh_token: Some(Secret::new(format!("{token}-refresh"))),
            expires_at: Some(crate::clock::now() + 3600),
            token_type: "Bearer".into(),
            scopes: vec!["openid".into()],
            issued_at: crate::clock::now(),
            id_token: None,
            dpop_key: None,
        }
    }

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

    /// S18/S19: the token lives only in the store; the index file never holds it.
    #[test]
    fn canary_token_never_reaches_the_index_s18() {
        let d = tempfile::tempdir().unwrap();
        let (v, fake) = vault(d.path());
        v.add_account(entry("a1"), &rec("CANARY-7f3a9")).unwrap();
        let on_disk = std::fs::read_to_string(d.path().join("accounts.json")).unwrap();
        assert!(!on_disk.contains("CANARY-7f3a9"));
        assert!(fake
            .items
            .lock()
            .unwrap()
            .values()
            .any(|v| v.contains("CANARY-7f3a9")));
        assert_eq!(
            v.read_record("a1").unwrap().unwrap().access_token.expose(),
            "CANARY-7f3a9"
        );
        assert!(!format!("{:?}", v.read_record("a1").unwrap()).contains("CANARY"));
    }

    #[test]
    fn removing_an_account_deletes_record_chunks_and_index_entry() {
        let d = tempfile::tempdir().unwrap();
        let (v, fake) = vault(d.path());
        let mut big = rec("x");
        big.id_token = Some(Secret::new("j".repeat(6000)));
        v.add_account(entry("a1"), &big).unwrap();
        v.add_account(entry("a2"), &rec("y")).unwrap();
        assert!(fake.items.lock().unwrap().len() > 3);
        v.remove_account("a1").unwrap();
        let keys: Vec<_> = fake.items.lock().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["account:a2".to_string()]);
        assert_eq!(v.index().unwrap().accounts.len(), 1);
    }

    #[test]
    fn repair_lists_orphans_without_deleting() {
        let d = tempfile::tempdir().unwrap();
        let (v, fake) = vault(d.path());
        v.add_account(entry("a1"), &rec("t1")).unwrap();
        v.add_account(entry("a2"), &rec("t2")).unwrap();
        fake.items.lock().unwrap().remove("account:a2");
        assert_eq!(v.repair_report().unwrap(), vec!["a2".to_string()]);
        assert_eq!(v.index().unwrap().accounts.len(), 2);
    }

    #[test]
    fn store_failure_is_a_clear_error_and_index_is_untouched() {
        let d = tempfile::tempdir().unwrap();
        let (v, fake) = vault(d.path());
        *fake.error.lock().unwrap() = Some(StoreError::Locked);
        let e = v.add_account(entry("a1"), &rec("t")).unwrap_err();
        assert_eq!(e.code(), "keyring_locked");
        assert!(e.fix().contains("Unlock"));
        assert!(v.index().unwrap().accounts.is_empty());
    }

    /// S14: a keyring write that answers too late keeps the account locked until it settles,
    /// so no one reads the old refresh token in between.
    #[test]
    fn a_slow_write_keeps_the_account_locked_until_it_settles_s14() {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeBackend {
            delay: Some(Duration::from_millis(700)),
            ..Default::default()
        };
        let items = fake.items.clone();
        let v = Vault::open_with(dir.path(), Box::new(fake), Duration::from_millis(100)).unwrap();
        let lock = v
            .lock_account_blocking("a1", Duration::from_millis(100))
            .unwrap();
        let started = std::time::Instant::now();
        let e = v
            .write_record_holding("a1", &rec("rotated"), lock)
            .unwrap_err();
        assert_eq!(e.code(), "store_timeout");
        assert!(started.elapsed() < Duration::from_millis(600));
        // Another holder (a second flock, as another process would take) must wait.
        assert!(matches!(
            v.lock_account_blocking("a1", Duration::from_millis(150)),
            Err(VaultError::LockTimeout)
        ));
        let again = v
            .lock_account_blocking("a1", Duration::from_secs(5))
            .expect("released once the write settled");
        assert!(started.elapsed() >= Duration::from_millis(650));
        let stored = items.lock().unwrap().get("account:a1").cloned().unwrap();
        assert!(stored.contains("rotated"), "the write had finished");
        drop(again);
    }

    #[test]
    fn batched_index_updates_queued_during_a_write_share_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let (v, _) = vault(dir.path());
        let v = Arc::new(v);
        v.update_index(|idx| idx.settings.tray_hint_shown = false)
            .unwrap();
        let before = v.index_writes();
        // Hold the writer token, as a write in progress would, while five threads queue.
        let writing = v.index_writer.lock().unwrap();
        let threads: Vec<_> = (0..5)
            .map(|i| {
                let v = v.clone();
                std::thread::spawn(move || {
                    v.update_index_batched(move |idx| idx.accounts.push(entry(&format!("b{i}"))))
                })
            })
            .collect();
        while v.index_queue.lock().unwrap().len() < 5 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(writing);
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(v.index_writes() - before, 1, "one write for the batch");
        let idx = v.index().unwrap();
        for i in 0..5 {
            assert!(idx.account(&format!("b{i}")).is_some(), "b{i} applied");
        }
        // Alone, an update is written at once.
        v.update_index_batched(|idx| idx.accounts.retain(|a| a.id != "b0"))
            .unwrap();
        assert_eq!(v.index_writes() - before, 2);
        assert!(v.index().unwrap().account("b0").is_none());
    }
}
