//! The `latchkey` command line (clap) over the `accounts` service. It never starts GTK or
//! WebKit, and it only starts an async runtime for commands that talk to the network.

use crate::accounts::{AccountView, Accounts};
use crate::errors::{ExitClass, UserError};
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;

/// Latchkey keeps OAuth tokens fresh in your OS keyring and hands them to your tools.
#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey keeps OAuth 2.0 tokens fresh in your OS keyring and hands them to your tools.",
    after_help = "Run `latchkey` with no arguments to open the desktop app.\nExit codes: 0 ok, 1 usage or other error, 2 needs sign-in, 3 credential store unavailable, 4 network or provider error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the providers you can connect (built-in and your own).
    Providers {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List connected accounts.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },
}

/// Runs the CLI with `args` (without the program name); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    crate::logging::init_cli();
    // A lone URL of another scheme (or a broken one) is a link mistake, not a subcommand;
    // answer it without echoing it, since links carry codes and state.
    if let [one] = args.as_slice() {
        if let Some(s) = one.to_str().filter(|s| crate::link::scheme_of(s).is_some()) {
            if let Err(e) = crate::link::validate(s) {
                eprintln!("latchkey: {e}");
                return ExitClass::Other as i32;
            }
        }
    }
    let argv = std::iter::once(OsString::from("latchkey")).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    0
                }
                _ => {
                    // clap's own message, cut to its first line, plus the way out.
                    let rendered = e.render().to_string();
                    let first = rendered
                        .lines()
                        .next()
                        .unwrap_or("invalid arguments")
                        .trim_start_matches("error: ");
                    eprintln!(
                        "latchkey: {} (run `latchkey --help` for usage)",
                        redact_quoted(first)
                    );
                    ExitClass::Other as i32
                }
            };
        }
    };
    let mut out = std::io::stdout().lock();
    match dispatch(cli.command, &mut out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("latchkey: {} — {}", e.message, e.fix);
            e.class as i32
        }
    }
}

fn dispatch(cmd: Command, out: &mut dyn Write) -> Result<i32, UserError> {
    match cmd {
        Command::Providers { json } => providers(json, out),
        Command::List { json } => list(json, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "latchkey", out);
            Ok(0)
        }
    }
}

fn io_err(_: std::io::Error) -> UserError {
    UserError::new(
        "output",
        "Could not write the output.",
        "Check that the output pipe is still open.",
        ExitClass::Other,
    )
}

fn providers(json: bool, out: &mut dyn Write) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let idx = accounts.vault().index()?;
    let mut all = crate::provider::presets();
    all.extend(idx.providers.iter().cloned());
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|p| serde_json::json!({"id": p.id, "name": p.name, "issuer": p.issuer, "builtin": !idx.providers.iter().any(|u| u.id == p.id), "personal_tokens": p.supports_pat}))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(io_err)?;
    } else {
        for p in &all {
            writeln!(out, "{:<12} {}", p.id, p.name).map_err(io_err)?;
        }
    }
    Ok(0)
}

fn list(json: bool, out: &mut dyn Write) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let all = accounts.list()?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&all).unwrap_or_default()
        )
        .map_err(io_err)?;
        return Ok(0);
    }
    if all.is_empty() {
        writeln!(
            out,
            "No accounts yet. Connect one with `latchkey login taskade` or open the app."
        )
        .map_err(io_err)?;
        return Ok(0);
    }
    for a in &all {
        writeln!(out, "{}", list_line(a)).map_err(io_err)?;
    }
    Ok(0)
}

fn list_line(a: &AccountView) -> String {
    let who = a.identity.as_deref().unwrap_or("(unknown)");
    format!("{:<14} {:<10} {:<24} {}", a.id, a.provider, who, a.status)
}

/// Hides long quoted values in clap's messages: a token pasted into argv by mistake must not
/// be echoed back (S19). Short words such as subcommand names stay readable.
fn redact_quoted(line: &str) -> String {
    let mut out = String::new();
    let mut parts = line.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('\'');
        if i % 2 == 0 && part.len() > 24 {
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_redacted_in_usage_errors_s19() {
        let l = redact_quoted("unexpected argument 'tskdp_abcdefghijklmnopqrstuvwxyz0123' found");
        assert_eq!(l, "unexpected argument '…' found");
        assert_eq!(
            redact_quoted("unrecognized subcommand 'bogus'"),
            "unrecognized subcommand 'bogus'"
        );
    }
}
