//! Linux: one Secret Service connection per process, kept open.
//!
//! keyring v3's Secret Service credential opens a new D-Bus connection and a new
//! Diffie-Hellman session for every call (two for a write). That made each `latchkey token`
//! pay for several key exchanges, and the connect-request-disconnect churn crashes
//! gnome-keyring-daemon under load (its `gkd_secret_service_get_pkcs11_session` race, seen
//! in our concurrency suite). Here the store worker owns one connection and one encrypted
//! session and reuses them; a lost connection (daemon restarted, bus gone) is dropped and
//! reopened once before an error is reported.
//!
//! Items are the ones keyring v3 writes and reads (attributes `target`=`default`,
//! `service`=`latchkey`, `username`=key), so entries stay readable by either.

use super::backend::{StoreError, SERVICE};
use crate::secret::Secret;
use dbus_secret_service::{EncryptionType, Error, Item, SecretService};
use std::cell::RefCell;
use std::collections::HashMap;

/// How long the keyring's own unlock prompt may stay up before it is dismissed. Callers give
/// up long before (the worker timeout); this bounds how long the worker thread is blocked.
const PROMPT_TIMEOUT_SECS: u64 = 60;

/// The attribute keyring v3 uses to pick a collection; `default` is the default collection.
const TARGET: &str = "default";

/// One lazily opened, reused connection. Lives on the store worker thread only.
#[derive(Default)]
pub struct Session {
    conn: RefCell<Option<SecretService>>,
    opened: std::cell::Cell<u64>,
}

fn search_attributes(key: &str) -> HashMap<&str, &str> {
    HashMap::from([("target", TARGET), ("service", SERVICE), ("username", key)])
}

/// Errors that mean "this connection or its session is gone", worth one reconnect.
fn connection_lost(e: &Error) -> bool {
    match e {
        Error::Unavailable => true,
        Error::Dbus(d) => matches!(
            d.name().unwrap_or_default(),
            "org.freedesktop.DBus.Error.Disconnected"
                | "org.freedesktop.DBus.Error.NoReply"
                | "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.UnknownObject"
                | "org.freedesktop.DBus.Error.UnknownMethod"
                | "org.freedesktop.Secret.Error.NoSession"
                | "org.freedesktop.Secret.Error.NoSuchObject"
        ),
        _ => false,
    }
}

/// A stable class for a Secret Service failure. The detail (D-Bus names and object paths,
/// never a secret) is logged at debug level only.
pub fn classify(e: &Error) -> StoreError {
    let detail = e.to_string();
    tracing::debug!(error = %detail, "secret service error");
    match e {
        Error::Locked | Error::Prompt => StoreError::Locked,
        Error::Unavailable => StoreError::Unavailable,
        Error::UnsupportedSecretFormat => StoreError::Corrupt("not text"),
        Error::Dbus(d) => {
            let name = d.name().unwrap_or_default();
            if name.ends_with(".IsLocked") {
                StoreError::Locked
            } else if name.ends_with(".AccessDenied") || name.ends_with(".AuthFailed") {
                StoreError::PermissionDenied
            } else if name.ends_with(".NoReply") || name.ends_with(".Timeout") {
                StoreError::Timeout(2)
            } else if name.starts_with("org.freedesktop.DBus.Error.") {
                // NoServer, FileNotFound, ServiceUnknown, Disconnected, …: nothing to talk to.
                StoreError::Unavailable
            } else {
                StoreError::Other
            }
        }
        _ => StoreError::Other,
    }
}

fn unlocked<'a>(item: &'a Item<'a>, locked: bool) -> Result<&'a Item<'a>, Error> {
    if locked {
        item.unlock()?;
    }
    Ok(item)
}

/// Looks at the session bus from outside the store worker to name a vague failure precisely
/// (issue 28): no bus at all, no Secret Service on it, or a locked default collection (with
/// its prompt waiting when the worker gave up). Each look is bounded by a 1 s timeout.
pub fn diagnose(e: StoreError) -> StoreError {
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    if !matches!(
        e,
        StoreError::Unavailable | StoreError::Timeout(_) | StoreError::Locked
    ) {
        return e;
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
        return StoreError::NoSessionBus;
    }
    let Ok(conn) = dbus::blocking::Connection::new_session() else {
        return StoreError::NoSessionBus;
    };
    let wait = std::time::Duration::from_secs(1);
    let bus = conn.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", wait);
    let owned: Result<(bool,), _> =
        bus.method_call("org.freedesktop.DBus", "NameHasOwner", (SECRETS,));
    let activatable: Result<(Vec<String>,), _> =
        bus.method_call("org.freedesktop.DBus", "ListActivatableNames", ());
    match (owned, activatable) {
        (Ok((false,)), Ok((names,))) if !names.iter().any(|n| n == SECRETS) => {
            return StoreError::NoSecretService
        }
        (Ok((true,)), _) => {}
        (Err(_), _) => return StoreError::NoSessionBus,
        // Not running but startable on demand: the failure was the started one's.
        _ => return e,
    }
    let service = conn.with_proxy(SECRETS, "/org/freedesktop/secrets", wait);
    let Ok((collection,)) = service.method_call::<(dbus::Path,), _, _, _>(
        "org.freedesktop.Secret.Service",
        "ReadAlias",
        ("default",),
    ) else {
        return e;
    };
    if &*collection == "/" {
        return e;
    }
    let locked: Result<bool, _> = conn
        .with_proxy(SECRETS, collection, wait)
        .get("org.freedesktop.Secret.Collection", "Locked");
    match (locked, &e) {
        (Ok(true), StoreError::Timeout(_)) => StoreError::PromptWaiting,
        (Ok(true), _) => StoreError::Locked,
        _ => e,
    }
}

