//! TCP through the tunnel: iperf3 both ways (asserted to complete; speed only reported) and a
//! 20 MB checksum-verified transfer each way (IPv4 one way, IPv6 the other).

#[macro_use]
mod netns;

use netns::prereq::notice;
use netns::tcp_transfer::assert_intact_both_ways;
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
    for (dir, report) in assert_intact_both_ways(&pair, TRANSFER_BYTES) {
        notice(&format!("tcp {label} {dir}: {} bytes intact, {:.0} Mbit/s", TRANSFER_BYTES, report.mbit_per_sec()));
    }
    pair.assert_alive();
}
pairings!(checksummed_transfer_both_ways);
