//! Windows command lines, read the way `CommandLineToArgvW` reads them, and the checks a
//! configured browser command gets on Windows (S29). Pure functions, so every platform's
//! tests run them; only the Windows build uses them for real.

/// Splits a Windows command line into the program and its arguments.
///
/// The program name ends at the first space or tab, or is quoted as a whole (no escapes in
/// it, as Windows reads it). In the arguments, `\"` is a literal quote, `2n` backslashes before
/// a quote are `n` backslashes and the quote toggles quoting, other backslashes are literal,
/// and `""` inside quotes is one literal quote.
pub fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.trim_start_matches([' ', '\t']).chars().peekable();
    // The program name.
    let mut prog = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        for c in chars.by_ref() {
            if c == '"' {
                break;
            }
            prog.push(c);
        }
    }
    while let Some(&c) = chars.peek() {
        if c == ' ' || c == '\t' {
            break;
        }
        prog.push(c);
        chars.next();
    }
    if prog.is_empty() {
        return out;
    }
    out.push(prog);
    // The arguments.
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' if !quoted => {
                if in_arg {
                    out.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            '\\' => {
                let mut n = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    n += 1;
                }
                in_arg = true;
                if chars.peek() == Some(&'"') {
                    cur.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        chars.next();
                        cur.push('"');
                    }
                } else {
                    cur.extend(std::iter::repeat_n('\\', n));
                }
            }
            '"' => {
                in_arg = true;
                if quoted && chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = !quoted;
                }
            }
            c => {
                in_arg = true;
                cur.push(c);
            }
        }
    }
    if in_arg {
        out.push(cur);
    }
    out
}

/// Programs that would read the URL as code rather than as one argument: command
/// interpreters, script hosts and scripts. A URL's `&`, `|`, `^`, `%` and `;` mean something to
/// each of them, and the URL comes partly from the provider (S29).
const INTERPRETERS: &[&str] = &[
    "cmd",
    "command",
    "powershell",
    "pwsh",
    "wscript",
    "cscript",
    "mshta",
    "bash",
    "sh",
    "wsl",
];
const SCRIPT_EXTENSIONS: &[&str] = &["bat", "cmd", "ps1", "vbs", "vbe", "js", "jse", "wsf", "hta"];

/// One argument of a browser command line: literal text, or text with the URL in place of
/// each `%s`.
#[derive(Debug, PartialEq, Eq)]
pub enum Arg {
    /// Passed as it is.
    Text(String),
    /// The URL, with text before and after (`--app=%s`, say).
    Url { before: String, after: String },
}

/// Reads a configured browser command for Windows: the program, then its arguments, with
/// the URL placed where `%s` is or else added last. Refuses an empty command, an interpreter
/// or script as the program (S29), and a `%s` that appears twice.
pub fn browser(line: &str) -> Result<(String, Vec<Arg>), String> {
    let mut parts = split(line).into_iter();
    let prog = parts.next().ok_or_else(|| {
        "The browser command is empty. Name a browser program, e.g. \"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" %s".to_string()
    })?;
    let name = prog
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(&prog)
        .to_ascii_lowercase();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), e.to_string()),
        None => (name.clone(), String::new()),
    };
    if INTERPRETERS.contains(&stem.as_str()) || SCRIPT_EXTENSIONS.contains(&ext.as_str()) {
        return Err(format!(
            "{name} reads the sign-in address as commands, not as one address, so Latchkey will not hand it the address. Name the browser program itself, e.g. \"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" %s, or unset the browser to use your default browser."
        ));
    }
    let mut args = Vec::new();
    let mut placed = false;
    for p in parts {
        match p.split_once("%s") {
            Some((before, after)) => {
                if placed || after.contains("%s") {
                    return Err(
                        "The browser command has %s more than once; keep one, where the address goes."
                            .into(),
                    );
                }
                placed = true;
                args.push(Arg::Url {
                    before: before.into(),
                    after: after.into(),
                });
            }
            None => args.push(Arg::Text(p)),
        }
    }
    if !placed {
        args.push(Arg::Url {
            before: String::new(),
            after: String::new(),
        });
    }
    Ok((prog, args))
}

