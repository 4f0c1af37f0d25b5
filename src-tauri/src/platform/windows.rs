//! Windows.

use super::cmdline::{self, Arg};
use crate::secret::Secret;
use std::io::IsTerminal;
use std::os::windows::process::CommandExt;
use std::path::Path;
use std::process::Command;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Security::{GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER};
use windows_sys::Win32::System::Console::{
    GetConsoleMode, GetStdHandle, SetConsoleCtrlHandler, SetConsoleMode, ENABLE_ECHO_INPUT,
    ENABLE_VIRTUAL_TERMINAL_PROCESSING, STD_ERROR_HANDLE, STD_INPUT_HANDLE,
};
use windows_sys::Win32::System::Diagnostics::Debug::{
    SetErrorMode, SetUnhandledExceptionFilter, EXCEPTION_POINTERS, SEM_FAILCRITICALERRORS,
    SEM_NOGPFAULTERRORBOX, SEM_NOOPENFILEERRORBOX,
};
use windows_sys::Win32::System::ErrorReporting::{WerSetFlags, WER_FAULT_REPORTING_FLAG_NOHEAP};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, TerminateProcess,
    PROCESS_QUERY_LIMITED_INFORMATION,
};

/// No session bus on Windows: the Credential Manager needs none.
pub fn find_session_bus() -> Option<std::path::PathBuf> {
    None
}

/// The command line's hardening: the same as the desktop program's on Windows.
pub fn harden_cli() {
    harden_process();
}

/// The exit code of a process ended by [`harden_process`]'s exception filter: "Latchkey
/// crashed", with no dump written.
pub const CRASH_EXIT: u32 = 0xE04C_4B01;

/// Keeps tokens out of crash reports (S26, S31). Windows Error Reporting shows no dialog and
/// collects no heap for this process (where the tokens live), and an unhandled exception ends
/// the process at once from the top-level filter, before the system's handler would start
/// Windows Error Reporting. The installer also lists both programs under WER's excluded
/// applications.
pub fn harden_process() {
    // SAFETY: these calls take plain values or a function pointer with the signature the
    // system expects; none has other preconditions.
    unsafe {
        SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
        WerSetFlags(WER_FAULT_REPORTING_FLAG_NOHEAP);
        SetUnhandledExceptionFilter(Some(end_without_report));
    }
}

unsafe extern "system" fn end_without_report(_: *const EXCEPTION_POINTERS) -> i32 {
    // SAFETY: ends this very process; nothing runs after it.
    unsafe { TerminateProcess(GetCurrentProcess(), CRASH_EXIT) };
    1 // EXCEPTION_EXECUTE_HANDLER, never reached
}

/// Whether stderr understands ANSI escapes: a console that accepts virtual-terminal
/// processing (Windows 10 and later). A pipe or a file gets none.
pub fn stderr_ansi() -> bool {
    if !std::io::stderr().is_terminal() {
        return false;
    }
    // SAFETY: GetStdHandle and the console-mode calls take the process's own handle and a
    // pointer to a local.
    unsafe {
        let h = GetStdHandle(STD_ERROR_HANDLE);
        let mut mode = 0;
        GetConsoleMode(h, &mut mode) != 0
            && SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0
    }
}

/// Runs `f` with the console on stdin not echoing what is typed; prints the newline the
/// hidden Enter did not.
pub fn with_echo_off<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: as in stderr_ansi.
    let (h, old) = unsafe {
        let h = GetStdHandle(STD_INPUT_HANDLE);
        let mut mode = 0;
        let ok =
            GetConsoleMode(h, &mut mode) != 0 && SetConsoleMode(h, mode & !ENABLE_ECHO_INPUT) != 0;
        (h, ok.then_some(mode))
    };
    let r = f();
    if let Some(mode) = old {
        // SAFETY: restores the mode read above on the same handle.
        unsafe { SetConsoleMode(h, mode) };
        eprintln!();
    }
    r
}

unsafe extern "system" fn wait_out_ctrl_c(_: u32) -> i32 {
    1 // handled: this process keeps waiting for its child, which got the same event
}

