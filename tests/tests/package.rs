//! The Linux packages that `./dev.sh package` builds (the test command builds them from the
//! debug binaries, through the same path): their metadata passes the distributions' own
//! checkers, and the installed app signs in through a link that the desktop itself delivers
//! with `gio open`, to the handler the package's desktop entry registers.
//!
//! As root (CI) the .deb is really installed with dpkg and purged afterwards; otherwise it is
//! extracted into a temporary prefix that PATH and XDG_DATA_DIRS point at (as root too, with
//! LATCHKEY_TEST_EXTRACT=1).

use latchkey_e2e::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

fn packages_dir() -> PathBuf {
    bin()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("packages")
}

fn package(ext: &str) -> PathBuf {
    let dir = packages_dir();
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the packages first: ./dev.sh package dev (the test command does)",
                dir.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == ext))
        .unwrap_or_else(|| panic!("no .{ext} in {}: run ./dev.sh package dev", dir.display()))
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Regular files (not folders) in the .deb, as absolute paths.
fn deb_files(deb: &Path) -> BTreeSet<String> {
    let o = run("dpkg-deb", &["--fsys-tarfile", deb.to_str().unwrap()]);
    assert!(o.status.success());
    let mut tar = Command::new("tar")
        .args(["-t", "-v"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        tar.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    }
    let out = tar.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches('.').to_string())
        .collect()
}

/// The man pages `latchkey-man` writes from the command line's clap definition: one per
/// subcommand.
fn expected_man_pages() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        bin().with_file_name("latchkey-man").to_str().unwrap(),
        &[dir.path().to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut pages: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| format!("/usr/share/man/man1/{}.gz", e.file_name().to_string_lossy()))
        .collect();
    pages.insert("/usr/share/man/man1/latchkey-desktop.1.gz".into());
    pages
}

#[test]
fn the_packages_pass_the_distributions_checks_and_hold_what_an_app_needs() {
    let deb = package("deb");
    let rpm = package("rpm");
    let files = deb_files(&deb);

    // What a desktop app installs, on the usual paths.
    for f in [
        "/usr/bin/latchkey",
        "/usr/bin/latchkey-desktop",
        "/usr/share/applications/dev.latchkey.app.desktop",
        "/usr/share/metainfo/dev.latchkey.app.metainfo.xml",
        "/usr/share/icons/hicolor/scalable/apps/dev.latchkey.app.svg",
        "/usr/share/bash-completion/completions/latchkey",
        "/usr/share/zsh/vendor-completions/_latchkey",
        "/usr/share/fish/vendor_completions.d/latchkey.fish",
        "/usr/share/doc/latchkey/copyright",
        "/usr/share/doc/latchkey/changelog.Debian.gz",
    ] {
        assert!(files.contains(f), "{f} missing from the .deb: {files:#?}");
    }
    for size in [16, 22, 24, 32, 48, 64, 128, 256, 512] {
        let f = format!("/usr/share/icons/hicolor/{size}x{size}/apps/dev.latchkey.app.png");
        assert!(files.contains(&f), "{f} missing");
    }
    let man: BTreeSet<String> = files
        .iter()
        .filter(|f| f.starts_with("/usr/share/man/"))
        .cloned()
        .collect();
    assert_eq!(man, expected_man_pages(), "one man page per subcommand");

    // The desktop entry, as the distributions' checkers see it, with the %u that Tauri's own
    // bundler drops.
    let x = tempfile::tempdir().unwrap();
    let o = run(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), x.path().to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let entry = x
        .path()
        .join("usr/share/applications/dev.latchkey.app.desktop");
    let o = run("desktop-file-validate", &[entry.to_str().unwrap()]);
    assert!(o.status.success(), "desktop-file-validate: {}", text(&o));
    let desktop = std::fs::read_to_string(&entry).unwrap();
    for line in [
        // The installed program by its absolute path: never another one earlier on PATH.
        "Exec=/usr/bin/latchkey-desktop %u",
        "MimeType=x-scheme-handler/dev.latchkey;",
        "Icon=dev.latchkey.app",
        "StartupWMClass=dev.latchkey.app",
    ] {
        assert!(desktop.lines().any(|l| l == line), "{line} in {desktop}");
    }
    let meta = x
        .path()
        .join("usr/share/metainfo/dev.latchkey.app.metainfo.xml");
    let o = run(
        "appstreamcli",
        &["validate", "--no-net", meta.to_str().unwrap()],
    );
    assert!(o.status.success(), "appstreamcli: {}", text(&o));
    let meta = std::fs::read_to_string(&meta).unwrap();
    // Every screenshot the metainfo names is one the README shows.
    let readme = std::fs::read_to_string(
        packages_dir()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("README.md"),
    )
    .unwrap();
    let shots: Vec<&str> = meta
        .split("<image>")
        .skip(1)
        .filter_map(|s| s.split("</image>").next())
        .collect();
    assert!(shots.len() >= 3, "{meta}");
    for s in shots {
        let file = s.rsplit("/main/").next().unwrap();
        assert!(
            readme.contains(file),
            "metainfo screenshot {file} is not in the README"
        );
    }

    // lintian: no errors (warnings are listed in the note, not here).
    let o = run("lintian", &[deb.to_str().unwrap()]);
    let errors: Vec<String> = text(&o)
        .lines()
        .filter(|l| l.starts_with("E:"))
        .map(str::to_string)
        .collect();
    assert!(errors.is_empty(), "lintian errors: {errors:#?}");

    // dependencies from the programs' shared libraries, and a Secret Service provider
    let o = run(
        "dpkg-deb",
        &["-f", deb.to_str().unwrap(), "Depends", "Recommends"],
    );
    let control = text(&o);
    assert!(
        control.contains("libwebkit2gtk-4.1-0") && control.contains("libgtk-3-0"),
        "{control}"
    );
    assert!(control.contains("Recommends: gnome-keyring"), "{control}");

    // The .rpm: its metadata, and the same files as the .deb (less Debian's own doc files).
    let o = run("rpm", &["-qip", rpm.to_str().unwrap()]);
    let info = text(&o);
    assert!(o.status.success(), "{info}");
    assert!(
        info.contains("Name        : latchkey") && info.contains("License     : MIT OR Apache-2.0"),
        "{info}"
    );
    let o = run("rpm", &["-qlp", rpm.to_str().unwrap()]);
    let rpm_files: BTreeSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.replace("/zsh/site-functions/", "/zsh/vendor-completions/"))
        .collect();
    let deb_less_debian: BTreeSet<String> = files
        .iter()
        .filter(|f| !f.ends_with("/copyright") && !f.ends_with("/changelog.Debian.gz"))
        .cloned()
        .collect();
    assert_eq!(rpm_files, deb_less_debian, "the .rpm and the .deb differ");
    let o = run(
        "rpm",
        &["-qp", "--requires", "--recommends", rpm.to_str().unwrap()],
    );
    let reqs = text(&o);
    assert!(
        reqs.contains("libwebkit2gtk-4.1.so.0()(64bit)") && reqs.contains("gnome-keyring"),
        "{reqs}"
    );
}

