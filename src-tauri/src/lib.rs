//! Latchkey: a desktop OAuth 2.0 token manager. Two programs share this library: `latchkey`,
//! the command line (which hands the desktop app and sign-in links on), and `latchkey-desktop`,
//! the app itself, the deep-link receiver and the tray.
//!
//! This file only declares the modules and the two programs' entry points; nothing imports it.

pub mod accounts;
pub mod activity;
pub mod ask;
pub mod browser;
pub mod cli;
pub mod clock;
pub mod desktop;
pub mod errors;
pub mod install;
pub mod launch;
pub mod link;
pub mod logging;
pub mod mcp;
pub mod network_settings;
pub mod oauth;
pub mod paths;
pub mod platform;
pub mod provider;
pub mod refresh;
pub mod secret;
pub mod text;
pub mod vault;

/// The `latchkey` program's entry point: returns the process exit code.
pub fn run_command() -> i32 {
    launch::run_command()
}

/// The `latchkey-desktop` program's entry point: returns the process exit code.
pub fn run() -> i32 {
    launch::run()
}
