//! S14 under load: in-process threads and separate CLI processes refreshing one account.
//! Its own test binary, because the in-process threads need LATCHKEY_TASKADE_BASE set in
//! this process's environment.

use latchkey_e2e::*;
use std::time::{Duration, Instant};

/// S14: 8 threads and 3 processes call fresh_token for 60 s on a 2 s token with rotation;
/// not one grant is lost (no invalid_grant at the IdP).
#[test]
fn concurrent_refreshes_across_threads_and_processes_lose_no_grant_s14() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        rotate: true,
        ..Default::default()
    });
    std::env::set_var(latchkey::provider::TASKADE_BASE_ENV, &idp.issuer);
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let daemon = keyring_daemon_pid();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut procs = Vec::new();
    for _ in 0..3 {
        let script = format!("while [ $(date +%s) -lt {} ]; do \"$0\" token {id} --min-valid 1 >/dev/null || exit 1; done", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60);
        procs.push(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .arg(bin())
                .env("LATCHKEY_HOME", home.path())
                .env("LATCHKEY_TASKADE_BASE", &idp.issuer)
                .spawn()
                .unwrap(),
        );
    }
    let acc = std::sync::Arc::new(accounts_in(&home));
    let mut threads = Vec::new();
    for _ in 0..8 {
        let (acc, id) = (acc.clone(), id.clone());
        threads.push(std::thread::spawn(move || {
            let rt = rt();
            let mut n = 0;
            while Instant::now() < deadline {
                rt.block_on(acc.fresh_token(&id, 1)).expect("fresh_token");
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            n
        }));
    }
    let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    // Hundreds of short-lived clients must not crash the keyring daemon (it aborts when a
    // connection's first call is OpenSession; see third_party/dbus-secret-service/PATCHES.md).
    assert_eq!(
        keyring_daemon_pid(),
        daemon,
        "gnome-keyring-daemon was restarted during the run: it crashed"
    );
    let calls: u32 = joined
        .into_iter()
        .map(|r| r.expect("a fresh_token thread"))
        .sum();
    for mut p in procs {
        assert!(p.wait().unwrap().success(), "a CLI loop failed");
    }
    let stats = idp.stats();
    eprintln!("concurrency: {calls} in-process fresh_token calls; IdP: {stats}");
    assert_eq!(stats["invalid_grant"], 0, "no grant lost: {stats}");
    assert!(
        stats["token_requests"].as_u64().unwrap() >= 20,
        "refreshes happened: {stats}"
    );
    assert!(calls > 100);
    let t = rt().block_on(acc.fresh_token(&id, 1)).unwrap();
    assert_eq!(idp.check_token(t.expose()), 200);
}