/// Where the package went: the real system (root) or a prefix; undone on drop.
struct Installed {
    deb: PathBuf,
    prefix: Option<tempfile::TempDir>,
    /// The person's own XDG config and data folders for this test: other suites in the same
    /// session register development builds as handlers in the session's.
    xdg: tempfile::TempDir,
}

impl Installed {
    fn new(deb: &Path) -> Self {
        // LATCHKEY_TEST_EXTRACT=1 takes the non-root path even as root.
        if is_root() && std::env::var_os("LATCHKEY_TEST_EXTRACT").is_none() {
            // A run that died half-way may have left it installed.
            let _ = run("dpkg", &["--purge", "latchkey"]);
            let o = run("dpkg", &["-i", deb.to_str().unwrap()]);
            assert!(o.status.success(), "dpkg -i: {}", text(&o));
            Installed {
                deb: deb.to_path_buf(),
                prefix: None,
                xdg: tempfile::tempdir().unwrap(),
            }
        } else {
            let d = tempfile::tempdir().unwrap();
            let o = run(
                "dpkg-deb",
                &["-x", deb.to_str().unwrap(), d.path().to_str().unwrap()],
            );
            assert!(o.status.success(), "{}", text(&o));
            // What dpkg's desktop-file-utils trigger does on a real install.
            let apps = d.path().join("usr/share/applications");
            let o = run("update-desktop-database", &[apps.to_str().unwrap()]);
            assert!(o.status.success(), "{}", text(&o));
            Installed {
                deb: deb.to_path_buf(),
                prefix: Some(d),
                xdg: tempfile::tempdir().unwrap(),
            }
        }
    }

    fn usr(&self) -> PathBuf {
        match &self.prefix {
            Some(p) => p.path().join("usr"),
            None => PathBuf::from("/usr"),
        }
    }

    fn data_home(&self) -> PathBuf {
        self.xdg.path().join("data")
    }

    fn program(&self, name: &str) -> PathBuf {
        self.usr().join("bin").join(name)
    }

