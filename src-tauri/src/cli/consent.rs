//! The gate every hand-out to another program passes (issue 39): the program is found from
//! the OS, the account's policy decides or the person is asked (in the running app's window,
//! else on the terminal at `/dev/tty`), and the hand-out or refusal is recorded.

use crate::accounts::consent::{refusal, verdict_for, Remember, Verdict};
use crate::accounts::Accounts;
use crate::activity::Decision;
use crate::ask::{Answer, Request};
use crate::errors::UserError;
use crate::platform::caller::{caller, Program};
use crate::vault::index::AccountEntry;
use std::time::Duration;

fn unknown_program() -> Program {
    Program {
        name: "an unknown program".into(),
        path: None,
        pid: 0,
        cwd: None,
        via: None,
    }
}

/// Lets `what` of account `id` go to the program that started this command, or refuses with
/// exit 5 (nothing is printed on stdout then). Records either.
pub(super) fn gate(accounts: &Accounts, id: &str, what: &str) -> Result<(), UserError> {
    gate_entry(accounts, &accounts.account(id)?, what)
}

/// [`gate`] for an account entry the caller has read already (`latchkey token`'s hot path
/// reads the index once).
pub(super) fn gate_entry(
    accounts: &Accounts,
    entry: &AccountEntry,
    what: &str,
) -> Result<(), UserError> {
    let id = entry.id.as_str();
    let program = caller().unwrap_or_else(unknown_program);
    let decision = match verdict_for(entry, &program) {
        Verdict::Allow(d) | Verdict::Deny(d) => d,
        Verdict::Ask => ask(accounts, id, what, &program)?,
    };
    accounts.record(id, what, program.clone(), decision);
    if decision.allowed() {
        Ok(())
    } else {
        Err(refusal(id, &program, decision))
    }
}

/// Asks the person: the running app, an app started in the tray for it (on a desktop), or
/// the terminal. Never stdin, the environment or a file: the program could answer those.
fn ask(
    accounts: &Accounts,
    id: &str,
    what: &str,
    program: &Program,
) -> Result<Decision, UserError> {
    let request = Request {
        account: id.to_string(),
        what: what.to_string(),
        address: None,
        site: None,
    };
    let wait = crate::ask::answer_timeout() + Duration::from_secs(15);
    let dir = accounts.vault().dir().to_path_buf();
    let answer = ask_app(&dir, &request, wait)
        .or_else(|| start_app_and_ask(&dir, &request, wait))
        .or_else(|| ask_on_terminal(id, what, program));
    let how = match answer {
        None => return Ok(Decision::NobodyToAsk),
        Some(Answer::Deny) => return Ok(Decision::Denied),
        Some(Answer::TimedOut) => return Ok(Decision::TimedOut),
        Some(Answer::Once) => Remember::Once,
        Some(Answer::Hour) => Remember::Hour,
        Some(Answer::Always) => Remember::Always,
    };
    accounts.remember(id, program, how)?;
    Ok(Decision::Approved)
}

pub(super) fn ask_app(dir: &std::path::Path, request: &Request, wait: Duration) -> Option<Answer> {
    crate::ask::ask_app(dir, request, wait)
}

/// On a desktop with no app running, starts it in the tray and asks it once it listens.
fn start_app_and_ask(dir: &std::path::Path, request: &Request, wait: Duration) -> Option<Answer> {
    let desktop = std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
        || cfg!(any(target_os = "macos", windows));
    if !desktop {
        return None;
    }
    let exe = std::env::current_exe().ok()?.with_file_name(format!(
        "{}{}",
        crate::install::DESKTOP_BIN,
        std::env::consts::EXE_SUFFIX
    ));
    if !exe.is_file() {
        return None;
    }
    eprintln!("latchkey: starting Latchkey to ask you…");
    std::process::Command::new(exe)
        .arg("--minimized")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(a) = ask_app(dir, request, wait) {
            return Some(a);
        }
    }
    None
}

/// Asks on the controlling terminal (`/dev/tty`), never on stdin.
#[cfg(unix)]
fn ask_on_terminal(id: &str, what: &str, program: &Program) -> Option<Answer> {
    use std::io::{BufRead, Write};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let path = program.path.as_deref().unwrap_or("path unknown");
    let cwd = program
        .cwd
        .as_deref()
        .map(|c| format!(", in {c}"))
        .unwrap_or_default();
    let q = format!(
        "Latchkey: {} ({path}{cwd}) asks for the {what} of the account {id}.\nAllow [o]nce, this program for an [h]our, [a]lways, or [N]o? ",
        program.name
    );
    tty.write_all(q.as_bytes()).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(tty).read_line(&mut line).ok()?;
    Some(match line.trim().to_ascii_lowercase().as_str() {
        "o" | "once" => Answer::Once,
        "h" | "hour" => Answer::Hour,
        "a" | "always" => Answer::Always,
        _ => Answer::Deny,
    })
}

#[cfg(not(unix))]
fn ask_on_terminal(_id: &str, _what: &str, _program: &Program) -> Option<Answer> {
    None
}
