//! Finding the process at the other end of a loopback connection, from the OS's socket table
//! (S4, S30). Pure functions over the table's text or rows, so every platform's tests run them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// One address of a Linux `/proc/net/tcp` or `/proc/net/tcp6` row: hex words in host byte
/// order (little-endian here), then the port. IPv4-mapped IPv6 addresses come back as IPv4.
fn proc_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_le_bytes(),
        )
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Puts an IPv4-mapped IPv6 address in its IPv4 form.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map_or(a, |v4| SocketAddr::new(IpAddr::V4(v4), v6.port())),
        v4 => v4,
    }
}

/// The owner uid of the socket at `peer` whose remote end is the loopback listener on
/// `port`, from a Linux `/proc/net/tcp` or `/proc/net/tcp6` table (or both, one after the
/// other; header lines are skipped).
pub fn peer_uid(table: &str, peer: SocketAddr, port: u16) -> Option<u32> {
    let peer = canonical(peer);
    table.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() <= 7 {
            return None;
        }
        let (local, remote) = (proc_addr(cols[1])?, proc_addr(cols[2])?);
        (local == peer && remote.port() == port && remote.ip().is_loopback())
            .then(|| cols[7].parse().ok())
            .flatten()
    })
}

/// One row of Windows' `MIB_TCPTABLE_OWNER_PID`, as the table holds it: addresses as the
/// `in_addr` bytes read as a native `u32`, ports in network byte order in the low 16 bits.
#[derive(Clone, Copy, Debug)]
pub struct OwnerRow {
    /// `dwLocalAddr`.
    pub local_addr: u32,
    /// `dwLocalPort`.
    pub local_port: u32,
    /// `dwRemoteAddr`.
    pub remote_addr: u32,
    /// `dwRemotePort`.
    pub remote_port: u32,
    /// `dwOwningPid`.
    pub pid: u32,
}

impl OwnerRow {
    fn local(&self) -> SocketAddrV4 {
        endpoint(self.local_addr, self.local_port)
    }
    fn remote(&self) -> SocketAddrV4 {
        endpoint(self.remote_addr, self.remote_port)
    }
}

fn endpoint(addr: u32, port: u32) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::from(addr.to_ne_bytes()),
        u16::from_be(port as u16),
    )
}

/// The pid owning the socket at `peer` whose remote end is 127.0.0.1:`port`, from Windows'
/// TCP owner table. `None` when no row matches.
pub fn peer_pid(rows: &[OwnerRow], peer: SocketAddr, port: u16) -> Option<u32> {
    let SocketAddr::V4(peer) = peer else {
        return None;
    };
    let ours = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    rows.iter()
        .find(|r| r.local() == peer && r.remote() == ours)
        .map(|r| r.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_owner_is_found_in_the_socket_table_s4() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 0100007F:A3F1 01 00000000:00000000 00:00000000 00000000  1000        0 1 1
   1: 0100007F:A3F1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1
";
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(peer_uid(table, peer, 41969), Some(1000));
        let other: SocketAddr = "127.0.0.1:41969".parse().unwrap();
        assert_eq!(peer_uid(table, other, 40000), Some(0));
        assert_eq!(peer_uid(table, peer, 1), None);
    }

    /// F3: `/proc/net/tcp6` rows count too, IPv4-mapped ones included.
    #[test]
    fn the_peer_owner_is_found_in_the_ipv6_socket_table_s4() {
        let table = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:A3F1 01 00000000:00000000 00:00000000 00000000  1001        0 1 1
   1: 00000000000000000000000001000000:9C41 00000000000000000000000001000000:A3F1 01 00000000:00000000 00:00000000 00000000  1002        0 1 1
";
        let mapped: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(peer_uid(table, mapped, 41969), Some(1001));
        let v6: SocketAddr = "[::1]:40001".parse().unwrap();
        assert_eq!(peer_uid(table, v6, 41969), Some(1002));
        assert_eq!(peer_uid(table, mapped, 1), None);
    }

    /// S30: the Windows owner table's byte orders are read right: the row for the browser's
    /// end of the connection gives the browser's pid, the listener's own row does not count.
    #[test]
    fn the_peer_pid_is_found_in_the_windows_owner_table_s30() {
        let lo = u32::from_ne_bytes([127, 0, 0, 1]);
        let be = |p: u16| u32::from(p.to_be());
        let rows = [
            // The listener's end: local 127.0.0.1:41969, remote 127.0.0.1:40000 (our pid).
            OwnerRow {
                local_addr: lo,
                local_port: be(41969),
                remote_addr: lo,
                remote_port: be(40000),
                pid: 100,
            },
            // The browser's end.
            OwnerRow {
                local_addr: lo,
                local_port: be(40000),
                remote_addr: lo,
                remote_port: be(41969),
                pid: 4242,
            },
        ];
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(peer_pid(&rows, peer, 41969), Some(4242));
        assert_eq!(peer_pid(&rows, peer, 41970), None);
        let v6: SocketAddr = "[::1]:40000".parse().unwrap();
        assert_eq!(peer_pid(&rows, v6, 41969), None);
    }
}