/// Quotes one argument for a Windows command line so that `CommandLineToArgvW` (and the C
/// runtime) give it back unchanged: the inverse of [`split`] for arguments.
pub fn quote(arg: &str) -> String {
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.extend(std::iter::repeat_n('\\', backslashes));
                backslashes = 0;
                out.push(c);
            }
        }
    }
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_command_line_to_argv() {
        assert_eq!(
            split(r#""C:\Program Files\Mozilla Firefox\firefox.exe" -private-window %s"#),
            vec![
                r"C:\Program Files\Mozilla Firefox\firefox.exe",
                "-private-window",
                "%s"
            ]
        );
        assert_eq!(split(r"C:\a\b.exe  x   y"), vec![r"C:\a\b.exe", "x", "y"]);
        assert_eq!(split(r#"p "a b" c"#), vec!["p", "a b", "c"]);
        assert_eq!(split(r#"p a\"b"#), vec!["p", r#"a"b"#]);
        assert_eq!(split(r#"p a\\"b c""#), vec!["p", r"a\b c"]);
        assert_eq!(split(r"p a\\b"), vec!["p", r"a\\b"]);
        assert_eq!(split(r#"p "a""b""#), vec!["p", r#"a"b"#]);
        assert_eq!(split(r#"p """#), vec!["p", ""]);
        assert_eq!(split("   "), Vec::<String>::new());
        // The program name takes no escapes: a backslash before its closing quote is literal.
        assert_eq!(split(r#""C:\dir\" x"#), vec![r"C:\dir\", "x"]);
    }

    #[test]
    fn quote_is_the_inverse_of_split() {
        for a in [
            "https://idp.example/auth?a=1&b=2|3^4%PATH%;x",
            r#"a"b"#,
            r"C:\dir\",
            r#"\\"\"#,
            "",
            "sp ace\ttab",
        ] {
            let line = format!("prog {}", quote(a));
            assert_eq!(
                split(&line),
                vec!["prog".to_string(), a.to_string()],
                "{line}"
            );
        }
    }

    /// S29: interpreters and scripts are refused as the browser, whatever their path or case.
    #[test]
    fn interpreters_and_scripts_are_refused_as_the_browser_s29() {
        for bad in [
            "cmd /c start %s",
            r"C:\Windows\System32\CMD.EXE /c start",
            "powershell -c Start-Process %s",
            "pwsh.exe %s",
            r#""C:\tools\open browser.bat" %s"#,
            r"C:\x\open.CMD",
            "wscript open.vbs %s",
            "mshta %s",
        ] {
            let e = browser(bad).unwrap_err();
            assert!(e.contains("Name the browser program itself"), "{bad}: {e}");
        }
        assert!(browser("  ").unwrap_err().contains("empty"));
        assert!(browser("firefox %s %s")
            .unwrap_err()
            .contains("more than once"));
    }

    #[test]
    fn the_url_goes_where_percent_s_is_or_last() {
        let (p, a) = browser(
            r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --app=%s --new-window"#,
        )
        .unwrap();
        assert_eq!(p, r"C:\Program Files\Google\Chrome\Application\chrome.exe");
        assert_eq!(
            a,
            vec![
                Arg::Url {
                    before: "--app=".into(),
                    after: String::new()
                },
                Arg::Text("--new-window".into())
            ]
        );
        let (p, a) = browser("firefox.exe -private-window").unwrap();
        assert_eq!(p, "firefox.exe");
        assert_eq!(
            a,
            vec![
                Arg::Text("-private-window".into()),
                Arg::Url {
                    before: String::new(),
                    after: String::new()
                }
            ]
        );
    }
}
