//! Token endpoint answers, through the real path: Latchkey's HTTP client (size cap, status
//! classification), oauth2's response types and the refresh outcome. A loopback server in
//! this process answers each request with the fuzz input; the first byte picks the status.
//! Nothing may panic, and nothing but Refreshed may come from a non-2xx answer.
#![no_main]
use latchkey::oauth::http::Http;
use latchkey::oauth::{refresh, ClientConfig, RefreshOutcome};
use latchkey::provider::{ClientAuth, ProviderSpec};
use latchkey::secret::Secret;
use latchkey::vault::TokenRecord;
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};

static ANSWER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct World {
    rt: tokio::runtime::Runtime,
    http: Http,
    provider: ProviderSpec,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = ANSWER.lock().unwrap().clone();
                let _ = s.write_all(&answer);
            }
        });
        let mut p = ProviderSpec::new("idp", "IdP");
        p.token_url = Some(format!("http://127.0.0.1:{port}/token"));
        World {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: Http::new().unwrap(),
            provider: p,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let status = [200u16, 200, 400, 401, 429, 500, 503, 302][pick as usize % 8];
    let mut answer = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    *ANSWER.lock().unwrap() = answer;
    let w = world();
    let client = ClientConfig {
        id: "client".into(),
        secret: None,
        auth: ClientAuth::None,
    };
    let current = TokenRecord {
        access_token: Secret::new("old-access"),
        refresh_token: Some(Secret::new("old-refresh")),
        expires_at: Some(1),
        token_type: "Bearer".into(),
        scopes: vec![],
        issued_at: 0,
        id_token: None,
        dpop_key: None,
    };
    let out = w
        .rt
        .block_on(refresh(&w.http, &w.provider, &client, &current, 1_000));
    match out {
        RefreshOutcome::Refreshed(rec) => {
            assert!((200..300).contains(&status), "Refreshed from a {status}");
            // S14: a refresh answer without a refresh token keeps the old one.
            assert!(rec.refresh_token.is_some());
        }
        RefreshOutcome::NeedsSignIn(e) | RefreshOutcome::Failed(e) => {
            let _ = (e.code(), e.fix(), e.to_string());
        }
        RefreshOutcome::Transient { error, .. } => {
            let _ = (error.code(), error.fix());
        }
    }
});
