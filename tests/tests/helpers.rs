//! Issue 27: the tools people already use ask Latchkey directly. Real git (2.47 with Bearer
//! credentials, Debian's 2.39 with a token as password) clones and pushes over smart HTTP from
//! a server that takes only the test IdP's tokens, across a token expiry; the Python
//! Kubernetes client runs `latchkey kube-credential`; docker's credential helper protocol; and
//! bad input to each.

use latchkey_e2e::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// One of `tests/tools/servers.py`'s stand-ins; stopped on drop.
struct Stand {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Stand {
    fn start(kind: &str, issuer: &str, repos: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.log");
        let mut c = Command::new("python3");
        c.arg(root().join("tests/tools/servers.py"))
            .args([kind, issuer]);
        if let Some(r) = repos {
            c.arg(r);
        }
        let mut child = c
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).expect("port line");
        Stand {
            child,
            port: v["port"].as_u64().unwrap() as u16,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// (kind, token digest, status) per request.
    fn requests(&self) -> Vec<(String, String, u16)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let p: Vec<&str> = l.split(' ').collect();
                (p[0].to_string(), p[1].to_string(), p[2].parse().unwrap())
            })
            .collect()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PATH with the freshly built `latchkey` first, as an installed one would be.
fn path_with_latchkey() -> String {
    format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A provider whose API base is `base`, and an account signed in there.
fn account_for(home: &TestHome, idp: &Idp, provider: &str, base: &str) -> String {
    let o = run_against(
        home,
        idp,
        &[
            "provider",
            "add",
            provider,
            "--issuer",
            &idp.issuer,
            "--api-base",
            base,
        ],
        None,
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run_against(home, idp, &["login", provider], None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn git(gitbin: &str, home: &TestHome, cfg: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(gitbin)
        .args(args)
        .current_dir(dir)
        .env("LATCHKEY_HOME", home.path())
        .env("GIT_CONFIG_GLOBAL", cfg)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("PATH", path_with_latchkey())
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

fn helper(home: &TestHome, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut c = home.cli();
    c.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn git_clones_and_pushes_across_a_token_expiry_without_a_prompt() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 8,
        ..Default::default()
    });
    let home = TestHome::new();
    let work = tempfile::tempdir().unwrap();
    let repos = work.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let init = Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(repos.join("repo.git"))
        .status()
        .unwrap();
    assert!(init.success());
    let server = Stand::start("git", &idp.issuer, Some(&repos));
    let id = account_for(&home, &idp, "gitcorp", &format!("{}/", server.url()));

    // `--setup` writes the helper line into the (test's own) global git config.
    let cfg = work.path().join("gitconfig");
    std::fs::write(
        &cfg,
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
    )
    .unwrap();
    let o = home
        .cli()
        .env("GIT_CONFIG_GLOBAL", &cfg)
        .args(["git-credential", "--setup", &server.url()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let written = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        written.contains(&format!("[credential \"{}\"]", server.url()))
            && written.contains("helper = !latchkey git-credential"),
        "{written}"
    );

    for (n, gitbin, kind) in [
        (1, "/usr/local/bin/git", "bearer"),
        (2, "/usr/bin/git", "basic"),
    ] {
        let clone = work.path().join(format!("clone{n}"));
        let before = idp.stats()["token_requests"].as_u64().unwrap();
        let o = git(
            gitbin,
            &home,
            &cfg,
            work.path(),
            &["clone", "-q", &format!("{}/repo.git", server.url())],
        );
        assert!(o.status.success(), "{gitbin} clone: {}", stderr_of(&o));
        println!(
            "$ {gitbin} clone {}/repo.git   # {}\n{}(exit 0)",
            server.url(),
            String::from_utf8_lossy(
                &Command::new(gitbin)
                    .arg("--version")
                    .output()
                    .unwrap()
                    .stdout
            )
            .trim(),
            stderr_of(&o)
        );
        std::fs::rename(work.path().join("repo"), &clone).unwrap();
        std::fs::write(clone.join(format!("file{n}.txt")), "hello\n").unwrap();
        for args in [&["add", "."][..], &["commit", "-q", "-m", "a change"][..]] {
            let o = git(gitbin, &home, &cfg, &clone, args);
            assert!(o.status.success(), "{}", stderr_of(&o));
        }
        // The token the clone used expires before the push.
        std::thread::sleep(Duration::from_secs(9));
        let o = git(
            gitbin,
            &home,
            &cfg,
            &clone,
            &["push", "-q", "origin", "HEAD"],
        );
        assert!(o.status.success(), "{gitbin} push: {}", stderr_of(&o));
        println!(
            "(9 s later: the clone's token has expired)\n$ {gitbin} push origin HEAD\n{}(exit 0)\nserver saw: {:?}",
            stderr_of(&o),
            server.requests()
        );
        assert!(
            idp.stats()["token_requests"].as_u64().unwrap() > before,
            "the push's token was refreshed"
        );
        let accepted: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|(_, _, s)| *s == 200)
            .collect();
        assert!(
            accepted.iter().any(|(k, _, _)| k == kind),
            "{gitbin} sent the token as {kind}: {accepted:?}"
        );
    }
    let log = Command::new("git")
        .args(["--git-dir"])
        .arg(repos.join("repo.git"))
        .args(["log", "--oneline", "main"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout).lines().count(),
        2,
        "both pushes reached the server"
    );

    // A host the account is not bound to gets nothing: the helper is quiet, git fails
    // without a prompt, and no token reaches that server.
    let other = format!("http://localhost:{}", server.port);
    let o = helper(
        &home,
        &["git-credential", "get"],
        &format!("protocol=http\nhost=localhost:{}\n\n", server.port),
        &[],
    );
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    let o = Command::new("/usr/local/bin/git")
        .args(["ls-remote", &format!("{other}/repo.git")])
        .env("LATCHKEY_HOME", home.path())
        .env("GIT_CONFIG_GLOBAL", &cfg)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("PATH", path_with_latchkey())
        .output()
        .unwrap();
    assert!(!o.status.success());
    // `erase` (git's word for "that token was refused") refreshes and never deletes.
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    let o = helper(
        &home,
        &["git-credential", "erase"],
        &format!("protocol=http\nhost=127.0.0.1:{}\n\n", server.port),
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(idp.stats()["token_requests"].as_u64().unwrap(), before + 1);
    assert!(accounts_in(&home)
        .list()
        .unwrap()
        .iter()
        .any(|a| a.id == id));
}

#[test]
fn the_python_kubernetes_client_gets_its_token_from_latchkey_across_an_expiry() {
    let python = root().join("tests/tools/.venv/bin/python");
    assert!(
        python.exists(),
        "run `python3 -m venv tests/tools/.venv && tests/tools/.venv/bin/pip install -r tests/tools/requirements.txt` first (the test command does)"
    );
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 8,
        ..Default::default()
    });
    let home = TestHome::new();
    let api = Stand::start("kube", &idp.issuer, None);
    let id = account_for(&home, &idp, "kubecorp", &format!("{}/", api.url()));
    // The setup's words, pasted into a kubeconfig.
    let o = home.run(
        &[
            "kube-credential",
            &id,
            "--setup",
            "--cluster",
            "test",
            "--server",
            &api.url(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let stanza = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(stanza.contains("interactiveMode: Never"), "{stanza}");
    let users = stanza
        .split("contexts:")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n{users}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: latchkey-{id}\ncurrent-context: test\n",
            api.url()
        ),
    )
    .unwrap();
    let script = "import sys, time\nfrom kubernetes import client, config\nconfig.load_kube_config(config_file=sys.argv[1])\nv1 = client.CoreV1Api()\nprint(v1.list_namespace().items[0].metadata.name, flush=True)\ntime.sleep(10)\nconfig.load_kube_config(config_file=sys.argv[1])\nv1 = client.CoreV1Api()\nprint(v1.list_namespace().items[0].metadata.name, flush=True)\n";
    let o = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&kubeconfig)
        .env("LATCHKEY_HOME", home.path())
        .env("PATH", path_with_latchkey())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr_of(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "default\ndefault\n");
    let seen = api.requests();
    assert!(
        seen.iter().all(|(k, _, s)| k == "bearer" && *s == 200),
        "{seen:?}"
    );
    let tokens: std::collections::BTreeSet<_> = seen.iter().map(|(_, t, _)| t.clone()).collect();
    assert_eq!(tokens.len(), 2, "a new token after the expiry: {seen:?}");

    // The ExecCredential itself, and a cluster the account is not bound to.
    let o = home.run_env(
        &["kube-credential", &id],
        None,
        &[(
            "KUBERNETES_EXEC_INFO",
            &format!(
                r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{{"interactive":false,"cluster":{{"server":"{}"}}}}}}"#,
                api.url()
            ),
        )],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let cred: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cred["kind"], "ExecCredential");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(
        idp.check_token(cred["status"]["token"].as_str().unwrap()),
        200
    );
    assert!(cred["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let o = home.run_env(
        &["kube-credential", &id],
        None,
        &[(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"cluster":{"server":"https://elsewhere.example"}}}"#,
        )],
    );
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    assert!(
        stderr_of(&o).contains("may not send tokens to"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn docker_and_json_helpers_answer_for_bound_registries_only_and_bad_input_is_clear() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = account_for(
        &home,
        &idp,
        "registrycorp",
        "https://registry.corp.example/",
    );
    let docker = root().join("src-tauri/packaging/linux/docker-credential-latchkey");
    let run_docker = |action: &str, stdin: &str| {
        let mut c = Command::new(&docker);
        c.arg(action)
            .env("LATCHKEY_HOME", home.path())
            .env("PATH", path_with_latchkey())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = run_docker("get", "registry.corp.example\n");
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ServerURL"], "registry.corp.example");
    assert_eq!(v["Username"], "oauth2");
    assert_eq!(idp.check_token(v["Secret"].as_str().unwrap()), 200);
    let o = run_docker("get", "other.example\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "credentials not found in native keychain"
    );
    let o = run_docker("list", "");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["https://registry.corp.example/"], "oauth2", "{v}");
    for action in ["store", "erase"] {
        let o = run_docker(
            action,
            "{\"ServerURL\":\"x\",\"Username\":\"u\",\"Secret\":\"s\"}",
        );
        assert!(o.status.success() && o.stdout.is_empty());
    }

    // token --json
    let o = home.run(&["token", &id, "--json"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["token_type"].as_str().unwrap().to_lowercase(), "bearer");
    assert!(v["expires_at"].as_i64().unwrap() > 0);
    assert!(v["scopes"].is_array());
    assert_eq!(idp.check_token(v["access_token"].as_str().unwrap()), 200);

    // Bad input: a clear line on stderr, the tool's exit code, nothing on stdout.
    /// (arguments, stdin, extra environment, words the message must hold)
    type Case<'a> = (Vec<&'a str>, &'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["git-credential", "get"],
            "no equals sign here\n",
            vec![],
            "without '='",
        ),
        (
            vec!["git-credential", "get"],
            "\n",
            vec![],
            "names no protocol and host",
        ),
        (
            vec!["kube-credential", "no-such-account"],
            "",
            vec![],
            "no-such-account",
        ),
        (
            vec!["docker-credential", "get"],
            "",
            vec![],
            "no registry address",
        ),
        (
            vec!["docker-credential", "frobnicate"],
            "",
            vec![],
            "not get, list, store or erase",
        ),
        (
            vec!["git-credential", "get"],
            "protocol=https\nhost=registry.corp.example\n\n",
            vec![("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
            "keyring",
        ),
    ];
    for (args, stdin, env, words) in cases {
        let o = helper(&home, &args, stdin, &env);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            o.stdout.is_empty(),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&o.stdout)
        );
        let e = stderr_of(&o);
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains(words), "{args:?}: {e}");
    }
}