/// Windows has no `exec(2)`: starts the command, waits, and returns its exit code. Ctrl+C
/// and Ctrl+Break reach the child (every process on the console gets them); this process
/// swallows them with a handler (not the inheritable "ignore" flag, which the child would
/// inherit) and waits for the child to end. The pattern cargo uses for `cargo run`.
pub fn run_with_exit_code(mut cmd: Command) -> std::io::Result<i32> {
    // SAFETY: registers a handler with the expected signature for the rest of the process.
    unsafe { SetConsoleCtrlHandler(Some(wait_out_ctrl_c), 1) };
    let status = cmd.status()?;
    Ok(status.code().unwrap_or(1))
}

/// Starts the desktop program and returns at once: it is a window program with no console,
/// and the command line that started it should not wait for the window to close.
pub fn hand_off(mut cmd: Command) -> std::io::Result<i32> {
    cmd.spawn().map(|_| 0)
}

/// The configured browser command read as a Windows command line (S29): the program, its
/// arguments, and the URL as one quoted argument (`%s` marks where). Interpreters and scripts
/// are refused, since they would read the URL as commands.
pub fn browser_command(cmd: &str, url: &Secret) -> Result<Command, String> {
    let (prog, args) = cmdline::browser(cmd)?;
    let mut c = Command::new(prog);
    for a in args {
        match a {
            Arg::Text(t) => {
                c.arg(t);
            }
            Arg::Url { before, after } => {
                c.raw_arg(cmdline::quote(&format!("{before}{}{after}", url.expose())));
            }
        }
    }
    Ok(c)
}

/// Opens the URL with the person's default browser (`ShellExecuteW`, the shell's own "open").
pub fn open_url(url: &Secret) -> Result<(), String> {
    use windows_sys::Win32::UI::Shell::ShellExecuteW;
    use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (verb, file) = (wide("open"), wide(url.expose()));
    // SAFETY: both strings are NUL-terminated and outlive the call; the other pointers may be
    // null.
    let rc = unsafe {
        ShellExecuteW(
            std::ptr::null_mut(),
            verb.as_ptr(),
            file.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            SW_SHOWNORMAL,
        )
    };
    // ShellExecute returns a value above 32 on success, an error code otherwise.
    if rc as usize > 32 {
        Ok(())
    } else {
        Err(format!(
            "Windows could not open your default browser (error {})",
            rc as usize
        ))
    }
}

/// A Windows desktop can always show a browser.
pub fn can_open_url() -> bool {
    true
}

/// Closes a handle on drop.
struct Owned(HANDLE);
impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by us and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// The user SID of a process, as bytes.
pub(super) fn user_sid(process: HANDLE) -> Option<Vec<u8>> {
    use windows_sys::Win32::Security::GetLengthSid;
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `token` is a local out-pointer; the token handle is closed by `Owned`.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return None;
    }
    let token = Owned(token);
    let mut len = 0u32;
    // SAFETY: a size query with a null buffer.
    unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut len) };
    if len == 0 {
        return None;
    }
    // u64 words keep the TOKEN_USER aligned.
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: the buffer holds `len` bytes and is aligned for TOKEN_USER.
    if unsafe { GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) }
        == 0
    {
        return None;
    }
    // SAFETY: GetTokenInformation filled a TOKEN_USER whose SID points into `buf`.
    unsafe {
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        let sid = user.User.Sid;
        if sid.is_null() {
            return None;
        }
        let n = GetLengthSid(sid) as usize;
        Some(std::slice::from_raw_parts(sid as *const u8, n).to_vec())
    }
}

