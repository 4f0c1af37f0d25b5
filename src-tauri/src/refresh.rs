//! The background refresher: a short fixed tick (sleep and suspend can't make it miss an
//! expiry), an explicit per-account state machine, at most four refreshes at once, and
//! exponential backoff for transient failures. Every refresh goes through
//! `Accounts::fresh_token`, so the app and the CLI never refresh one account at the same time.

use crate::accounts::Accounts;
use crate::vault::index::{AccountEntry, AccountKind, AccountStatus};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the refresher wakes.
pub const TICK: Duration = Duration::from_secs(30);
/// Most refreshes in flight at once.
pub const MAX_CONCURRENT: usize = 4;
/// First backoff after a transient failure, seconds.
pub const BACKOFF_START: i64 = 30;
/// Longest backoff, seconds.
pub const BACKOFF_MAX: i64 = 15 * 60;
/// Personal tokens are re-checked this often, seconds.
pub const PAT_RECHECK: i64 = 24 * 3600;

/// One account's refresh state (pizauth-style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshState {
    /// Nothing to do until the token nears expiry.
    Idle,
    /// A refresh is running.
    Refreshing,
    /// The last `fails` attempts failed transiently; wait until `until` (unix seconds).
    Backoff {
        /// Consecutive transient failures.
        fails: u32,
        /// Next attempt, unix seconds.
        until: i64,
    },
    /// The grant is dead; nothing happens until the person signs in again.
    NeedsSignIn,
}

/// What a tick did, for the tray, the window and notifications.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Accounts refreshed successfully.
    pub refreshed: Vec<String>,
    /// Accounts that just became "needs sign-in" (notify once for each).
    pub newly_needs_sign_in: Vec<String>,
    /// Accounts that failed transiently.
    pub transient: Vec<String>,
}

impl TickReport {
    /// True when anything changed that the UI should show.
    pub fn changed(&self) -> bool {
        !(self.refreshed.is_empty()
            && self.newly_needs_sign_in.is_empty()
            && self.transient.is_empty())
    }
}

/// Refresh margin: the larger of the configured minimum and 20 % of the token's lifetime.
pub fn margin(lifetime: i64, min_margin: i64) -> i64 {
    min_margin.max(lifetime / 5)
}

/// Backoff after `fails` consecutive transient failures: 30 s doubling up to 15 min.
pub fn backoff(fails: u32) -> i64 {
    let shift = fails.saturating_sub(1).min(10);
    (BACKOFF_START << shift).min(BACKOFF_MAX)
}

/// Small deterministic-per-account jitter (0..=min(30 s, margin/10)) so many accounts with
/// the same expiry don't refresh in the same instant.
pub fn jitter(id: &str, margin: i64) -> i64 {
    let h = id
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let span = (margin / 10).clamp(0, 30);
    if span == 0 {
        0
    } else {
        (h % (span as u64 + 1)) as i64
    }
}

/// Whether `a` should be refreshed at `now` given its state.
pub fn is_due(a: &AccountEntry, state: &RefreshState, now: i64, min_margin: i64) -> bool {
    match state {
        RefreshState::Refreshing | RefreshState::NeedsSignIn => false,
        RefreshState::Backoff { until, .. } if *until > now => false,
        _ if a.status == AccountStatus::NeedsSignIn => false,
        _ => match a.kind {
            AccountKind::PersonalToken => {
                let checked = a.last_refresh.as_ref().map_or(a.created, |n| n.at);
                now - checked >= PAT_RECHECK
            }
            _ => match a.expires_at {
                None => false,
                Some(exp) => {
                    let issued = a
                        .last_refresh
                        .as_ref()
                        .filter(|n| n.outcome == "refreshed")
                        .map_or(a.created, |n| n.at);
                    let m = margin(exp - issued, min_margin);
                    exp - now <= m + jitter(&a.id, m)
                }
            },
        },
    }
}

/// The scheduler. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Refresher {
    accounts: Accounts,
    states: Arc<Mutex<HashMap<String, RefreshState>>>,
    notified: Arc<Mutex<HashSet<String>>>,
    paused: Arc<AtomicBool>,
    limit: Arc<tokio::sync::Semaphore>,
}