/// The Secret Service's bus name.
const SECRETS: &str = "org.freedesktop.secrets";

impl Session {
    /// How many connections this session has opened (1 unless one was lost).
    pub fn connections_opened(&self) -> u64 {
        self.opened.get()
    }

    /// Runs `op` on the open connection, opening it first if needed. When a reused
    /// connection turns out to be gone, it is reopened and `op` runs once more; every
    /// operation here is safe to repeat (reads, replacing writes, deletes).
    fn with<T>(&self, op: impl Fn(&SecretService) -> Result<T, Error>) -> Result<T, StoreError> {
        let mut slot = self.conn.borrow_mut();
        let mut reused = slot.is_some();
        loop {
            if slot.is_none() {
                // No bus address (and none found at `$XDG_RUNTIME_DIR/bus`): libdbus would try
                // to autolaunch a bus, which hangs or fails slowly; say so at once.
                if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
                    return Err(StoreError::NoSessionBus);
                }
                let ss = SecretService::connect_with_max_prompt_timeout(
                    EncryptionType::Dh,
                    PROMPT_TIMEOUT_SECS,
                )
                .map_err(|e| classify(&e))?;
                self.opened.set(self.opened.get() + 1);
                *slot = Some(ss);
            }
            let ss = slot.as_ref().ok_or(StoreError::Other)?;
            match op(ss) {
                Ok(v) => return Ok(v),
                Err(e) if reused && connection_lost(&e) => {
                    tracing::debug!(error = %e, "secret service connection lost; reconnecting");
                    *slot = None;
                    reused = false;
                }
                Err(e) => return Err(classify(&e)),
            }
        }
    }

    /// Reads the value under `key`; `Ok(None)` when there is none.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        let bytes = self.with(|ss| {
            let found = ss.search_items(search_attributes(key))?;
            let mut values = Vec::new();
            for (item, locked) in found
                .unlocked
                .iter()
                .map(|i| (i, false))
                .chain(found.locked.iter().map(|i| (i, true)))
            {
                values.push(unlocked(item, locked)?.get_secret()?);
            }
            Ok(values)
        })?;
        let mut values = bytes.into_iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        // Two items for one key only arise from a third-party write; equal copies are harmless.
        if values.any(|v| v != first) {
            return Err(StoreError::Corrupt("two different entries for one key"));
        }
        String::from_utf8(first)
            .map(|s| Some(Secret::new(s)))
            .map_err(|_| StoreError::Corrupt("not text"))
    }

    /// Creates or replaces the value under `key`.
    pub fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        self.with(|ss| {
            let found = ss.search_items(search_attributes(key))?;
            if found.unlocked.is_empty() && found.locked.is_empty() {
                let collection = match ss.get_default_collection() {
                    Ok(c) => c,
                    Err(Error::NoResult) => ss.create_collection("Login", "default")?,
                    Err(e) => return Err(e),
                };
                collection.ensure_unlocked()?;
                let mut attributes = search_attributes(key);
                attributes.insert("application", "latchkey");
                collection.create_item(
                    &format!("Latchkey: {key}"),
                    attributes,
                    value.expose().as_bytes(),
                    true,
                    "text/plain",
                )?;
                return Ok(());
            }
            for item in &found.unlocked {
                item.set_secret(value.expose().as_bytes(), "text/plain")?;
            }
            for item in &found.locked {
                unlocked(item, true)?.set_secret(value.expose().as_bytes(), "text/plain")?;
            }
            Ok(())
        })
    }

    /// Deletes every item under `key`; `Ok(false)` when there was none.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.with(|ss| {
            let found = ss.search_items(search_attributes(key))?;
            let any = !(found.unlocked.is_empty() && found.locked.is_empty());
            for item in &found.unlocked {
                item.delete()?;
            }
            for item in &found.locked {
                unlocked(item, true)?.delete()?;
            }
            Ok(any)
        })
    }
}
