//! Windows processes for issue 39: one process from a snapshot, and whose a named pipe's
//! other end is (the ask channel).

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};

/// One process from a process snapshot (issue 39): its parent and name, and its executable's
/// full path from `QueryFullProcessImageNameW`. Windows gives no other process's working
/// directory without reading its memory, so none is given.
pub fn process_info(pid: u32) -> Option<super::process_info::ProcessInfo> {
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W,
        TH32CS_SNAPPROCESS,
    };
    use windows_sys::Win32::System::Threading::{
        OpenProcess, QueryFullProcessImageNameW, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    let wide = |w: &[u16]| {
        String::from_utf16_lossy(&w[..w.iter().position(|c| *c == 0).unwrap_or(w.len())])
    };
    // SAFETY: the snapshot handle is checked and closed; the entry's size is set first.
    let (ppid, name) = unsafe {
        let snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        if snap == INVALID_HANDLE_VALUE {
            return None;
        }
        let mut e: PROCESSENTRY32W = std::mem::zeroed();
        e.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
        let mut found = None;
        let mut more = Process32FirstW(snap, &mut e) != 0;
        while more {
            if e.th32ProcessID == pid {
                found = Some((e.th32ParentProcessID, wide(&e.szExeFile)));
                break;
            }
            more = Process32NextW(snap, &mut e) != 0;
        }
        CloseHandle(snap);
        found?
    };
    // SAFETY: the handle is checked and closed; `len` is the buffer's length in characters.
    let exe = unsafe {
        let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if h.is_null() {
            None
        } else {
            let mut buf = [0u16; 1024];
            let mut len = buf.len() as u32;
            let ok = QueryFullProcessImageNameW(h, 0, buf.as_mut_ptr(), &mut len) != 0;
            CloseHandle(h);
            ok.then(|| std::path::PathBuf::from(String::from_utf16_lossy(&buf[..len as usize])))
        }
    };
    Some(super::process_info::ProcessInfo {
        pid,
        ppid,
        exe,
        name,
        cwd: None,
    })
}

/// This user's SID as a string (`S-1-5-21-…`), for a security descriptor naming only them.
pub fn current_user_sid() -> Option<String> {
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
    use windows_sys::Win32::System::Threading::GetCurrentProcess;
    // SAFETY: the pseudo-handle needs no closing.
    let mut sid = super::windows::user_sid(unsafe { GetCurrentProcess() })?;
    let mut out: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID; the string is freed with LocalFree.
    unsafe {
        if ConvertSidToStringSidW(sid.as_mut_ptr().cast(), &mut out) == 0 {
            return None;
        }
        let len = (0..).take_while(|&i| *out.add(i) != 0).count();
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(out, len));
        LocalFree(out.cast());
        Some(s)
    }
}

/// True when process `pid` runs as this user.
pub fn is_this_users(pid: u32) -> bool {
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: the handle is checked and closed; the pseudo-handle needs no closing.
    unsafe {
        let h: HANDLE = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if h.is_null() {
            return false;
        }
        let theirs = super::windows::user_sid(h);
        CloseHandle(h);
        theirs.is_some() && theirs == super::windows::user_sid(GetCurrentProcess())
    }
}
