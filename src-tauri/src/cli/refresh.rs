//! `latchkey refresh`: refresh one account, or all of them, now.

use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::UserError;

pub(super) fn refresh(account: Option<&str>, all: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let ids: Vec<String> = if all {
        accounts.list()?.into_iter().map(|a| a.id).collect()
    } else {
        vec![accounts.resolve(account)?]
    };
    let rt = runtime()?;
    // Several accounts refresh at once, under the same cap as the app's refresher; each one
    // still takes its own lock, so a running app or another command never double-refreshes.
    let results = rt.block_on(async {
        let limit =
            std::sync::Arc::new(tokio::sync::Semaphore::new(crate::refresh::MAX_CONCURRENT));
        let mut set = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().cloned().enumerate() {
            let (accounts, limit) = (accounts.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, accounts.refresh_now(&id).await.map(|_| ()))
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                out.push(r);
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    });
    let mut worst = if results.len() == ids.len() { 0 } else { 1 };
    // A refresh that could not reach the provider hands back the stored, still valid token
    // (so scripts keep working); the index says so, and so does this command, with exit 4.
    let notes = accounts.vault().index()?;
    for (i, r) in results {
        let kept = notes
            .account(&ids[i])
            .and_then(|a| a.last_refresh.as_ref())
            .filter(|n| n.outcome == "transient")
            .map(|n| n.detail.clone().unwrap_or_default());
        match (r, kept) {
            (Ok(()), Some(why)) => {
                eprintln!("{}: not refreshed ({why}); the stored token still works and was kept — Latchkey retries later", ids[i]);
                worst = worst.max(crate::errors::ExitClass::Network as i32);
            }
            (Ok(()), None) => eprintln!("{}: refreshed", ids[i]),
            (Err(e), _) => {
                eprintln!("{}: {} — {}", ids[i], e.message, e.fix);
                worst = worst.max(e.class as i32);
            }
        }
    }
    Ok(worst)
}
