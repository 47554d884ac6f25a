//! TCP through the tunnel: iperf3 both ways (asserted to complete; speed only reported) and a
//! 20 MB checksum-verified transfer each way (IPv4 one way, IPv6 the other).

#[macro_use]
mod netns;

use std::net::SocketAddr;

use netns::prereq::notice;
use netns::tcp_transfer::transfer;
use netns::{iperf, Impl, Pair};

/// Bytes moved by each checksum-verified transfer.
const TRANSFER_BYTES: u64 = 20 * 1024 * 1024;
/// Seconds each iperf3 run lasts.
const IPERF_SECS: u32 = 2;

fn iperf3_both_ways(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let label = format!("{}->{}", a.short(), b.short());
    let forward = iperf::run(&pair.b.ns, &pair.a.ns, pair.b.tunnel_v4, 5201, IPERF_SECS, false, &pair.scratch);
    notice(&format!("iperf3 {label} A->B over IPv4: {}", forward.receiver_line));
    let reverse = iperf::run(&pair.b.ns, &pair.a.ns, pair.b.tunnel_v6, 5202, IPERF_SECS, true, &pair.scratch);
    notice(&format!("iperf3 {label} B->A over IPv6: {}", reverse.receiver_line));
    pair.assert_alive();
}
pairings!(exclusive iperf3_both_ways, "iperf3");

fn checksummed_transfer_both_ways(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let label = format!("{}->{}", a.short(), b.short());
    let to_b: SocketAddr = format!("{}:6001", pair.b.tunnel_v4).parse().unwrap();
    let to_a: SocketAddr = format!("[{}]:6002", pair.a.tunnel_v6).parse().unwrap();
    for (dir, from, to, addr, seed) in
        [("A->B v4", &pair.a.ns, &pair.b.ns, to_b, 1), ("B->A v6", &pair.b.ns, &pair.a.ns, to_a, 2)]
    {
        let report = transfer(from, to, addr, TRANSFER_BYTES, seed, &pair.scratch);
        assert_eq!(report.received.first_mismatch, None, "{dir}: corrupted stream {report:?}");
        assert_eq!(report.received.bytes, TRANSFER_BYTES, "{dir}: short stream {report:?}");
        assert_eq!(report.received.hash, report.expected_hash, "{dir}: hash {report:?}");
        notice(&format!("tcp {label} {dir}: {} bytes intact, {:.0} Mbit/s", TRANSFER_BYTES, report.mbit_per_sec()));
    }
    pair.assert_alive();
}
pairings!(checksummed_transfer_both_ways);
