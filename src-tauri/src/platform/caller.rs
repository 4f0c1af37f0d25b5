//! Who asked (issue 39): the program that started `latchkey`, found from the operating
//! system's process table and never from anything the caller says. The walk is the same on
//! every OS; reading one process is each OS's own (`process_info` in its platform file).

pub use super::process_info::ProcessInfo;
#[cfg(unix)]
use super::unix as os;
#[cfg(windows)]
use super::windows_procs as os;
use serde::{Deserialize, Serialize};

/// The program a token is handed to: the first ancestor of `latchkey` that is not a shell or
/// `latchkey` itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Its name, e.g. `python3.11`.
    pub name: String,
    /// Its executable's full path; `None` when the OS would not say (then it is never
    /// remembered as approved).
    pub path: Option<String>,
    /// Its process id at the time.
    pub pid: u32,
    /// Its working directory, when known.
    #[serde(default)]
    pub cwd: Option<String>,
    /// The terminal, SSH session or desktop app it runs under, where that can be told.
    #[serde(default)]
    pub via: Option<String>,
}

impl Program {
    /// The person themself, in Latchkey's window (Copy, Reveal).
    pub fn you() -> Program {
        Program {
            name: "you, in Latchkey".into(),
            path: None,
            pid: std::process::id(),
            cwd: None,
            via: None,
        }
    }
}

/// Launchers and Latchkey itself: passed through on the way to the program, and never taken
/// for it.
const LAUNCHERS: &[&str] = &[
    "busybox", "env", "nohup", "sudo", "doas", "timeout", "stdbuf", "setsid", "time", "conhost",
    "latchkey", "start",
];

/// Terminals and remote sessions: named as where the program runs.
const VIA: &[(&str, &str)] = &[
    ("sshd", "an SSH session"),
    ("gnome-terminal-server", "GNOME Terminal"),
    ("gnome-terminal", "GNOME Terminal"),
    ("kgx", "Console"),
    ("ptyxis", "Ptyxis"),
    ("konsole", "Konsole"),
    ("xterm", "xterm"),
    ("alacritty", "Alacritty"),
    ("kitty", "kitty"),
    ("wezterm-gui", "WezTerm"),
    ("foot", "foot"),
    ("tilix", "Tilix"),
    ("terminator", "Terminator"),
    ("xfce4-terminal", "Xfce Terminal"),
    ("tmux: server", "tmux"),
    ("tmux", "tmux"),
    ("screen", "screen"),
    ("Terminal", "Terminal"),
    ("iTerm2", "iTerm2"),
    ("WindowsTerminal", "Windows Terminal"),
    ("OpenConsole", "Windows Terminal"),
    ("code", "VS Code"),
    ("Code", "VS Code"),
    ("cursor", "Cursor"),
    ("Cursor", "Cursor"),
    ("Claude", "Claude Desktop"),
    ("zed", "Zed"),
    ("Zed", "Zed"),
];

/// A process name without a Windows `.exe` and, for interpreters, without their version
/// (`python3.11` stays as it is: it is the name; only matching ignores case and `.exe`).
fn bare(name: &str) -> String {
    let n = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let n = n
        .strip_suffix(".exe")
        .or_else(|| n.strip_suffix(".EXE"))
        .unwrap_or(n);
    n.to_string()
}

/// Shells: passed through too, and the program when the walk finds nothing else (a person
/// typing at a prompt).
const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "fish",
    "ksh",
    "mksh",
    "tcsh",
    "csh",
    "ash",
    "nu",
    "xonsh",
    "elvish",
    "cmd",
    "powershell",
    "pwsh",
];

fn is_shell(p: &ProcessInfo) -> bool {
    let name = bare(&p.name).to_ascii_lowercase();
    SHELLS.contains(&name.trim_start_matches('-'))
}

fn passes_through(p: &ProcessInfo) -> bool {
    let by_name = bare(&p.name).to_ascii_lowercase();
    let by_exe = p
        .exe
        .as_ref()
        .and_then(|e| e.file_name())
        .map(|f| bare(&f.to_string_lossy()).to_ascii_lowercase());
    // A login shell's name starts with '-' (`-bash`).
    let by_name = by_name.trim_start_matches('-').to_string();
    let listed = |n: &str| SHELLS.contains(&n) || LAUNCHERS.contains(&n);
    listed(&by_name) || by_exe.is_some_and(|e| listed(&e))
}

