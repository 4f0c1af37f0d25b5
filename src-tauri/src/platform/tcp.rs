//! Finding the process at the other end of a loopback connection, from the OS's socket table
//! (S4, S30). Pure functions over the table's text or rows, so every platform's tests run them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The owner uid of the socket at `peer` whose remote end is 127.0.0.1:`port`, from a Linux
/// `/proc/net/tcp` table (addresses are hex, IPv4 in host byte order on little-endian).
pub fn peer_uid(table: &str, peer: SocketAddr, port: u16) -> Option<u32> {
    let SocketAddr::V4(peer) = peer else {
        return None;
    };
    let hex =
        |ip: Ipv4Addr, port: u16| format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), port);
    let local = hex(*peer.ip(), peer.port());
    let remote = hex(Ipv4Addr::LOCALHOST, port);
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() > 7
            && cols[1].eq_ignore_ascii_case(&local)
            && cols[2].eq_ignore_ascii_case(&remote))
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
