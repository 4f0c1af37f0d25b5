//! The channel on Windows: a named pipe, one JSON line each way. Its security descriptor
//! admits only this user (and SYSTEM); remote clients are refused; the app names the program
//! from the client's process id, and the command line checks that the pipe's server runs as
//! this user (another user could otherwise create the name first).

use super::connection::answer_one;
use super::{pipe_name, Answer, Handler, Request};
use crate::platform::windows_procs::{current_user_sid, is_this_users};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Asks the desktop app serving `data_dir`; `None` when no app of this user answers.
pub fn ask_app(data_dir: &Path, request: &Request, wait: Duration) -> Option<Answer> {
    use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(pipe_name(data_dir))
        .ok()?;
    let mut server = 0u32;
    // SAFETY: the handle is the open pipe; `server` is a local out-parameter.
    let ok = unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle(), &mut server) } != 0;
    if !ok || !is_this_users(server) {
        tracing::warn!("the ask pipe is not this user's; not used");
        return None;
    }
    let mut line = serde_json::to_string(request).ok()?;
    line.push('\n');
    (&pipe).write_all(line.as_bytes()).ok()?;
    // ReadFile on a pipe has no timeout of its own: the read waits on a thread.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let n = BufReader::new(&pipe).take(4096).read_line(&mut answer);
        let _ = tx.send(n.map(|n| (n, answer)));
    });
    match rx.recv_timeout(wait) {
        Ok(Ok((n, answer))) if n > 0 => serde_json::from_str(answer.trim())
            .ok()
            .or(Some(Answer::Deny)),
        _ => Some(Answer::TimedOut),
    }
}

/// The pipe's security descriptor: full access for this user and SYSTEM, nobody else.
fn security(sid: &str) -> std::io::Result<Vec<u64>> {
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::GetSecurityDescriptorLength;
    let sddl: Vec<u16> = format!("D:P(A;;GA;;;{sid})(A;;GA;;;SY)")
        .encode_utf16()
        .chain([0])
        .collect();
    let mut sd = std::ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated; the descriptor is copied and then freed.
    let copy = unsafe {
        if ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        ) == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let len = GetSecurityDescriptorLength(sd) as usize;
        let mut copy = vec![0u64; len.div_ceil(8)];
        std::ptr::copy_nonoverlapping(sd as *const u8, copy.as_mut_ptr().cast::<u8>(), len);
        LocalFree(sd);
        copy
    };
    Ok(copy)
}

/// Serves the channel for `data_dir` until the process ends.
pub async fn serve(data_dir: PathBuf, handler: Handler) -> std::io::Result<()> {
    use tokio::net::windows::named_pipe::ServerOptions;
    use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
    let name = pipe_name(&data_dir);
    let sid = current_user_sid().ok_or_else(|| std::io::Error::other("no user SID"))?;
    let mut sd = security(&sid)?;
    let mut create = |first: bool| {
        use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
        let mut sa = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: sd.as_mut_ptr().cast(),
            bInheritHandle: 0,
        };
        // SAFETY: `sa` and the descriptor it points to outlive the call.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(
                    &name,
                    (&mut sa as *mut SECURITY_ATTRIBUTES).cast(),
                )
        }
    };
    let mut server = create(true)?;
    tracing::info!("ask channel ready");
    let next = std::sync::atomic::AtomicU64::new(1);
    loop {
        server.connect().await?;
        let client = server;
        server = create(false)?;
        let mut pid = 0u32;
        // SAFETY: the handle is the connected pipe; `pid` is a local out-parameter.
        unsafe { GetNamedPipeClientProcessId(client.as_raw_handle(), &mut pid) };
        let handler = handler.clone();
        let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (read, write) = tokio::io::split(client);
        tokio::spawn(answer_one(read, write, id, pid, handler));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ask::Question;

    /// Under Wine in the test command: the pipe answers this user's client with the handler's
    /// answer, and the question carries what was asked.
    #[test]
    fn the_pipe_answers_this_users_client() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let tx = std::sync::Mutex::new(tx);
        let handler: Handler = std::sync::Arc::new(move |q: Question| {
            let _ = tx.lock().unwrap().send(format!("{} {}", q.account, q.what));
            Box::pin(async { Answer::Hour })
        });
        let d = dir.path().to_path_buf();
        rt.spawn(async move { serve(d, handler).await });
        let req = Request {
            account: "acc-1".into(),
            what: "token".into(),
            address: None,
            site: None,
        };
        let mut answer = None;
        for _ in 0..100 {
            answer = ask_app(dir.path(), &req, Duration::from_secs(10));
            if answer.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(answer, Some(Answer::Hour));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            "acc-1 token"
        );
    }
}
