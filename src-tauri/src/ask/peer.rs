//! Who is at the other end of a local socket, from the kernel: `SO_PEERCRED` on Linux,
//! `LOCAL_PEERPID` and `getpeereid` on macOS.

/// The peer's user id and process id.
#[cfg(target_os = "linux")]
pub fn peer(fd: std::os::fd::RawFd) -> Option<(u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is as large as `len` says; the fd is a socket the caller owns.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (r == 0).then_some((cred.uid, cred.pid as u32))
}

/// The peer's user id and process id.
#[cfg(target_os = "macos")]
pub fn peer(fd: std::os::fd::RawFd) -> Option<(u32, u32)> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: plain out-parameters for a socket the caller owns.
    if unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } != 0 {
        return None;
    }
    let mut pid: libc::pid_t = 0;
    let mut len = std::mem::size_of::<libc::pid_t>() as libc::socklen_t;
    // SAFETY: as above; LOCAL_PEERPID writes one pid_t.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_LOCAL,
            libc::LOCAL_PEERPID,
            &mut pid as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (r == 0).then_some((uid, pid as u32))
}

/// Other Unix systems: the peer's user from `getpeereid`, its process unknown.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
pub fn peer(fd: std::os::fd::RawFd) -> Option<(u32, u32)> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: plain out-parameters for a socket the caller owns.
    (unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } == 0).then_some((uid, 0))
}

/// This process's user id.
#[cfg(unix)]
pub fn my_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}