    /// PATH and XDG_DATA_DIRS that find the installed programs and desktop entry.
    fn env(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        let data = std::env::var("XDG_DATA_DIRS")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
        vec![
            (
                "PATH",
                format!("{}:{path}", self.usr().join("bin").display()),
            ),
            (
                "XDG_DATA_DIRS",
                format!("{}:{data}", self.usr().join("share").display()),
            ),
            ("XDG_DATA_HOME", self.data_home().display().to_string()),
            (
                "XDG_CONFIG_HOME",
                self.xdg.path().join("config").display().to_string(),
            ),
        ]
    }

    /// Removes the package and checks that none of its files is left.
    fn remove(mut self) {
        let files = deb_files(&self.deb);
        let root = match self.prefix.take() {
            Some(p) => {
                let r = p.path().to_path_buf();
                drop(p);
                r
            }
            None => {
                let o = run("dpkg", &["--purge", "latchkey"]);
                assert!(o.status.success(), "dpkg --purge: {}", text(&o));
                PathBuf::from("/")
            }
        };
        let left: Vec<&String> = files
            .iter()
            .filter(|f| root.join(f.trim_start_matches('/')).exists())
            .collect();
        assert!(left.is_empty(), "left behind after removal: {left:#?}");
        assert!(!root.join("usr/share/doc/latchkey").exists());
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if self.prefix.is_none() && std::thread::panicking() {
            let _ = run("dpkg", &["--purge", "latchkey"]);
        }
    }
}

fn is_root() -> bool {
    String::from_utf8_lossy(&run("id", &["-u"]).stdout).trim() == "0"
}

