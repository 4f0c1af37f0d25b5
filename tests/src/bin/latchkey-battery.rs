//! `latchkey-battery`: the full security batteries of SECURITY.md (the test suite runs small
//! samples of the same code). Run with `./dev.sh battery [links|crash]`.
//! Environment: BATTERY_SEED to replay a run; BATTERY_LINKS (default 10000) links through the
//! accounts service (and the loopback listener, unless BATTERY_LOOPBACK), BATTERY_FORWARD (default 10000) through
//! the single-instance forward, BATTERY_COLD (default 25) cold starts; BATTERY_CRASH_RUNS
//! (default 100). The links go in rounds of at most 2,000 per door, each with fresh real
//! sign-ins, so none outlives the 10 minutes a sign-in may stay pending.
use latchkey_e2e::battery;

/// Links per door in one round of the forged-link battery (about 4 minutes here).
const ROUND: usize = 2_000;

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
        let totals = [
            n,
            num("BATTERY_LOOPBACK", n),
            num("BATTERY_FORWARD", 10_000),
            num("BATTERY_COLD", 25),
        ];
        // Each round starts its own real sign-ins and must finish well inside the 10 minutes
        // they may stay pending (S7); one long run would let them expire before the check.
        let rounds = totals[..3]
            .iter()
            .max()
            .unwrap_or(&0)
            .div_ceil(ROUND)
            .max(1);
        let share =
            |total: usize, round: usize| total / rounds + usize::from(round < total % rounds);
        let mut r: Option<battery::ForgedReport> = None;
        for round in 0..rounds {
            let part = battery::forged_links(
                share(totals[0], round),
                share(totals[1], round),
                share(totals[2], round),
                share(totals[3], round),
                seed.wrapping_add(round as u64),
            );
            println!(
                "  round {}/{rounds}: {:.0} s, unchanged {}, real sign-ins completed {}",
                round + 1,
                part.seconds,
                part.unchanged,
                part.real_sign_ins_completed
            );
            match r.as_mut() {
                Some(r) => r.add(part),
                None => r = Some(part),
            }
        }
        let r = r.expect("at least one round");
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
