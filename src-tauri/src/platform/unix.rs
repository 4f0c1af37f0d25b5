//! Linux, the BSDs and macOS.

use crate::secret::Secret;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Switches core dumps off for this process (soft and hard limit 0), so a crash never
/// writes the tokens in memory to disk (S26). Crash handlers such as systemd-coredump,
/// apport and macOS's ReportCrash honour the limit for the core itself.
pub fn harden_process() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass and has no other preconditions.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
    if rc != 0 {
        tracing::warn!("could not switch core dumps off");
    }
}

/// [`harden_process`] and more for the short-lived command line: on Linux it is also not
/// dumpable (`PR_SET_DUMPABLE` 0), so crash handlers that ignore the core limit (Ubuntu's
/// apport writes `/var/crash` for programs under `/usr`) get no memory image, and no
/// process of the same user can attach to it or read its memory (F4). The desktop program
/// stays dumpable: SECURITY.md says why.
pub fn harden_cli() {
    harden_process();
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and has no other
        // preconditions.
        let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        if rc != 0 {
            tracing::warn!("could not make the process non-dumpable");
        }
    }
}

/// Over SSH into one's own desktop the session bus address is not in the environment, though
/// the desktop session's bus is at `$XDG_RUNTIME_DIR/bus` (systemd puts it there; without
/// `XDG_RUNTIME_DIR`, `/run/user/<uid>/bus`). When `DBUS_SESSION_BUS_ADDRESS` is unset and
/// that path is a socket owned by this user, it becomes the address, so the keyring of the
/// person's running session answers. A socket of another user is never used. Call before
/// any thread starts (it sets an environment variable). Returns the socket it chose.
pub fn find_session_bus() -> Option<std::path::PathBuf> {
    if !cfg!(target_os = "linux")
        || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
    {
        return None;
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(format!("/run/user/{me}")));
    let bus = runtime.join("bus");
    let owned_socket = std::fs::metadata(&bus).is_ok_and(|m| {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        m.file_type().is_socket() && m.uid() == me
    });
    if !owned_socket {
        return None;
    }
    let address = format!("unix:path={}", bus.display());
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", address);
    Some(bus)
}

/// Whether stderr understands ANSI escapes (a terminal).
pub fn stderr_ansi() -> bool {
    std::io::stderr().is_terminal()
}

/// Runs `f` with the terminal on stdin not echoing what is typed (`stty -echo`); prints the
/// newline the hidden Enter did not.
pub fn with_echo_off<R>(f: impl FnOnce() -> R) -> R {
    let echo_off = Command::new("stty")
        .arg("-echo")
        .status()
        .is_ok_and(|s| s.success());
    let r = f();
    if echo_off {
        let _ = Command::new("stty").arg("echo").status();
        eprintln!();
    }
    r
}

/// Replaces this process with `cmd` (`exec(2)`): the same pid, so signals, job control and
/// the exit status are the command's own. Returns only when the command could not start.
pub fn run_with_exit_code(mut cmd: Command) -> std::io::Result<i32> {
    Err(cmd.exec())
}

/// Hands this process over to the desktop program (`exec(2)`, same pid and environment).
pub fn hand_off(mut cmd: Command) -> std::io::Result<i32> {
    Err(cmd.exec())
}

/// The configured browser command as shell text, with the URL as its positional parameter
/// `"$1"` (in place of `%s`, or after the command): never spliced into the text (S1).
pub fn browser_command(cmd: &str, url: &Secret) -> Result<Command, String> {
    if cmd.trim().is_empty() {
        return Err("The browser command is empty. Name a browser, e.g. firefox %s".into());
    }
    let script = if cmd.contains("%s") {
        cmd.replace("%s", "\"$1\"")
    } else {
        format!("{cmd} \"$1\"")
    };
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .arg("latchkey-browser")
        .arg(url.expose());
    Ok(c)
}

/// Opens the URL with the desktop's default handler: `open` on macOS, `xdg-open` elsewhere.
pub fn open_url(url: &Secret) -> Result<(), String> {
    let mut c = Command::new(if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    });
    c.arg(url.expose());
    super::process::spawn_watched(c)
}

/// Whether the default handler can plausibly open a browser: always on macOS; elsewhere only
/// in a graphical session (`DISPLAY` or `WAYLAND_DISPLAY`) with `xdg-open` on the PATH. Over
/// SSH or on a headless server this is false, and sign-in falls back to the device flow.
pub fn can_open_url() -> bool {
    if cfg!(target_os = "macos") {
        return true;
    }
    let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    let opener = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("xdg-open").is_file()));
    graphical && opener
}

