//! TCP through the tunnel: iperf3 both ways (asserted to complete; speed only reported) and a
//! 20 MB checksum-verified transfer each way (IPv4 one way, IPv6 the other).

#[macro_use]
mod netns;

use netns::command;
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

/// B's route to the tunnel announces an MSS of 88 bytes, so A's kernel hands A's daemon TSO
/// super-packets of up to 64 KiB cut at 88: over 700 segments a read, more than the 128 a
/// batch holds (security review finding 9: such a read was dropped whole). The transfer A→B
/// arrives intact, and braid on A refused no read.
fn small_mss_bursts(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let dev = pair.b.wg.ifname().to_string();
    pair.b.ns.ip(&["route", "replace", "198.19.0.0/24", "dev", &dev, "advmss", "88"]);
    let to = std::net::SocketAddr::new(pair.b.tunnel_v4.parse().unwrap(), 5301);
    let report = netns::tcp_transfer::transfer(&pair.a.ns, &pair.b.ns, to, 4 * 1024 * 1024, 9, &pair.scratch);
    notice(&format!("tcp {}->{} at MSS 88: 4 MiB intact, {:.0} Mbit/s", a.short(), b.short(), report.mbit_per_sec()));
    if a == Impl::Braid {
        // The UAPI socket directory is shared by every namespace.
        let show = [env!("CARGO_BIN_EXE_braid"), "show", pair.a.wg.ifname()];
        let out = command::run(show[0], &show[1..], std::time::Duration::from_secs(10));
        assert!(out.stdout.contains("tun unusable reads: 0"), "braid refused reads:\n{}", out.stdout);
        let count = |label: &str| -> u64 {
            let prefix = format!("{label}: ");
            out.stdout.lines().find_map(|l| l.trim().strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
        };
        // (A read that splits into more than 128 counts once per batch of 128: about 112
        // packets a read here, against about 45 at the usual MSS.)
        notice(&format!("braid A: {} TUN reads held {} packets", count("tun reads"), count("tun packets read")));
    }
    pair.assert_alive();
}
pairings!(small_mss_bursts);