fn xdg_default(env: &[(&str, String)]) -> String {
    let o = Command::new("xdg-mime")
        .args(["query", "default", "x-scheme-handler/dev.latchkey"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("xdg-mime (package xdg-utils)");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The handler GIO (and so `gio open`) picks for dev.latchkey: links. Debian's xdg-mime 1.1.3
/// does not read a mimeapps.list default for x-scheme-handler types; GIO does.
fn gio_default(env: &[(&str, String)]) -> String {
    let o = Command::new("gio")
        .args(["mime", "x-scheme-handler/dev.latchkey"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("gio");
    let out = String::from_utf8_lossy(&o.stdout);
    out.lines()
        .next()
        .and_then(|l| l.rsplit(": ").next())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Starts the installed app in a real window, with the test browser delivering the answer.
fn start_installed(inst: &Installed, home: &TestHome, idp: &Idp, delivery: &str) -> WebApp {
    let mut env = inst.env();
    env.push(("LATCHKEY_BROWSER", test_browser().display().to_string()));
    env.push(("LATCHKEY_TEST_DELIVERY", delivery.to_string()));
    env.push((
        "LATCHKEY_BIN",
        inst.program("latchkey").display().to_string(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = WebApp::start_binary(home, &inst.program("latchkey-desktop"), &env);
    app.wait_for("[data-view=empty]", T);
    app.click_css("#connect");
    app.click_css("[data-provider=idp]");
    app.click_css("[data-method=browser]");
    let _ = idp;
    app
}

/// `latchkey token` from the installed program prints a token the IdP accepts.
fn installed_token_works(inst: &Installed, home: &TestHome, idp: &Idp) {
    let o = Command::new(inst.program("latchkey"))
        .args(["token", "idp"])
        .env("LATCHKEY_HOME", home.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "latchkey token: {}", text(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(idp.check_token(&token), 200, "the IdP refused the token");
    installed_helpers_work(inst, home, idp);
}

/// Issue 27: the helpers for other tools, from the installed programs in /usr/bin.
fn installed_helpers_work(inst: &Installed, home: &TestHome, idp: &Idp) {
    let run_with = |program: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]| {
        let mut c = Command::new(inst.program(program));
        c.args(args)
            .env("LATCHKEY_HOME", home.path())
            .envs(inst.env().iter().map(|(k, v)| (*k, v.as_str())))
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let providers: serde_json::Value =
        serde_json::from_slice(&run_with("latchkey", &["providers", "--json"], "", &[]).stdout)
            .unwrap();
    let base = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "idp")
        .and_then(|p| p["api_bases"][0].as_str())
        .expect("the idp provider's API base")
        .to_string();
    let u = url::Url::parse(&base).unwrap();
    let request = format!(
        "protocol={}\nhost={}:{}\npath={}/repo.git\n\n",
        u.scheme(),
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap(),
        u.path().trim_matches('/')
    );
    let o = run_with("latchkey", &["git-credential", "get"], &request, &[]);
    assert!(o.status.success(), "git-credential: {}", text(&o));
    let answer = String::from_utf8_lossy(&o.stdout).to_string();
    let password = answer
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .expect("a password line");
    assert_eq!(idp.check_token(password), 200, "{answer}");
    let info = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{{"cluster":{{"server":"{base}"}}}}}}"#
    );
    let o = run_with(
        "latchkey",
        &["kube-credential", "idp"],
        "",
        &[("KUBERNETES_EXEC_INFO", &info)],
    );
    assert!(o.status.success(), "kube-credential: {}", text(&o));
    let cred: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        idp.check_token(cred["status"]["token"].as_str().unwrap()),
        200
    );
    let o = run_with("docker-credential-latchkey", &["list"], "", &[]);
    assert!(
        o.status.success(),
        "docker-credential-latchkey: {}",
        text(&o)
    );
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[base.as_str()], "oauth2", "{list}");
}

#[test]
fn the_installed_app_signs_in_through_the_link_the_desktop_delivers_s28() {
    require_session();
    let deb = package("deb");
    let inst = Installed::new(&deb);
    let env = inst.env();
    assert_eq!(
        xdg_default(&env),
        "dev.latchkey.app.desktop",
        "the package's entry handles dev.latchkey: links"
    );
    let idp = Idp::start();

    // An earlier portable run registered its own handler in the person's applications folder,
    // and it is the default now. Its program still exists (GIO skips entries whose program is
    // gone); here it is /bin/false, which would swallow the link.
    let own = inst
        .data_home()
        .join("applications/latchkey-desktop-handler.desktop");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(
        &own,
        "[Desktop Entry]\nType=Application\nName=Latchkey\nExec=\"/bin/false\" %u\nTerminal=false\nMimeType=x-scheme-handler/dev.latchkey\nNoDisplay=true\n",
    )
    .unwrap();
    let o = Command::new("xdg-mime")
        .args([
            "default",
            "latchkey-desktop-handler.desktop",
            "x-scheme-handler/dev.latchkey",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        gio_default(&env),
        "latchkey-desktop-handler.desktop",
        "{} / {:?}",
        text(&o),
        std::fs::read_to_string(&own)
    );

    // Warm: the installed app is running; the browser stand-in runs `gio open LINK`, the
    // desktop starts the entry's `latchkey-desktop %u`, which hands the link to the app.
    {
        let home = idp_home(&idp);
        let app = start_installed(&inst, &home, &idp, "gio");
        app.wait_text("Signed in as alice", T);
        installed_token_works(&inst, &home, &idp);
        let log = app.log_text();
        assert!(
            log.contains("installed by a package")
                && !log.contains("registered the dev.latchkey: link handler"),
            "an installed app writes no handler of its own: {log}"
        );
        assert!(
            log.contains("dropped the link handler of an earlier portable run"),
            "{log}"
        );
        assert_eq!(
            gio_default(&env),
            "dev.latchkey.app.desktop",
            "the installed app gave the links back to the package's entry"
        );
        let stale = std::fs::read_to_string(&own).unwrap();
        assert!(
            !stale.contains("MimeType=x-scheme-handler/dev.latchkey"),
            "{stale}"
        );
    }

    // Cold: the sign-in starts, the app quits, then the desktop delivers the link and starts
    // the installed app for it.
    {
        let home = idp_home(&idp);
        let held = tempfile::tempdir().unwrap();
        let file = held.path().join("redirect.txt");
        {
            let app = start_installed(&inst, &home, &idp, &format!("file:{}", file.display()));
            app.wait_for("[data-view=waiting]", T);
            let start = Instant::now();
            while !file.exists() {
                assert!(start.elapsed() < T, "the browser never got the redirect");
                std::thread::sleep(Duration::from_millis(100));
            }
        } // the app is gone
        assert!(app_pids(home.path()).is_empty(), "the app still runs");
        let link = std::fs::read_to_string(&file).unwrap();
        // The app gio starts inherits gio's output: a file, so that no pipe waits on it.
        let log = home.path().join("gio-app.log");
        let st = Command::new("gio")
            .args(["open", &link])
            .env("LATCHKEY_HOME", home.path())
            .env("LATCHKEY_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .status()
            .expect("gio");
        assert!(st.success(), "gio open exited {st}");
        let start = Instant::now();
        while accounts_in(&home).list().unwrap().is_empty() {
            assert!(
                start.elapsed() < T,
                "the cold-started app never stored the account"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        installed_token_works(&inst, &home, &idp);
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(log.contains("sign-in completed"), "{log}");
        let pids = app_pids(home.path());
        assert!(!pids.is_empty(), "gio did not start the installed app");
        for pid in &pids {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
            assert_eq!(
                exe,
                inst.program("latchkey-desktop"),
                "started the wrong program"
            );
        }
        kill_apps(home.path());
    }

    inst.remove();
    assert_ne!(
        xdg_default(&env),
        "dev.latchkey.app.desktop",
        "the handler outlived the package"
    );
}
