//! `latchkey mcp add / list / remove` (issue 38) against real-looking settings files of each
//! AI app, with other servers, comments where the format allows them, and a broken one. The
//! entry written is then run exactly as the app would run it, by the official TypeScript
//! SDK's stdio client, against the SDK's server behind the test IdP.

use latchkey_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Each app's settings file under a home, and a file as the app (or the person) left it.
fn apps() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            "{\n  \"mcpServers\": {\n    \"filesystem\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/home/me/Documents\"]\n    }\n  },\n  \"globalShortcut\": \"Ctrl+Space\"\n}\n",
        ),
        (
            "claude-code",
            ".claude.json",
            "{\n  \"numStartups\": 42,\n  \"projects\": {\n    \"/home/me/src/app\": { \"allowedTools\": [], \"mcpServers\": {} }\n  },\n  \"mcpServers\": {\n    \"sentry\": { \"type\": \"http\", \"url\": \"https://mcp.sentry.dev/mcp\" }\n  },\n  \"userID\": \"0123abcd\"\n}\n",
        ),
        (
            "cursor",
            ".cursor/mcp.json",
            "{\n\t\"mcpServers\": {\n\t\t\"linear\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\"-y\", \"mcp-remote\", \"https://mcp.linear.app/sse\"]\n\t\t}\n\t}\n}\n",
        ),
        (
            "vscode",
            ".config/Code/User/mcp.json",
            "{\n  // Servers I use at work\n  \"servers\": {\n    \"github\": {\n      \"type\": \"http\",\n      \"url\": \"https://api.githubcopilot.com/mcp/\", // remote\n    },\n  },\n  \"inputs\": [],\n}\n",
        ),
        (
            "windsurf",
            ".codeium/windsurf/mcp_config.json",
            "{\n    \"mcpServers\": {\n        \"notion\": {\n            \"serverUrl\": \"https://mcp.notion.com/mcp\"\n        }\n    }\n}\n",
        ),
        (
            "zed",
            ".config/zed/settings.json",
            "// Zed settings\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": {\n    /* my own */\n    \"postgres\": { \"command\": \"pg-mcp\", \"args\": [], \"env\": {} },\n  },\n  \"vim_mode\": true,\n}\n",
        ),
    ]
}