/// True when the process at the other end of a loopback connection runs as this user (S4).
/// Linux reads the socket's owner from `/proc/net/tcp` and `/proc/net/tcp6`; a peer in
/// neither is refused (F3). Only without `/proc` at all is the connection served unchecked.
/// macOS has no such table (SECURITY.md, S4).
pub fn same_user_peer(peer: std::net::SocketAddr, port: u16) -> bool {
    if cfg!(target_os = "linux") {
        let v4 = std::fs::read_to_string("/proc/net/tcp");
        let v6 = std::fs::read_to_string("/proc/net/tcp6");
        if v4.is_err() && v6.is_err() {
            // No /proc at all (a sandbox): nothing can be checked.
            return true;
        }
        let table = format!("{}\n{}", v4.unwrap_or_default(), v6.unwrap_or_default());
        // SAFETY: getuid has no preconditions and cannot fail.
        let me = unsafe { libc::getuid() };
        // A peer missing from the tables (it reset the connection right after writing, F3)
        // is refused: only a peer found to be this user is served.
        super::tcp::peer_uid(&table, peer, port) == Some(me)
    } else {
        true
    }
}

/// Makes a folder private to this user (mode 0700).
pub fn secure_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes a file private to this user (mode 0600).
pub fn secure_file(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Reads a whole file that another process may replace at the same moment; on Unix a rename
/// never waits for readers.
pub fn read_shared(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Moves a finished temp file over `path` in one step (rename(2)).
pub fn replace_file(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// One process from `/proc` (issue 39): its parent, executable, short name and working
/// directory. The kernel's name is cut at 15 characters; the executable's path is whole.
#[cfg(target_os = "linux")]
pub fn process_info(pid: u32) -> Option<super::process_info::ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (name) state ppid …`: the name may hold spaces and parentheses.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let ppid = rest.nth(1)?.parse().ok()?;
    Some(super::process_info::ProcessInfo {
        pid,
        ppid,
        exe: std::fs::read_link(format!("/proc/{pid}/exe")).ok(),
        name,
        cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
    })
}

/// One process from the kernel (issue 39): `proc_pidinfo` for the parent and name,
/// `proc_pidpath` for the executable, the vnode path info for the working directory.
#[cfg(target_os = "macos")]
pub fn process_info(pid: u32) -> Option<super::process_info::ProcessInfo> {
    use std::os::unix::ffi::OsStrExt;
    let c_str = |chars: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    // SAFETY: proc_bsdinfo is plain data; the kernel fills at most `size` bytes.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    let n = unsafe {
        libc::proc_pidinfo(
            pid as libc::c_int,
            libc::PROC_PIDTBSDINFO,
            0,
            &mut info as *mut _ as *mut libc::c_void,
            size,
        )
    };
    if n != size {
        return None;
    }
    let mut buf = vec![0u8; libc::PROC_PIDPATHINFO_MAXSIZE as usize];
    // SAFETY: the buffer is as long as the length passed.
    let len = unsafe {
        libc::proc_pidpath(
            pid as libc::c_int,
            buf.as_mut_ptr().cast(),
            buf.len() as u32,
        )
    };
    let exe = (len > 0)
        .then(|| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&buf[..len as usize])));
    // SAFETY: as above, for the vnode path info.
    let mut vp: libc::proc_vnodepathinfo = unsafe { std::mem::zeroed() };
    let vsize = std::mem::size_of::<libc::proc_vnodepathinfo>() as libc::c_int;
    let vn = unsafe {
        libc::proc_pidinfo(
            pid as libc::c_int,
            libc::PROC_PIDVNODEPATHINFO,
            0,
            &mut vp as *mut _ as *mut libc::c_void,
            vsize,
        )
    };
    let cwd = (vn == vsize).then(|| {
        let flat: Vec<libc::c_char> = vp.pvi_cdir.vip_path.iter().flatten().copied().collect();
        std::path::PathBuf::from(c_str(&flat))
    });
    Some(super::process_info::ProcessInfo {
        pid,
        ppid: info.pbi_ppid,
        exe,
        name: c_str(&info.pbi_name),
        cwd,
    })
}

/// Other Unix systems: not looked up (the hand-out is then logged as an unknown program).
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn process_info(_pid: u32) -> Option<super::process_info::ProcessInfo> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F4: the command line's process is not dumpable on Linux.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_command_line_is_not_dumpable_s26() {
        harden_cli();
        // SAFETY: PR_GET_DUMPABLE takes no pointers.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }

    /// F3: a peer that is in no socket table (it reset its connection before Latchkey looked)
    /// is refused; it used to count as this user.
    #[test]
    fn a_peer_missing_from_the_socket_tables_is_refused_s4() {
        if !std::path::Path::new("/proc/net/tcp").exists() {
            eprintln!("skipped: no /proc here");
            return;
        }
        let nobody: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(!same_user_peer(nobody, 1));
        // A real connection of this user is served.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_s, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        assert!(same_user_peer(peer, port));
    }
}