/// The rows of the system's IPv4 TCP connection table with their owning pids.
fn owner_rows() -> Option<Vec<super::tcp::OwnerRow>> {
    use windows_sys::Win32::NetworkManagement::IpHelper::{
        GetExtendedTcpTable, MIB_TCPROW_OWNER_PID, TCP_TABLE_OWNER_PID_CONNECTIONS,
    };
    use windows_sys::Win32::Networking::WinSock::AF_INET;
    let mut size = 0u32;
    let mut buf: Vec<u32> = Vec::new();
    for _ in 0..4 {
        buf.resize((size as usize).div_ceil(4).max(1), 0);
        size = (buf.len() * 4) as u32;
        // SAFETY: the buffer holds `size` bytes, aligned for the table's u32 fields.
        let rc = unsafe {
            GetExtendedTcpTable(
                buf.as_mut_ptr().cast(),
                &mut size,
                0,
                u32::from(AF_INET),
                TCP_TABLE_OWNER_PID_CONNECTIONS,
                0,
            )
        };
        match rc {
            0 => {
                let n = buf[0] as usize;
                let words = std::mem::size_of::<MIB_TCPROW_OWNER_PID>() / 4;
                let rows = buf.get(1..1 + n * words)?;
                return Some(
                    rows.chunks_exact(words)
                        .map(|r| super::tcp::OwnerRow {
                            local_addr: r[1],
                            local_port: r[2],
                            remote_addr: r[3],
                            remote_port: r[4],
                            pid: r[5],
                        })
                        .collect(),
                );
            }
            122 => continue, // ERROR_INSUFFICIENT_BUFFER: `size` now holds what is needed
            _ => return None,
        }
    }
    None
}

/// True when the process at the other end of a loopback connection runs as this user (S30):
/// the connection's owning pid from the TCP owner table, then that process's user SID against
/// ours. A process we may not even query (another user's, or a service's) is refused. When
/// the table has no owner for it (pid 0, or no row) there is nothing to tell and it is served,
/// as on Linux without `/proc`.
pub fn same_user_peer(peer: std::net::SocketAddr, port: u16) -> bool {
    let Some(rows) = owner_rows() else {
        tracing::debug!("loopback peer: no TCP owner table; served");
        return true;
    };
    let pid = match super::tcp::peer_pid(&rows, peer, port) {
        None | Some(0) => {
            tracing::debug!("loopback peer: the table names no owner; served");
            return true;
        }
        Some(pid) => pid,
    };
    if pid == std::process::id() {
        return true;
    }
    // SAFETY: OpenProcess returns a handle we close, or null.
    let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if h.is_null() {
        tracing::debug!(pid, "loopback peer: its process cannot be queried; refused");
        return false;
    }
    let other = Owned(h);
    // SAFETY: the pseudo-handle of this process needs no closing.
    let me = user_sid(unsafe { GetCurrentProcess() });
    let same = matches!((me, user_sid(other.0)), (Some(a), Some(b)) if a == b);
    tracing::debug!(pid, same, "loopback peer: owner's user compared");
    same
}

