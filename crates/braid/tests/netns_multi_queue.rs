//! braid on a multi-queue TUN interface (`BRAID_TUN_QUEUES`): one lane thread per queue reads,
//! seals and sends while the event loop writes each flow's decrypted packets on that flow's
//! queue. Many parallel flows must spread over the queues, and every byte must arrive intact,
//! against wireguard-go and against braid itself, both directions.

#[macro_use]
mod netns;

use std::time::Duration;

use netns::command;
use netns::daemon::MULTI_QUEUE;
use netns::prereq::notice;
use netns::tcp_transfer::assert_intact_both_ways;
use netns::{iperf, Impl, Pair};

/// Parallel TCP streams per iperf3 run: enough that the flow hash cannot put them all on one
/// queue except by a one-in-a-billion chance.
const STREAMS: u32 = 16;
const IPERF_SECS: u32 = 2;
const TRANSFER_BYTES: u64 = 20 * 1024 * 1024;

/// `braid show IFNAME`'s value for `label` (e.g. "tun queues").
fn shown(ifname: &str, label: &str) -> String {
    let out = command::run(env!("CARGO_BIN_EXE_braid"), &["show", ifname], Duration::from_secs(10));
    assert!(out.success(), "braid show {ifname}: {}", out.describe());
    let prefix = format!("{label}: ");
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {label:?} in braid show:\n{}", out.stdout))
}

/// The CPUs each data-path thread (`braid-lane-N`) of process `pid` may run on, by thread name.
fn lane_cpus(pid: u32) -> Vec<(String, String)> {
    let mut lanes = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads");
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_owned();
        if !name.starts_with("braid-lane-") {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        lanes.push((name, cpus));
    }
    lanes.sort();
    lanes
}

fn many_flows_over_queues(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let label = format!("{}->{}", a.short(), b.short());
    let ifname = pair.a.wg.ifname().to_owned();
    assert_eq!(shown(&ifname, "tun queues"), MULTI_QUEUE.to_string());
    // One lane thread per further queue, each pinned to a single CPU.
    let lanes = lane_cpus(pair.a.wg.daemon().pid());
    assert_eq!(lanes.len(), MULTI_QUEUE - 1, "{lanes:?}");
    for (name, cpus) in &lanes {
        assert!(cpus.parse::<usize>().is_ok(), "{name} may run on CPUs {cpus:?}, not one");
    }
    // A sends (its lanes read the flows from TUN), then A receives (its loop writes them).
    let up =
        iperf::run_streams(&pair.b.ns, &pair.a.ns, pair.b.tunnel_v4, 5201, IPERF_SECS, STREAMS, false, &pair.scratch);
    notice(&format!("iperf3 -P {STREAMS} {label} A->B: {}", up.receiver_line));
    let down =
        iperf::run_streams(&pair.b.ns, &pair.a.ns, pair.b.tunnel_v6, 5202, IPERF_SECS, STREAMS, true, &pair.scratch);
    notice(&format!("iperf3 -P {STREAMS} {label} B->A: {}", down.receiver_line));
    if b != Impl::WireguardGo {
        // Lanes send in counter order (a ticket taken with the counters): the receiver sees
        // the datagrams in order. Without it about one in ten came late here;
        // allow a thousandth for the kernel's own reordering between CPUs.
        let late: u64 = shown(pair.b.wg.ifname(), "transport reordered").parse().expect("a count");
        let datagrams = pair.b.wg.transfer(&pair.a.wg.keys.public).rx / 1500;
        notice(&format!("{label}: B accepted {late} of at least {datagrams} datagrams out of counter order"));
        assert!(late * 1000 <= datagrams, "{late} datagrams out of order in {datagrams}");
    }
    let reads: Vec<u64> =
        shown(&ifname, "tun reads per queue").split(',').map(|n| n.parse().expect("a count")).collect();
    notice(&format!("{label}: TUN reads per queue {reads:?}"));
    assert_eq!(reads.len(), MULTI_QUEUE);
    let busy = reads.iter().filter(|&&n| n > 0).count();
    assert!(busy >= 2, "{STREAMS} flows all came through one queue: {reads:?}");
    // Every byte intact, both ways.
    assert_intact_both_ways(&pair, TRANSFER_BYTES);
    pair.assert_alive();
}

#[test]
fn multi_queue_braid_to_wgo() {
    netns::run_pair(
        "many_flows_over_queues::braid_mq_to_wgo",
        &["iperf3"],
        true,
        Impl::BraidMultiQueue,
        Impl::WireguardGo,
        many_flows_over_queues,
    );
}

#[test]
fn multi_queue_braid_to_braid() {
    netns::run_pair(
        "many_flows_over_queues::braid_mq_to_braid_mq",
        &["iperf3"],
        true,
        Impl::BraidMultiQueue,
        Impl::BraidMultiQueue,
        many_flows_over_queues,
    );
}
