//! The per-account lock: an async mutex inside the process, then an exclusive `flock` on
//! `locks/<id>.lock` across processes, so the app and scripts never refresh one account at once.

use super::index::{self, IndexError};
use super::{Vault, VaultError};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Vault {
    /// Removes the lock file of something that no longer exists (a used sign-in), while its
    /// lock is held. A process already waiting on it finds nothing left to do.
    pub fn forget_lock_file(&self, id: &str) {
        let _ = std::fs::remove_file(lock_path(&self.dir, id));
    }

    /// Takes the account's lock across threads and processes (blocking).
    pub fn lock_account_blocking(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<AccountFileLock, VaultError> {
        AccountFileLock::acquire(&self.dir, id, wait)
    }

    /// Takes the account's lock: an async mutex within the process, then the file lock.
    pub async fn lock_account(
        self: &Arc<Self>,
        id: &str,
        wait: Duration,
    ) -> Result<AccountLock, VaultError> {
        let m = {
            let mut map = self
                .account_mutexes
                .lock()
                .map_err(|_| VaultError::LockTimeout)?;
            map.entry(id.to_string()).or_default().clone()
        };
        let guard = tokio::time::timeout(wait, m.lock_owned())
            .await
            .map_err(|_| VaultError::LockTimeout)?;
        let dir = self.dir.clone();
        let id = id.to_string();
        let file = tokio::task::spawn_blocking(move || AccountFileLock::acquire(&dir, &id, wait))
            .await
            .map_err(|_| VaultError::LockTimeout)??;
        Ok(AccountLock {
            _file: file,
            _guard: guard,
        })
    }
}

/// The cross-process half of an account lock: an exclusive `flock` on `locks/<id>.lock`.
#[derive(Debug)]
pub struct AccountFileLock {
    _file: File,
}

fn lock_path(dir: &Path, id: &str) -> PathBuf {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join("locks").join(format!("{safe}.lock"))
}

impl AccountFileLock {
    fn acquire(dir: &Path, id: &str, wait: Duration) -> Result<Self, VaultError> {
        let locks = dir.join("locks");
        index::ensure_private_dir(&locks)?;
        let p = lock_path(dir, id);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|source| IndexError::Io {
                action: "open",
                path: p.clone(),
                source,
            })?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(AccountFileLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(VaultError::LockTimeout),
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(IndexError::Io {
                        action: "lock",
                        path: p,
                        source,
                    }
                    .into())
                }
            }
        }
    }
}

/// Both halves of an account lock; released on drop.
pub struct AccountLock {
    _file: AccountFileLock,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::vault;
    use super::*;

    #[test]
    fn account_file_lock_excludes_a_second_holder() {
        let d = tempfile::tempdir().unwrap();
        let (v, _) = vault(d.path());
        let held = v
            .lock_account_blocking("a1", Duration::from_secs(1))
            .unwrap();
        let again = v.lock_account_blocking("a1", Duration::from_millis(100));
        assert!(matches!(again, Err(VaultError::LockTimeout)));
        assert!(v
            .lock_account_blocking("a2", Duration::from_millis(100))
            .is_ok());
        drop(held);
        assert!(v
            .lock_account_blocking("a1", Duration::from_millis(100))
            .is_ok());
    }

    #[tokio::test]
    async fn async_lock_serializes_tasks_in_one_process() {
        let d = tempfile::tempdir().unwrap();
        let (v, _) = vault(d.path());
        let v = Arc::new(v);
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max_seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (v, c, m) = (v.clone(), counter.clone(), max_seen.clone());
            tasks.push(tokio::spawn(async move {
                let _l = v.lock_account("a1", Duration::from_secs(10)).await.unwrap();
                let now = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                m.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                c.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max_seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
