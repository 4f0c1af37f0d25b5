//! The prompt (issue 39): a program asked for an account's token and the account's policy
//! wants the person. The question arrives on the ask channel; the window takes focus and shows
//! it; the answer comes only from the window's buttons (or Escape, a Deny), or it times out.
//! Also the window's views of the activity log and each account's policy.

use super::commands::{accounts, Shared};
use super::state::emit_event;
use super::window::show_main_window;
use crate::activity::Entry;
use crate::ask::{Answer, Question};
use crate::errors::{ExitClass, UserError};
use crate::vault::index::{Approval, Policy};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Manager};

/// Event: a program asks; carries the [`Question`] (no secret).
pub const EVT_ASK: &str = "ask";
/// Event: a question was answered or timed out elsewhere; carries its id.
pub const EVT_ASK_CLOSED: &str = "ask-closed";

/// Questions waiting for the person.
#[derive(Default)]
pub struct Asks(Mutex<HashMap<u64, (Question, tokio::sync::oneshot::Sender<Answer>)>>);

/// Starts serving the ask channel for this data folder.
pub fn start(app: &AppHandle) {
    app.manage(Arc::new(Asks::default()));
    let Ok(a) = super::state::state(app).accounts.clone() else {
        return;
    };
    let dir = a.vault().dir().to_path_buf();
    let handle = app.clone();
    let handler: crate::ask::Handler = Arc::new(move |q: Question| {
        let app = handle.clone();
        Box::pin(async move { ask(&app, q).await })
    });
    tauri::async_runtime::spawn(async move {
        if let Err(e) = crate::ask::serve(dir, handler).await {
            tracing::warn!(error = %e, "the ask channel could not start; programs are refused where a policy asks");
        }
    });
}

async fn ask(app: &AppHandle, mut q: Question) -> Answer {
    if let Ok(a) = super::state::state(app).accounts.clone() {
        if let Ok(e) = a.account(&q.account).map_err(|_| ()).and_then(|e| {
            if q.what == "sign-in-site" {
                Err(())
            } else {
                Ok(e)
            }
        }) {
            let provider = a
                .provider(&e.provider)
                .map(|p| p.name)
                .unwrap_or(e.provider);
            let who = e.label.or(e.identity).unwrap_or_else(|| e.id.clone());
            q.account_name = Some(format!("{who} ({provider})"));
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let asks = app.state::<Arc<Asks>>().inner().clone();
    let id = q.id;
    if let Ok(mut m) = asks.0.lock() {
        m.insert(id, (q.clone(), tx));
    }
    tracing::info!(account = %q.account, program = %q.program.name, "asking the person");
    show_main_window(app);
    emit_event(app, EVT_ASK, q);
    let answer = match tokio::time::timeout(crate::ask::answer_timeout(), rx).await {
        Ok(Ok(a)) => a,
        _ => Answer::TimedOut,
    };
    if let Ok(mut m) = asks.0.lock() {
        m.remove(&id);
    }
    emit_event(app, EVT_ASK_CLOSED, id);
    answer
}

/// The window's answer to question `id`.
#[tauri::command]
pub fn answer_ask(app: AppHandle, id: u64, answer: Answer) -> Result<(), UserError> {
    let asks = app.state::<Arc<Asks>>().inner().clone();
    let tx = asks.0.lock().ok().and_then(|mut m| m.remove(&id));
    match tx {
        Some((_, tx)) => {
            let _ = tx.send(answer);
            Ok(())
        }
        None => Err(UserError::new(
            "ask_gone",
            "That question was already answered or timed out.",
            "If the program still needs the token, it will ask again.",
            ExitClass::Other,
        )),
    }
}

/// Questions waiting now (a window that opened after they were sent shows them).
#[tauri::command]
pub fn pending_asks(app: AppHandle) -> Vec<Question> {
    let asks = app.state::<Arc<Asks>>().inner().clone();
    let m = asks.0.lock();
    let mut v: Vec<Question> = m
        .map(|m| m.values().map(|(q, _)| q.clone()).collect())
        .unwrap_or_default();
    v.sort_by_key(|q| q.id);
    v
}

/// The activity log, newest first (at most 1,000 entries), for one account or all.
#[tauri::command]
pub async fn activity(state: Shared<'_>, id: Option<String>) -> Result<Vec<Entry>, UserError> {
    let a = accounts(&state)?;
    tauri::async_runtime::spawn_blocking(move || {
        a.activity(id.as_deref(), None).map(|mut v| {
            v.truncate(1000);
            v
        })
    })
    .await
    .map_err(|_| super::commands::bad("could not read the activity log"))?
}

/// A program that used an account, for "Used by".
#[derive(Serialize)]
pub struct UsedBy {
    name: String,
    path: Option<String>,
    last: i64,
    count: usize,
}

/// An account's policy, its approvals, and the programs that used it.
#[derive(Serialize)]
pub struct AccountPolicy {
    policy: Policy,
    approvals: Vec<Approval>,
    used_by: Vec<UsedBy>,
}

/// What the details view shows under "Who may use it".
#[tauri::command]
pub async fn account_policy(state: Shared<'_>, id: String) -> Result<AccountPolicy, UserError> {
    let a = accounts(&state)?;
    tauri::async_runtime::spawn_blocking(move || {
        let entry = a.account(&id)?;
        let now = crate::clock::now();
        let mut used: Vec<UsedBy> = Vec::new();
        for e in a.activity(Some(&id), None)? {
            if !e.decision.allowed() {
                continue;
            }
            let key = e
                .program
                .path
                .clone()
                .unwrap_or_else(|| e.program.name.clone());
            match used
                .iter_mut()
                .find(|u| u.path.as_ref().unwrap_or(&u.name) == &key)
            {
                Some(u) => u.count += 1,
                None => used.push(UsedBy {
                    name: e.program.name,
                    path: e.program.path,
                    last: e.at,
                    count: 1,
                }),
            }
        }
        Ok(AccountPolicy {
            policy: entry.policy.unwrap_or_default(),
            approvals: entry
                .approvals
                .into_iter()
                .filter(|ap| ap.until.is_none_or(|u| u > now))
                .collect(),
            used_by: used,
        })
    })
    .await
    .map_err(|_| super::commands::bad("could not read the account"))?
}

/// Sets an account's policy from its details.
#[tauri::command]
pub fn set_policy(state: Shared<'_>, id: String, policy: Policy) -> Result<(), UserError> {
    accounts(&state)?.set_policy(&id, policy)
}

/// Revokes one remembered approval.
#[tauri::command]
pub fn revoke_approval(state: Shared<'_>, id: String, path: String) -> Result<(), UserError> {
    accounts(&state)?.revoke_approval(&id, &path).map(|_| ())
}
