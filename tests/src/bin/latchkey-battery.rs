//! `latchkey-battery`: the full security batteries of SECURITY.md (the test suite runs small
//! samples of the same code). Run with `./dev.sh battery [links|crash]`.
//! Environment: BATTERY_SEED to replay a run; BATTERY_LINKS (default 10000) links through the
//! accounts service (and the loopback listener, unless BATTERY_LOOPBACK), BATTERY_FORWARD (default 10000) through
//! the single-instance forward, BATTERY_COLD (default 25) cold starts; BATTERY_CRASH_RUNS
//! (default 100).
use latchkey_e2e::battery;

fn num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).collect();
    let want = |w: &str| which.is_empty() || which.iter().any(|x| x == w);
    let seed = std::env::var("BATTERY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(battery::seed);
    println!("seed {seed}");
    let mut failed = false;
    if want("links") {
        let n = num("BATTERY_LINKS", 10_000);
        let r = battery::forged_links(
            n,
            num("BATTERY_LOOPBACK", n),
            num("BATTERY_FORWARD", 10_000),
            num("BATTERY_COLD", 25),
            seed,
        );
        println!("Forged links ({:.0} s):", r.seconds);
        for (door, n) in &r.delivered {
            println!("  door {door}: {n}");
        }
        for (kind, n) in &r.kinds {
            println!("  kind {kind}: {n}");
        }
        println!(
            "  refused by `latchkey` before reaching an app: {}",
            r.refused_at_the_door
        );
        println!("  token requests at the IdP: {}", r.token_requests);
        println!(
            "  accounts, providers and keyring unchanged: {}",
            r.unchanged
        );
        println!(
            "  real sign-ins completed afterwards: {}",
            r.real_sign_ins_completed
        );
        for c in &r.changes {
            println!("  CHANGED: {c}");
        }
        if r.seconds > 600.0 && !r.real_sign_ins_completed {
            println!("  (the run took longer than a sign-in may stay pending, 10 minutes: the real sign-ins expired, as S7 requires)");
        }
        failed |= r.token_requests != 0 || !r.unchanged || !r.real_sign_ins_completed;
    }
    if want("crash") {
        let r = battery::crash_runs(num("BATTERY_CRASH_RUNS", 100), seed);
        println!(
            "Crash runs: {} (command line killed {}, app killed {}): usable {}, needs sign-in {}, broken {}",
            r.killed_cli + r.killed_app,
            r.killed_cli,
            r.killed_app,
            r.usable,
            r.needs_sign_in,
            r.broken.len()
        );
        for b in &r.broken {
            println!("  {b}");
        }
        failed |= !r.broken.is_empty();
    }
    std::process::exit(i32::from(failed));
}
