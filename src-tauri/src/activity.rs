//! The activity log (issue 39): every hand-out of a token to another program, and every
//! refusal, as one JSON line in `activity.jsonl` in the data folder (0600). It never holds a
//! secret: the account, what kind of thing was handed out, the program (from the OS), and the
//! decision. Bounded: past [`MAX_BYTES`] the oldest lines are dropped.
//!
//! Appends take a shared lock and write each line with one `write` on a file opened for
//! appending, so parallel `latchkey token` processes never tear or lose a line; the trim takes
//! the exclusive lock, so no append lands in a file being replaced.

use crate::platform::caller::Program;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Past this size the log keeps its newest half.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// How the hand-out was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The account's policy is `allow`.
    AllowedByPolicy,
    /// The person approved this program before (and the approval holds).
    Remembered,
    /// The person approved it now.
    Approved,
    /// The person said no.
    Denied,
    /// The account's policy is `deny`.
    DeniedByPolicy,
    /// Nobody answered in time.
    TimedOut,
    /// No window and no terminal to ask on.
    NobodyToAsk,
    /// The person, in Latchkey's own window.
    You,
}

impl Decision {
    /// True when the token was handed out.
    pub fn allowed(self) -> bool {
        matches!(
            self,
            Decision::AllowedByPolicy | Decision::Remembered | Decision::Approved | Decision::You
        )
    }

    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            Decision::AllowedByPolicy => "allowed (policy: allow)",
            Decision::Remembered => "allowed (approved before)",
            Decision::Approved => "approved by you",
            Decision::Denied => "denied by you",
            Decision::DeniedByPolicy => "denied (policy: deny)",
            Decision::TimedOut => "denied (no answer in time)",
            Decision::NobodyToAsk => "denied (nobody to ask)",
            Decision::You => "you, in Latchkey",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    /// The account id.
    pub account: String,
    /// What was asked for: `token`, `header`, `dpop_proof`, `git`, `kubernetes`, `docker`,
    /// `mcp`, `exec`, `api`, `copy`.
    pub what: String,
    /// The program, from the OS.
    pub program: Program,
    /// How it was decided.
    pub decision: Decision,
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("activity.jsonl")
}

fn lock_file(dir: &Path) -> std::io::Result<std::fs::File> {
    let locks = dir.join("locks");
    std::fs::create_dir_all(&locks)?;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join("activity.lock"))
}

/// Cuts every text of an entry to a bound, so a line stays one small write.
fn bounded(mut e: Entry) -> Entry {
    let cut = |s: &mut String, n: usize| *s = crate::text::plain_text(s, n);
    cut(&mut e.account, 200);
    cut(&mut e.what, 40);
    cut(&mut e.program.name, 200);
    for s in [&mut e.program.path, &mut e.program.cwd, &mut e.program.via]
        .into_iter()
        .flatten()
    {
        cut(s, 1000);
    }
    e
}

/// Appends `entry` to the log in `dir`. A failure is returned to be reported, never to stop
/// the hand-out's own error handling.
pub fn record(dir: &Path, entry: Entry) -> std::io::Result<()> {
    let mut line = serde_json::to_string(&bounded(entry)).map_err(std::io::Error::other)?;
    line.push('\n');
    let size = {
        // Released when the handle closes (an explicit unlock of a shared lock fails under
        // Wine with a lock violation; closing is what every OS honours).
        let lock = lock_file(dir)?;
        lock.lock_shared()?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(dir))?;
        crate::platform::secure_file(&f)?;
        f.write_all(line.as_bytes())?;
        f.metadata()?.len()
    };
    if size > MAX_BYTES {
        trim(dir)?;
    }
    Ok(())
}

/// Keeps the newest lines that fit in half of [`MAX_BYTES`].
fn trim(dir: &Path) -> std::io::Result<()> {
    let lock = lock_file(dir)?;
    lock.lock()?;
    let path = log_path(dir);
    let text = std::fs::read(&path)?;
    if (text.len() as u64) <= MAX_BYTES {
        return Ok(());
    }
    let keep_from = text.len() - (MAX_BYTES / 2) as usize;
    let start = text[keep_from..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|i| keep_from + i + 1)
        .unwrap_or(text.len());
    let mut tmp = tempfile::Builder::new()
        .prefix(".activity-")
        .tempfile_in(dir)?;
    crate::platform::secure_file(tmp.as_file())?;
    tmp.write_all(&text[start..])?;
    crate::platform::replace_file(tmp, &path)
}

/// Every entry in the log, oldest first; lines that do not parse are skipped.
pub fn read(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(log_path(dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Entry {
        Entry {
            at: i as i64,
            account: format!("acc-{i}"),
            what: "token".into(),
            program: Program {
                name: "python3".into(),
                path: Some("/usr/bin/python3".into()),
                pid: 7,
                cwd: Some("/tmp".into()),
                via: None,
            },
            decision: Decision::AllowedByPolicy,
        }
    }

    #[test]
    fn entries_round_trip_and_the_log_is_bounded_keeping_the_newest() {
        let d = tempfile::tempdir().unwrap();
        record(d.path(), entry(0)).unwrap();
        assert_eq!(read(d.path()).unwrap(), vec![entry(0)]);
        let n = 9000;
        for i in 1..n {
            record(d.path(), entry(i)).unwrap();
        }
        let size = std::fs::metadata(log_path(d.path())).unwrap().len();
        assert!(size <= MAX_BYTES, "{size}");
        let all = read(d.path()).unwrap();
        assert_eq!(all.last().unwrap().at, (n - 1) as i64, "the newest is kept");
        assert!(all[0].at > 0, "the oldest were dropped");
        // No torn line: every line parsed and they are consecutive.
        assert!(all.windows(2).all(|w| w[1].at == w[0].at + 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(log_path(d.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