/// A person's home with every app's settings file in place.
fn home_with_apps(home: &TestHome) -> PathBuf {
    let h = home.path().join("person");
    for (_, rel, text) in apps() {
        let p = h.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    h
}

fn run_as(home: &TestHome, person: &Path, args: &[&str]) -> std::process::Output {
    let h = person.to_str().unwrap();
    let config = person.join(".config");
    home.run_env(
        args,
        None,
        &[("HOME", h), ("XDG_CONFIG_HOME", config.to_str().unwrap())],
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn backup_of(p: &Path) -> PathBuf {
    let mut n = p.file_name().unwrap().to_os_string();
    n.push(".latchkey-backup");
    p.with_file_name(n)
}

/// A settings file's text as data (comments and trailing commas allowed).
fn parsed(text: &str) -> Value {
    jsonc_parser::parse_to_serde_value::<Value>(text, &Default::default()).unwrap()
}

fn servers_key(app: &str) -> &'static str {
    match app {
        "vscode" => "servers",
        "zed" => "context_servers",
        _ => "mcpServers",
    }
}

/// Runs an entry's command and args as the AI app would, with the TypeScript SDK's client.
fn run_entry(home: &TestHome, entry: &Value, browser: &Path) -> Value {
    let spec = json!({
        "command": entry["command"],
        "args": entry["args"],
        "env": { "LATCHKEY_HOME": home.path(), "LATCHKEY_BROWSER": browser },
        "steps": [{"call": "echo", "args": {"text": "from the app's entry"}}],
    });
    let child = Command::new("node")
        .arg(root().join("tests/idp/mcp-client.mjs"))
        .env("MCP_CLIENT", spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let o = wait_output(child, Duration::from_secs(120));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    out.lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report: {out} / {}", stderr_of(&o)))
}

/// Every app gets its own shape, beside its other servers, comments and settings; --dry-run
/// writes nothing; the "another site" question is asked when the bridge is set up, and the
/// entry then runs without it; a second add changes nothing; remove restores the file.
#[test]
fn every_ai_app_gets_its_own_entry_and_keeps_everything_else() {
    let idp = Idp::start();
    let home = TestHome::new();
    let person = home_with_apps(&home);
    let port = idp.issuer.rsplit(':').next().unwrap().to_string();
    let url = format!("http://localhost:{port}/sdk-mcp");
    let mut all = vec!["mcp", "add", "work-tools", url.as_str()];
    for (app, _, _) in apps() {
        all.extend(["--app", app]);
    }

    // --dry-run: the change for every file on stdout, nothing written, the server not asked.
    let mut dry = all.clone();
    dry.push("--dry-run");
    let o = run_as(&home, &person, &dry);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let diff = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(diff.matches("+++ ").count(), 6, "{diff}");
    assert_eq!(diff.matches("\"work-tools\"").count(), 6, "{diff}");
    for (_, rel, text) in apps() {
        assert_eq!(
            read(&person.join(rel)),
            text,
            "{rel} untouched by --dry-run"
        );
        assert!(!backup_of(&person.join(rel)).exists());
    }
    assert!(
        home.index()["providers"]
            .as_array()
            .is_none_or(|p| p.is_empty()),
        "--dry-run asked the server nothing and set nothing up"
    );

    // The sign-in site is another site than the server: with no terminal to ask on and no
    // --yes, nothing is written and the fix names both ways.
    let o = run_as(&home, &person, &all);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr_of(&o);
    assert!(e.contains("--yes") && e.contains("terminal"), "{e}");
    for (_, rel, text) in apps() {
        assert_eq!(
            read(&person.join(rel)),
            text,
            "{rel} untouched after a refusal"
        );
    }

    let mut yes = all.clone();
    yes.push("--yes");
    let o = run_as(&home, &person, &yes);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let said = stderr_of(&o);
    assert_eq!(said.matches("Added work-tools to").count(), 6, "{said}");
    let program = bin().canonicalize().unwrap();
    let mut entries = Vec::new();
    for (app, rel, text) in apps() {
        let path = person.join(rel);
        let now = read(&path);
        assert_eq!(
            read(&backup_of(&path)),
            text,
            "{app}: the backup is the file as it was"
        );
        let v = parsed(&now);
        let before = parsed(text);
        let key = servers_key(app);
        let entry = v[key]["work-tools"].clone();
        assert_eq!(entry["command"], program.to_str().unwrap(), "{app}: {now}");
        assert_eq!(entry["args"], json!(["mcp", "connect", url]), "{app}");
        let typed = entry.get("type").and_then(Value::as_str);
        match app {
            "vscode" | "claude-code" => assert_eq!(typed, Some("stdio"), "{app}"),
            _ => assert_eq!(typed, None, "{app}"),
        }
        // Every other server and setting is as it was.
        let mut without = v.clone();
        without[key].as_object_mut().unwrap().remove("work-tools");
        assert_eq!(without, before, "{app}: {now}");
        // Comments stay where the format has them.
        for line in text
            .lines()
            .filter(|l| l.contains("//") || l.contains("/*"))
        {
            assert!(now.contains(line.trim()), "{app} lost {line:?}: {now}");
        }
        if app == "cursor" {
            assert!(now.contains("\n\t\t\"linear\": {\n"), "tabs kept: {now}");
        }
        entries.push((app, entry));
    }
    // The first start of the entry, exactly as written, signs in once without a question:
    // the answer given at setup is kept for that exact server.
    let browser = test_browser();
    let r = run_entry(&home, &entries[0].1, &browser);
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["steps"][0]["text"], "from the app's entry", "{r}");
    let r = run_entry(&home, &entries[5].1, &browser);
    assert_eq!(r["steps"][0]["text"], "from the app's entry", "{r}");

    // list: the bridges and the others, from every app.
    let o = run_as(&home, &person, &["mcp", "list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 12, "{listed:?}");
    let bridges: Vec<_> = listed.iter().filter(|l| !l["bridge"].is_null()).collect();
    assert_eq!(bridges.len(), 6);
    assert!(bridges.iter().all(|b| b["bridge"]["url"] == url.as_str()));
    let text =
        String::from_utf8_lossy(&run_as(&home, &person, &["mcp", "list"]).stdout).to_string();
    assert!(text.contains("mcp-remote"), "{text}");

    // The same add again changes nothing.
    let o = run_as(&home, &person, &yes);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr_of(&o).matches("nothing to change").count(),
        6,
        "{}",
        stderr_of(&o)
    );

    // remove takes out the bridge and leaves the rest as it was.
    let o = run_as(&home, &person, &["mcp", "remove", "work-tools"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    for (app, rel, text) in apps() {
        let now = read(&person.join(rel));
        assert_eq!(parsed(&now), parsed(text), "{app}: {now}");
    }
    let o = run_as(&home, &person, &["mcp", "remove", "work-tools"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("latchkey mcp list"),
        "{}",
        stderr_of(&o)
    );
}

/// A file the app could not read either is refused naming its line, and nothing is written
/// to any app in that command; a strict-JSON app refuses a comment.
#[test]
fn a_broken_settings_file_is_refused_naming_its_line_and_nothing_is_written() {
    let home = TestHome::new();
    let person = home_with_apps(&home);
    let cursor = person.join(".cursor/mcp.json");
    let broken = "{\n  \"mcpServers\": {\n    \"linear\": { \"command\": \"npx\" }\n    \"other\": {}\n  }\n}\n";
    std::fs::write(&cursor, broken).unwrap();
    let desktop = person.join(".config/Claude/claude_desktop_config.json");
    let before = read(&desktop);
    for dry in [true, false] {
        let mut args = vec![
            "mcp",
            "add",
            "s",
            "https://mcp.example.com/mcp",
            "--app",
            "claude-desktop",
            "--app",
            "cursor",
            "--yes",
        ];
        if dry {
            args.push("--dry-run");
        }
        let o = run_as(&home, &person, &args);
        assert_eq!(o.status.code(), Some(1));
        let e = stderr_of(&o);
        assert!(
            e.contains(cursor.to_str().unwrap()) && e.contains("line 4") && e.contains("untouched"),
            "{e}"
        );
        assert_eq!(read(&cursor), broken);
        assert_eq!(
            read(&desktop),
            before,
            "no app is written when one file is broken"
        );
        assert!(!backup_of(&desktop).exists());
    }
    std::fs::write(&desktop, "{\n  // Claude Desktop reads no comments\n}\n").unwrap();
    let o = run_as(
        &home,
        &person,
        &[
            "mcp",
            "add",
            "s",
            "https://mcp.example.com/mcp",
            "--app",
            "claude-desktop",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("line 2"), "{}", stderr_of(&o));
    // list names the broken file and still lists the others.
    let o = run_as(&home, &person, &["mcp", "list", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|l| l["app"] == "zed"));
    assert!(stderr_of(&o).contains("line 4"), "{}", stderr_of(&o));
}

/// A name taken by a server that does not run through Latchkey is left alone unless
/// --replace; remove never takes out an entry Latchkey did not write.
#[test]
fn another_programs_entry_is_replaced_only_when_asked_and_never_removed() {
    let home = TestHome::new();
    let person = home_with_apps(&home);
    let cursor = person.join(".cursor/mcp.json");
    let before = read(&cursor);
    // Port 1 on this computer: nothing answers (the tests reach nothing beyond it).
    let add = [
        "mcp",
        "add",
        "linear",
        "http://127.0.0.1:1/sse",
        "--app",
        "cursor",
        "--yes",
    ];
    let o = run_as(&home, &person, &add);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr_of(&o);
    assert!(e.contains("mcp-remote") || e.contains("npx"), "{e}");
    assert!(e.contains("--replace"), "{e}");
    assert_eq!(read(&cursor), before);

    let o = run_as(
        &home,
        &person,
        &["mcp", "remove", "linear", "--app", "cursor"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("does not run through Latchkey"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(read(&cursor), before);

    // --replace with --dry-run shows it; without writes it, the old entry in the backup.
    let mut replace = add.to_vec();
    replace.extend(["--replace", "--dry-run"]);
    let o = run_as(&home, &person, &replace);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("- \t\t\t\"args\": [\"-y\", \"mcp-remote\"")
    );
    assert_eq!(read(&cursor), before);
    replace.pop();
    // The server is not reachable from the tests: the entry is written all the same.
    let o = run_as(&home, &person, &replace);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(read(&backup_of(&cursor)), before);
    let v = parsed(&read(&cursor));
    assert_eq!(
        v["mcpServers"]["linear"]["args"][2],
        "http://127.0.0.1:1/sse"
    );
    assert!(
        stderr_of(&o).contains("Could not reach"),
        "{}",
        stderr_of(&o)
    );
}

/// The window's "Use in an AI app": an API account's details list the AI apps found here;
/// the button writes the same entry `mcp add` does, naming the account; an app set up
/// already says so.
#[test]
fn the_window_sets_an_ai_app_up_from_an_accounts_details() {
    let idp = Idp::start();
    let home = TestHome::new();
    let person = home_with_apps(&home);
    // Windsurf is not installed for this person.
    std::fs::remove_dir_all(person.join(".codeium")).unwrap();
    let port = idp.issuer.rsplit(':').next().unwrap().to_string();
    let url = format!("http://localhost:{port}/sdk-mcp");
    let browser = test_browser().display().to_string();
    let o = home.run_env(
        &["login", "--resource", &url, "--yes"],
        None,
        &[("LATCHKEY_BROWSER", &browser)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let id = accounts_in(&home).list().unwrap()[0].id.clone();
    // Zed already runs this account's bridge.
    let o = run_as(
        &home,
        &person,
        &["mcp", "add", "mine", &url, "--account", &id, "--app", "zed"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));

    let config = person.join(".config").display().to_string();
    let env = [
        ("HOME", person.to_str().unwrap()),
        ("XDG_CONFIG_HOME", config.as_str()),
        ("LATCHKEY_BROWSER", browser.as_str()),
    ];
    let app = WebApp::start(&home, &env);
    let t = Duration::from_secs(30);
    app.wait_for(&format!("[data-account='{id}']"), t);
    app.click_css(&format!("[data-account='{id}'] [aria-haspopup=menu]"));
    app.click_css("[data-action=Details]");
    app.wait_for("[data-ai-app=cursor]", t);
    let text = app.wait_text("Use in an AI app", t);
    for name in ["Claude Desktop", "Claude Code", "Cursor", "VS Code", "Zed"] {
        assert!(
            text.contains(&format!("Add to {name}")) || name == "Zed",
            "{name}: {text}"
        );
    }
    assert!(text.contains("Set up as “mine”"), "{text}");
    assert!(text.contains("Not found here: Windsurf"), "{text}");
    assert!(
        !text.contains("Add to Windsurf") && !text.contains("null"),
        "{text}"
    );
    app.js("document.querySelector('.ai-apps').scrollIntoView()");
    app.screenshot("window-use-in-an-ai-app");

    app.click_css("[data-ai-app=cursor]");
    let text = app.wait_text("Restart Cursor", t);
    assert!(text.contains("Added as “localhost”"), "{text}");
    let cursor = read(&person.join(".cursor/mcp.json"));
    let v = parsed(&cursor);
    let entry = &v["mcpServers"]["localhost"];
    assert_eq!(
        entry["args"],
        json!(["mcp", "connect", url, "--account", id]),
        "{cursor}"
    );
    assert_eq!(
        v["mcpServers"]["linear"]["args"][1], "mcp-remote",
        "the rest kept"
    );
    app.js("document.querySelector('.ai-apps').scrollIntoView()");
    app.screenshot("window-use-in-an-ai-app-added");
    // S42: no token in the file or its backup, only the program, the address and the account.
    let o = home.run(&["token", &id], None);
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.len() > 16, "{}", stderr_of(&o));
    for f in [
        ".cursor/mcp.json",
        ".cursor/mcp.json.latchkey-backup",
        ".config/zed/settings.json",
    ] {
        assert!(!read(&person.join(f)).contains(&token), "{f}");
    }
    // The entry the window wrote runs: the account's token reaches the server.
    let r = run_entry(&home, entry, &test_browser());
    assert_eq!(r["steps"][0]["text"], "from the app's entry", "{r}");
}

/// Issue 38: with the app running, the "another site" question is asked in its window (the
/// command has no terminal): Cancel writes nothing; Continue sets the server up, and the
/// answer is kept for that server.
#[test]
fn the_another_site_question_is_asked_in_the_running_window() {
    let idp = Idp::start();
    let home = TestHome::new();
    let person = home_with_apps(&home);
    let port = idp.issuer.rsplit(':').next().unwrap().to_string();
    let url = format!("http://localhost:{port}/sdk-mcp");
    let app = WebApp::start(&home, &[]);
    let t = Duration::from_secs(30);
    app.wait_for("[data-view=empty]", t);
    let cursor = person.join(".cursor/mcp.json");
    let before = read(&cursor);
    let add = |home: &TestHome| {
        let args = ["mcp", "add", "tools", url.as_str(), "--app", "cursor"];
        std::thread::scope(|s| s.spawn(|| run_as(home, &person, &args)).join().unwrap())
    };
    for (button, code) in [("deny", 1), ("once", 0)] {
        let out = std::thread::scope(|s| {
            let h = s.spawn(|| add(&home));
            let el = app.wait_for("[data-ask-site]", t);
            let text = app.text(&el);
            assert!(
                text.contains(&url) && text.contains("another site"),
                "{text}"
            );
            if button == "once" {
                app.screenshot("window-ask-sign-in-site");
            }
            app.click_css(&format!("[data-ask-site] [data-answer={button}]"));
            h.join().unwrap()
        });
        assert_eq!(out.status.code(), Some(code), "{}", stderr_of(&out));
        if code == 1 {
            assert_eq!(read(&cursor), before, "Cancel writes nothing");
        }
    }
    assert!(parsed(&read(&cursor))["mcpServers"]["tools"].is_object());
    // Kept: the next setup of that server asks nobody.
    let o = run_as(
        &home,
        &person,
        &["mcp", "add", "tools2", &url, "--app", "zed"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
}