/// Nothing to tighten: `%APPDATA%` (and what Latchkey creates in it) inherits the profile's
/// ACL, which grants the person, SYSTEM and Administrators only.
pub fn secure_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// As [`secure_dir`]: the file inherits its folder's ACL.
pub fn secure_file(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Reads a whole file that another process may replace at the same moment. The handle shares
/// delete access, so a writer's replace does not fail with "Access denied" while it is open.
pub fn read_shared(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Moves a finished temp file over `path`. `std::fs::rename` replaces with POSIX semantics
/// where the system has them (Windows 10 1607 and later on NTFS), so readers holding the old
/// file with delete sharing ([`read_shared`]) never stop it. Where it falls back to the old
/// semantics (older file systems, Wine), or another program holds the file without delete
/// sharing (an older Latchkey, a virus scanner, a search indexer), the refusal is tried again
/// for up to 3 s before it is reported.
pub fn replace_file(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{
        ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION,
    };
    use windows_sys::Win32::Storage::FileSystem::{SetFileAttributesW, FILE_ATTRIBUTE_NORMAL};
    let from = tmp.into_temp_path();
    // tempfile marks its files temporary (kept in cache, maybe never written); the index is not.
    let wide: Vec<u16> = from.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `wide` is a NUL-terminated UTF-16 path that outlives the call.
    if unsafe { SetFileAttributesW(wide.as_ptr(), FILE_ATTRIBUTE_NORMAL) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match std::fs::rename(&from, path) {
            Ok(()) => {
                let _ = from.keep();
                return Ok(());
            }
            Err(e) => {
                let busy = matches!(
                    e.raw_os_error().map(|c| c as u32),
                    Some(ERROR_ACCESS_DENIED | ERROR_SHARING_VIOLATION | ERROR_LOCK_VIOLATION)
                );
                if !busy || std::time::Instant::now() >= deadline {
                    return Err(e);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
        }
    }
}

/// Run under Wine by `./dev.sh test` (`cargo test --target x86_64-pc-windows-gnu --lib
/// platform::`, Wine as the runner). Each helper is this test program started again with one
/// test selected: a second process of the same user, as a browser would be.
#[cfg(test)]
mod tests {
    use super::*;

    const HELPER_ENV: &str = "LATCHKEY_TEST_HELPER";

    fn helper(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.arg(format!("platform::windows::tests::{name}"))
            .args(["--exact", "--nocapture", "--test-threads=1"])
            .args(extra)
            .env(HELPER_ENV, "1")
            .envs(env.iter().copied());
        c
    }

    /// Helper: writes its own command line arguments, one per line, to the file named by
    /// LATCHKEY_TEST_ARGV (as a browser would receive them).
    #[test]
    fn helper_record_argv() {
        if std::env::var_os(HELPER_ENV).is_none() {
            return;
        }
        let out = std::env::var("LATCHKEY_TEST_ARGV").unwrap();
        let args: Vec<String> = std::env::args().collect();
        std::fs::write(out, args.join("\n")).unwrap();
    }

    /// Helper: connects to 127.0.0.1:LATCHKEY_TEST_PORT and sends a callback request.
    #[test]
    fn helper_connect() {
        if std::env::var_os(HELPER_ENV).is_none() {
            return;
        }
        use std::io::{Read, Write};
        let port: u16 = std::env::var("LATCHKEY_TEST_PORT")
            .unwrap()
            .parse()
            .unwrap();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /callback?state=s HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
    }

    /// S29: a browser started from a Windows command line gets the URL as exactly one
    /// argument, however many `&`, `%`, `^`, `"` and spaces it holds.
    #[test]
    fn the_url_reaches_the_browser_as_one_argument_s29() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("argv.txt");
        let url = Secret::new(r#"https://idp.example/auth?a=1&b=%PATH%^|x"y z\"#);
        let exe = std::env::current_exe().unwrap();
        let line = format!(
            "{} platform::windows::tests::helper_record_argv --exact --nocapture --test-threads=1 --skip=%s",
            cmdline::quote(&exe.display().to_string())
        );
        let mut c = browser_command(&line, &url).unwrap();
        let st = c
            .env(HELPER_ENV, "1")
            .env("LATCHKEY_TEST_ARGV", &out)
            .status()
            .unwrap();
        assert!(st.success());
        let got = std::fs::read_to_string(&out).unwrap();
        let args: Vec<&str> = got.lines().collect();
        assert_eq!(
            args.last().copied(),
            Some(format!("--skip={}", url.expose()).as_str()),
            "{got}"
        );
        assert_eq!(args.len(), 6, "{got}");
    }

    /// S30: the owner table finds the connecting process, and a process of this same user is
    /// served (the owner's token SID equals ours).
    #[test]
    fn a_connection_from_another_process_of_this_user_is_served_s30() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut child = helper(
            "helper_connect",
            &[],
            &[("LATCHKEY_TEST_PORT", &port.to_string())],
        )
        .spawn()
        .unwrap();
        let (stream, peer) = listener.accept().unwrap();
        let rows = owner_rows().expect("the TCP owner table");
        let pid = super::super::tcp::peer_pid(&rows, peer, port);
        assert_eq!(pid, Some(child.id()), "the owner is the helper process");
        assert!(same_user_peer(peer, port));
        drop(stream);
        let _ = child.wait();
    }

    /// S26/S31: the crash-report settings are in force after harden_process.
    #[test]
    fn harden_process_turns_off_the_error_dialogs() {
        use windows_sys::Win32::System::Diagnostics::Debug::GetErrorMode;
        harden_process();
        // SAFETY: GetErrorMode has no preconditions.
        let mode = unsafe { GetErrorMode() };
        assert_ne!(mode & SEM_NOGPFAULTERRORBOX, 0);
        assert_ne!(mode & SEM_FAILCRITICALERRORS, 0);
    }
}
