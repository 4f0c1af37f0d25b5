//! Redacting newtypes for every secret Latchkey handles.
//!
//! `Debug` and `Display` print `[redacted]`; the raw value is reachable only through
//! [`Secret::expose`], so a secret cannot reach a log line or an error by accident.

use std::fmt;
use zeroize::Zeroize;

/// A secret string (token, code, verifier, state, client secret). Zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value as a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value. Call sites are the only places a secret leaves its wrapper.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes, safe to log.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// Serialization is for the credential-store record only; the index never holds a `Secret`.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// The operating system gave no random bytes. Nothing that needs a fresh secret (a sign-in's
/// state and verifier, a proof's `jti`, an account id) can go on without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's random number source did not answer")]
pub struct NoRandomness;

impl NoRandomness {
    /// Stable code.
    pub const CODE: &'static str = "no_randomness";
    /// What to do, in plain words.
    pub const FIX: &'static str = "Latchkey makes a new random secret for every sign-in and could not get one from the operating system. Restart the computer and try again; if it keeps happening, report it with the output of `latchkey status`.";
}

/// Fills `buf` from the operating system's random source (`getrandom` on Linux,
/// `BCryptGenRandom` on Windows, `SecRandomCopyBytes` on macOS) through ring, which the TLS
/// stack already links. No user-space generator sits in between, and a failure is an error,
/// never a panic.
pub fn fill_random(buf: &mut [u8]) -> Result<(), NoRandomness> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| NoRandomness)
}

/// `N` random bytes, for values that are not secret (ids, handles) or are encoded at once.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut b = [0u8; N];
    fill_random(&mut b)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_come_from_the_system_and_differ_each_time() {
        let a: [u8; 32] = random_bytes().unwrap();
        let b: [u8; 32] = random_bytes().unwrap();
        assert_ne!(a, b, "two draws of 256 bits were equal");
        assert_ne!(a, [0u8; 32], "the buffer was not filled");
        // Every byte position gets filled, not only a prefix.
        let mut seen = [false; 64];
        for _ in 0..64 {
            let v: [u8; 64] = random_bytes().unwrap();
            for (i, x) in v.iter().enumerate() {
                seen[i] |= *x != 0;
            }
        }
        assert!(seen.iter().all(|s| *s));
        let mut empty: [u8; 0] = [];
        assert!(fill_random(&mut empty).is_ok());
    }

    #[test]
    fn secret_debug_and_display_are_redacted_s19() {
        let s = Secret::new("tskdp_canary_value_123");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{:?}", Some(&s)).contains("canary"));
        assert_eq!(s.expose(), "tskdp_canary_value_123");
    }
}