/// The program that asked, walking up from `start` (this process's parent) with `info`;
/// `None` when the walk finds nothing but shells (a person typing in a terminal: the
/// terminal's shell is then the program).
pub fn find_caller(start: u32, info: impl Fn(u32) -> Option<ProcessInfo>) -> Option<Program> {
    let mut pid = start;
    let mut last_shell: Option<ProcessInfo> = None;
    let mut program: Option<ProcessInfo> = None;
    for _ in 0..32 {
        if pid == 0 {
            break;
        }
        let Some(p) = info(pid) else { break };
        if passes_through(&p) {
            pid = p.ppid;
            if is_shell(&p) {
                last_shell = Some(p);
            }
            continue;
        }
        program = Some(p);
        break;
    }
    // Typed at a shell prompt: the shell whose parent is a terminal is the program.
    let p = match program {
        Some(p) if VIA.iter().any(|(n, _)| *n == bare(&p.name)) => last_shell.unwrap_or(p),
        Some(p) => p,
        None => last_shell?,
    };
    let mut via = None;
    let mut up = p.ppid;
    for _ in 0..32 {
        if up <= 1 {
            break;
        }
        let Some(a) = info(up) else { break };
        if let Some((_, label)) = VIA.iter().find(|(n, _)| *n == bare(&a.name)) {
            via = Some(label.to_string());
            break;
        }
        up = a.ppid;
    }
    Some(Program {
        name: bare(&p.name),
        path: p.exe.as_ref().map(|e| e.display().to_string()),
        pid: p.pid,
        cwd: p.cwd.as_ref().map(|c| c.display().to_string()),
        via,
    })
}

/// One process, from the OS.
pub fn process_info(pid: u32) -> Option<ProcessInfo> {
    os::process_info(pid)
}

/// The program that started this process, from the OS.
pub fn caller() -> Option<Program> {
    let me = process_info(std::process::id())?;
    find_caller(me.ppid, process_info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn table<'a>(
        rows: &'a [(u32, u32, &'a str, &'a str)],
    ) -> impl Fn(u32) -> Option<ProcessInfo> + 'a {
        move |pid| {
            rows.iter().find(|r| r.0 == pid).map(|r| ProcessInfo {
                pid: r.0,
                ppid: r.1,
                exe: Some(PathBuf::from(r.3)),
                name: r.2.into(),
                cwd: Some(PathBuf::from("/work")),
            })
        }
    }

    #[test]
    fn shells_and_latchkey_are_passed_through_to_the_program() {
        let t = [
            (1, 0, "systemd", "/usr/lib/systemd/systemd"),
            (10, 1, "sshd", "/usr/sbin/sshd"),
            (20, 10, "bash", "/usr/bin/bash"),
            (30, 20, "python3.11", "/usr/bin/python3.11"),
            (40, 30, "sh", "/usr/bin/dash"),
            (50, 40, "latchkey", "/usr/bin/latchkey"),
        ];
        let p = find_caller(40, table(&t)).unwrap();
        assert_eq!(p.name, "python3.11");
        assert_eq!(p.path.as_deref(), Some("/usr/bin/python3.11"));
        assert_eq!(p.pid, 30);
        assert_eq!(p.via.as_deref(), Some("an SSH session"));
    }

    #[test]
    fn a_person_at_a_prompt_is_their_shell_in_their_terminal() {
        let t = [
            (
                5,
                1,
                "gnome-terminal-",
                "/usr/libexec/gnome-terminal-server",
            ),
            (6, 5, "-bash", "/usr/bin/bash"),
        ];
        let t2 = [
            (
                5,
                1,
                "gnome-terminal-server",
                "/usr/libexec/gnome-terminal-server",
            ),
            (6, 5, "bash", "/usr/bin/bash"),
        ];
        let p = find_caller(6, table(&t2)).unwrap();
        assert_eq!(
            (p.name.as_str(), p.via.as_deref()),
            ("bash", Some("GNOME Terminal"))
        );
        // The kernel's short name is cut at 15 characters; the path still tells.
        assert!(find_caller(6, table(&t)).is_some());
    }

    #[test]
    fn launchers_are_never_the_program() {
        // latchkey.exe ← cmd.exe ← start.exe ← (a Linux process Windows cannot see), as Wine.
        let t = [
            (32, 0, "start.exe", "C:\\windows\\system32\\start.exe"),
            (40, 32, "cmd.exe", "C:\\windows\\system32\\cmd.exe"),
        ];
        assert_eq!(find_caller(40, table(&t)).unwrap().name, "cmd");
    }

    #[test]
    fn windows_names_match_without_exe() {
        let t = [
            (
                100,
                4,
                "WindowsTerminal.exe",
                "C:\\Program Files\\WT\\WindowsTerminal.exe",
            ),
            (200, 100, "powershell.exe", "C:\\Windows\\powershell.exe"),
            (300, 200, "node.exe", "C:\\Program Files\\nodejs\\node.exe"),
            (400, 300, "cmd.exe", "C:\\Windows\\System32\\cmd.exe"),
        ];
        let p = find_caller(400, table(&t)).unwrap();
        assert_eq!(p.name, "node");
        assert_eq!(p.via.as_deref(), Some("Windows Terminal"));
    }
}
