//! What the command line writes and reads: stdout that a provider's text cannot use to
//! control the terminal (S25), JSON, write errors, and a secret read from stdin without echo.

use crate::errors::{ExitClass, UserError};
use crate::secret::Secret;
use std::io::{IsTerminal, Read, Write};

pub(super) fn out_err(_: std::io::Error) -> UserError {
    UserError::new(
        "output",
        "Could not write the output.",
        "Check that the output pipe is still open.",
        ExitClass::Other,
    )
}

/// Text for a terminal: no control characters but line breaks and tabs, so nothing a
/// provider wrote can move the cursor, retitle the window or hide a line (S25, F5). Every
/// error goes through it, and stdout when it is a terminal.
pub(super) fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        s.chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

pub(super) fn println_out(s: &str) -> Result<(), UserError> {
    let mut o = std::io::stdout().lock();
    let s = if o.is_terminal() {
        terminal_safe(s)
    } else {
        s.into()
    };
    writeln!(o, "{s}").map_err(out_err)
}

pub(super) fn json_out<T: serde::Serialize>(v: &T) -> Result<(), UserError> {
    println_out(
        &serde_json::to_string_pretty(v).map_err(|_| out_err(std::io::Error::other("json")))?,
    )
}

pub(super) fn read_stdin_secret(what: &str) -> Result<Secret, UserError> {
    if std::io::stdin().is_terminal() {
        eprint!("Paste the {what} and press Enter (it is not shown): ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        // No echo while the secret is typed or pasted.
        let read = crate::platform::with_echo_off(|| std::io::stdin().read_line(&mut line));
        read.map_err(|_| {
            UserError::new(
                "stdin",
                "Could not read the input.",
                "Try again.",
                ExitClass::Other,
            )
        })?;
        return Ok(Secret::new(line.trim().to_string()));
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|_| {
        UserError::new(
            "stdin",
            "Could not read standard input.",
            "Pipe the value in, e.g. `pass show x | latchkey add-token taskade`.",
            ExitClass::Other,
        )
    })?;
    Ok(Secret::new(s.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S25 (F5): errors and terminal output keep line breaks and lose every other control
    /// character.
    #[test]
    fn terminal_output_loses_control_characters_s25() {
        assert_eq!(
            terminal_safe("read \u{1b}[2J\u{1b}]0;pwned\u{7}\nnext\tline"),
            "read [2J]0;pwned\nnext\tline"
        );
        assert!(matches!(
            terminal_safe("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
