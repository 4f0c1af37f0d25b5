//! "Use in an AI app" in an API account's details (issue 38): the AI apps found here, and a
//! button for each that writes the bridge into its settings, as `latchkey mcp add` does.

use super::commands::{accounts, bad, Shared};
use crate::errors::{ExitClass, UserError};
use crate::mcp::apps::App;
use crate::mcp::setup::{add_for_account, apps_for, Added, AppStatus};

/// The MCP server address an account's tokens are for.
fn server_of(state: &Shared<'_>, id: &str) -> Result<String, UserError> {
    let accounts = accounts(state)?;
    let a = accounts.account(id)?;
    let p = accounts.provider(&a.provider)?;
    p.resource.ok_or_else(|| {
        UserError::new(
            "not_an_api_account",
            "This account is not connected for one API or MCP server, so an AI app cannot use it through Latchkey.",
            "Connect the MCP server itself: Add account → an API or MCP server, with its address.",
            ExitClass::Other,
        )
    })
}

/// Every AI app, found here or not, and whether it already reaches this account's server.
#[tauri::command]
pub async fn ai_apps(state: Shared<'_>, id: String) -> Result<Vec<AppStatus>, UserError> {
    let url = server_of(&state, &id)?;
    tauri::async_runtime::spawn_blocking(move || apps_for(&url))
        .await
        .map_err(|_| bad("could not look for AI apps"))
}

/// Writes this account's bridge into `app`'s settings (a backup of the file is kept).
#[tauri::command]
pub async fn ai_app_add(state: Shared<'_>, id: String, app: String) -> Result<Added, UserError> {
    let url = server_of(&state, &id)?;
    let app = App::from_id(&app).ok_or_else(|| bad("unknown AI app"))?;
    tauri::async_runtime::spawn_blocking(move || add_for_account(app, &url, &id))
        .await
        .map_err(|_| bad("could not write the AI app's settings"))?
}
