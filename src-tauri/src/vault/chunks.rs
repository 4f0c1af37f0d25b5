//! Chunking: a value up to CHUNK_LIMIT is stored as `lk1:<value>`. A larger one goes into chunk
//! entries `<key>#<slot>.<n>` first, and only then is the header `lk1c:<slot>:<count>:<len>:<sha256>`
//! written. Two slots alternate, so a crash before the header leaves the previous record intact.

use super::backend::{Backend, StoreError};
use crate::secret::Secret;
use sha2::{Digest, Sha256};

/// Windows Credential Manager's blob limit is 2,560 bytes of UTF-16, i.e. 1,280 ASCII
/// characters; every platform chunks at that size so one code path is tested everywhere.
pub const CHUNK_LIMIT: usize = 1280;

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
///
/// Readers take no lock, so a writer may switch slots while a reader collects chunks (F7):
/// the old slot's chunks vanish under it. A chunk that is missing or does not add up is
/// therefore read again from the header, as long as the header changed meanwhile; only an
/// inconsistency under an unchanged header is damage.
pub fn get(b: &dyn Backend, key: &str) -> Result<Option<Secret>, StoreError> {
    let mut last_header: Option<String> = None;
    for _ in 0..4 {
        let Some(v) = b.get(key)? else {
            return Ok(None);
        };
        let v = v.expose();
        if let Some(inline) = v.strip_prefix(INLINE) {
            return Ok(Some(Secret::new(inline)));
        }
        if last_header.as_deref() == Some(v) {
            break;
        }
        let h = parse_header(v).ok_or(StoreError::Corrupt("unknown format"))?;
        match read_chunks(b, key, &h) {
            Ok(out) => return Ok(Some(out)),
            Err(StoreError::Corrupt(_)) => last_header = Some(v.to_string()),
            Err(e) => return Err(e),
        }
    }
    // The same header twice and still inconsistent: damaged, not a race.
    let h = last_header
        .as_deref()
        .and_then(parse_header)
        .ok_or(StoreError::Corrupt("unknown format"))?;
    read_chunks(b, key, &h).map(Some)
}

/// The chunks one header names, checked against its count, length and checksum.
fn read_chunks(b: &dyn Backend, key: &str, h: &Header) -> Result<Secret, StoreError> {
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
    Ok(Secret::new(out))
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
#[cfg(test)]
pub mod fake {
    //! An in-memory backend with a size limit and failure injection, for unit tests only.
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

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

    /// A backend where a writer stores a new value the first time the reader asks for a
    /// chunk: the interleaving a refresh and a `token` reader meet (F7).
    struct RacingBackend {
        inner: FakeBackend,
        next: Mutex<Option<String>>,
    }

    use std::sync::Mutex;

    impl Backend for RacingBackend {
        fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
            if key.contains('#') {
                if let Some(v) = self.next.lock().unwrap().take() {
                    put(&self.inner, "account:a", &Secret::new(v), CHUNK_LIMIT)?;
                }
            }
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<bool, StoreError> {
            self.inner.delete(key)
        }
        fn describe(&self) -> String {
            "racing".into()
        }
    }

    /// F7: a write that switches slots while a reader collects chunks is read again, never
    /// reported as damage; a record damaged under a steady header still is.
    #[test]
    fn a_write_during_a_read_is_not_damage() {
        let old: String = "o".repeat(5000);
        let new: String = "n".repeat(6000);
        let inner = limited();
        put(&inner, "account:a", &Secret::new(old), CHUNK_LIMIT).unwrap();
        let b = RacingBackend {
            inner: inner.clone(),
            next: Mutex::new(Some(new.clone())),
        };
        let got = get(&b, "account:a").expect("not damaged").unwrap();
        assert_eq!(got.expose(), new);
        // Real damage: a chunk gone with the header unchanged.
        let key = inner
            .items
            .lock()
            .unwrap()
            .keys()
            .find(|k| k.contains('#'))
            .cloned()
            .unwrap();
        inner.items.lock().unwrap().remove(&key);
        assert!(matches!(
            get(&inner, "account:a"),
            Err(StoreError::Corrupt("missing chunk"))
        ));
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
}
