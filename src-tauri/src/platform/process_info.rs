//! One process as the OS describes it (issue 39); filled in by each OS's platform file.

use std::path::PathBuf;

/// One process, as the OS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its id.
    pub pid: u32,
    /// Its parent's id (0 when none).
    pub ppid: u32,
    /// Its executable's full path, when the OS tells it.
    pub exe: Option<PathBuf>,
    /// Its name (the executable's file name, or the kernel's short name).
    pub name: String,
    /// Its working directory, when the OS tells it.
    pub cwd: Option<PathBuf>,
}