impl Refresher {
    /// A refresher over `accounts`.
    pub fn new(accounts: Accounts) -> Self {
        Refresher {
            accounts,
            states: Arc::default(),
            notified: Arc::default(),
            paused: Arc::new(AtomicBool::new(false)),
            limit: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT)),
        }
    }

    /// Pauses or resumes background refreshing.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The current state of one account.
    pub fn state(&self, id: &str) -> RefreshState {
        self.states
            .lock()
            .ok()
            .and_then(|s| s.get(id).cloned())
            .unwrap_or(RefreshState::Idle)
    }

    fn set_state(&self, id: &str, st: RefreshState) {
        if let Ok(mut s) = self.states.lock() {
            s.insert(id.to_string(), st);
        }
    }

    /// Forgets an account's failures (after a manual sign-in or refresh).
    pub fn reset(&self, id: &str) {
        if let Ok(mut s) = self.states.lock() {
            s.remove(id);
        }
        if let Ok(mut n) = self.notified.lock() {
            n.remove(id);
        }
    }

    /// One pass: refresh every due account (all of them when `force`), at most four at once.
    pub async fn tick(&self, force: bool) -> TickReport {
        let mut report = TickReport::default();
        if self.is_paused() && !force {
            return report;
        }
        let Ok(idx) = self.accounts.vault().index() else {
            return report;
        };
        let now = crate::clock::now();
        let min_margin = idx.settings.refresh_margin_secs as i64;
        let due: Vec<AccountEntry> = idx
            .accounts
            .into_iter()
            .filter(|a| {
                let st = self.state(&a.id);
                if force {
                    !matches!(st, RefreshState::Refreshing)
                        && a.status != AccountStatus::NeedsSignIn
                } else {
                    is_due(a, &st, now, min_margin)
                }
            })
            .collect();
        let mut tasks = Vec::new();
        for a in due {
            let this = self.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = this.limit.clone().acquire_owned().await;
                this.set_state(&a.id, RefreshState::Refreshing);
                let result = if a.kind == AccountKind::PersonalToken {
                    this.accounts.check_personal_token(&a.id).await
                } else {
                    this.accounts.refresh_now(&a.id).await.map(|_| ())
                };
                (a.id, result)
            }));
        }
        for t in tasks {
            let Ok((id, result)) = t.await else { continue };
            match result {
                Ok(()) => {
                    self.set_state(&id, RefreshState::Idle);
                    report.refreshed.push(id);
                }
                Err(e)
                    if e.code == "needs_sign_in"
                        || e.code == "token_rejected"
                        || e.code == "provider_changed" =>
                {
                    self.set_state(&id, RefreshState::NeedsSignIn);
                    let first = self
                        .notified
                        .lock()
                        .map(|mut n| n.insert(id.clone()))
                        .unwrap_or(false);
                    if first {
                        report.newly_needs_sign_in.push(id);
                    }
                }
                Err(_) => {
                    let fails = match self.state(&id) {
                        RefreshState::Backoff { fails, .. } => fails + 1,
                        _ => 1,
                    };
                    self.set_state(
                        &id,
                        RefreshState::Backoff {
                            fails,
                            until: crate::clock::now() + backoff(fails),
                        },
                    );
                    report.transient.push(id);
                }
            }
        }
        report
    }

    /// Runs forever: a tick every `every`, reporting changes to `on_change`.
    pub async fn run(self, every: Duration, on_change: impl Fn(TickReport) + Send + 'static) {
        loop {
            let report = self.tick(false).await;
            if report.changed() {
                on_change(report);
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::index::RefreshNote;

    fn acct(kind: AccountKind, created: i64, expires: Option<i64>) -> AccountEntry {
        AccountEntry {
            id: "a1".into(),
            provider: "taskade".into(),
            label: None,
            identity: None,
            scopes: vec![],
            expires_at: expires,
            status: AccountStatus::Valid,
            kind,
            client_id: None,
            created,
            updated: created,
            last_refresh: None,
            binding: None,
            subject: None,
            policy: None,
            approvals: Vec::new(),
        }
    }

    #[test]
    fn margin_is_the_larger_of_five_minutes_and_a_fifth_of_the_lifetime() {
        assert_eq!(margin(3600, 300), 720);
        assert_eq!(margin(600, 300), 300);
        assert_eq!(margin(5, 0), 1);
    }

    #[test]
    fn backoff_doubles_from_30_s_to_15_min() {
        assert_eq!(backoff(1), 30);
        assert_eq!(backoff(2), 60);
        assert_eq!(backoff(3), 120);
        assert_eq!(backoff(6), 900);
        assert_eq!(backoff(40), 900);
    }

    #[test]
    fn due_when_inside_the_margin_and_not_before() {
        let a = acct(AccountKind::Oauth, 0, Some(3600));
        assert!(!is_due(&a, &RefreshState::Idle, 2000, 300));
        assert!(is_due(&a, &RefreshState::Idle, 3600 - 720, 300));
        assert!(is_due(&a, &RefreshState::Idle, 4000, 300));
    }

    #[test]
    fn backoff_and_needs_sign_in_hold_refreshes() {
        let a = acct(AccountKind::Oauth, 0, Some(100));
        assert!(!is_due(
            &a,
            &RefreshState::Backoff {
                fails: 1,
                until: 500
            },
            400,
            300
        ));
        assert!(is_due(
            &a,
            &RefreshState::Backoff {
                fails: 1,
                until: 500
            },
            501,
            300
        ));
        assert!(!is_due(&a, &RefreshState::NeedsSignIn, 10_000, 300));
        assert!(!is_due(&a, &RefreshState::Refreshing, 10_000, 300));
        let mut dead = a.clone();
        dead.status = AccountStatus::NeedsSignIn;
        assert!(!is_due(&dead, &RefreshState::Idle, 10_000, 300));
    }

    #[test]
    fn personal_tokens_are_rechecked_daily_and_no_expiry_is_left_alone() {
        let mut p = acct(AccountKind::PersonalToken, 0, None);
        assert!(!is_due(&p, &RefreshState::Idle, 3600, 300));
        assert!(is_due(&p, &RefreshState::Idle, PAT_RECHECK, 300));
        p.last_refresh = Some(RefreshNote {
            at: PAT_RECHECK,
            outcome: "refreshed".into(),
            detail: None,
        });
        assert!(!is_due(&p, &RefreshState::Idle, PAT_RECHECK + 10, 300));
        assert!(!is_due(
            &acct(AccountKind::Oauth, 0, None),
            &RefreshState::Idle,
            1 << 40,
            300
        ));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for id in ["a", "b", "taskade-123456", "x"] {
            let j = jitter(id, 720);
            assert!((0..=30).contains(&j));
        }
        assert_eq!(jitter("a", 5), 0);
    }
}
