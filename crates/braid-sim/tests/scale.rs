//! Many peers for a long time: a 20-node full mesh exchanging traffic for 300 simulated
//! minutes, every packet accounted for. The point is that hours of protocol time with
//! hundreds of sessions, rekeys and keepalives run in seconds; the wall time is printed.

use core::time::Duration;

use braid_proto::Instant;
use braid_sim::{IpFamily, NodeId, Sim, SimConfig, TrafficPattern, WireLogMode};

const NODES: usize = 20;
const MINUTES: u64 = 300;
/// Each ordered pair sends one packet this often (sessions expire in between, so most
/// packets start a handshake: the expensive part of a simulated hour).
const PERIOD_MINUTES: u64 = 15;

#[test]
fn twenty_node_full_mesh_for_300_simulated_minutes() {
    let wall = std::time::Instant::now();
    let mut config = SimConfig::new(60);
    config.wire_log = WireLogMode::Off;
    config.keep_tun_packets = false;
    let mut sim = Sim::with_config(config);
    for _ in 0..NODES {
        sim.add_wg_node();
    }
    sim.connect_full_mesh();
    let stop = Instant::from_secs(MINUTES * 60);
    for i in 0..NODES {
        for j in 0..NODES {
            if i == j {
                continue;
            }
            // Starts staggered over the first period.
            let start = Instant::from_millis(((i * NODES + j) as u64 * 1_571) % (PERIOD_MINUTES * 60_000));
            let family = if (i + j) % 2 == 0 { IpFamily::V4 } else { IpFamily::V6 };
            let every = Duration::from_secs(PERIOD_MINUTES * 60);
            sim.add_traffic(TrafficPattern {
                from: NodeId(i),
                to: NodeId(j),
                every,
                start,
                stop,
                payload_len: 120,
                family,
            });
        }
    }
    sim.run_until(stop + Duration::from_secs(5));
    let elapsed = wall.elapsed();

    let mut sent = 0;
    for i in 0..NODES {
        for j in 0..NODES {
            if i == j {
                continue;
            }
            let report = sim.delivery_report(NodeId(i), NodeId(j));
            assert!(report.is_perfect() && report.refused == 0, "{i}->{j}: {report:?}");
            sent += report.sent;
        }
    }
    assert_eq!(sent, NODES * (NODES - 1) * (MINUTES / PERIOD_MINUTES) as usize);
    let mut handshakes = 0;
    for n in sim.node_ids() {
        let device = sim.device(n);
        assert_eq!(device.peer_count(), NODES - 1);
        assert_eq!(device.stats().total_drops(), 0, "{n} dropped packets on a clean network");
        handshakes += device.stats().sessions_derived;
    }
    // Sessions live at most 180 s and a pair talks every 7.5 minutes on average: every pair
    // handshakes again and again (each handshake derives a session on both sides).
    let pairs = (NODES * (NODES - 1) / 2) as u64;
    assert!(handshakes >= 2 * pairs * (MINUTES / PERIOD_MINUTES), "only {handshakes} sessions derived");
    println!(
        "{NODES} nodes, full mesh, {MINUTES} simulated minutes: {sent} packets, {handshakes} sessions derived, \
         {} events in {:.2?} wall time",
        sim.events_processed(),
        elapsed
    );
}
