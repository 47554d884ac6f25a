//! One seed fixes a whole run: keys, indices, ephemerals, jitter, link losses, every byte
//! on the wire. A failing scenario can therefore be replayed exactly from its seed.

use core::time::Duration;

use braid_proto::Instant;
use braid_sim::{LinkModel, NodeId, Sim};

/// Every datagram (debug-printed, bytes included) and every node's TUN deliveries.
type Trace = (Vec<String>, Vec<Vec<(Instant, Option<Vec<u8>>)>>);

/// Everything observable about a run of three peers over lossy, jittery, duplicating links
/// for 5 simulated minutes (with rekeys and retries): every datagram with its bytes and
/// fate, and every TUN delivery with its bytes.
fn run(seed: u64) -> Trace {
    let mut sim = Sim::new(seed);
    let nodes: Vec<NodeId> = (0..3).map(|_| sim.add_wg_node()).collect();
    sim.connect_full_mesh();
    let link = LinkModel::clean(Duration::from_millis(15))
        .with_jitter(Duration::from_millis(20))
        .with_loss(0.15)
        .with_duplicate(0.05);
    sim.set_default_link(link);
    for &a in &nodes {
        for &b in &nodes {
            if a < b {
                sim.add_traffic_both_ways(a, b, Duration::from_millis(700), Instant::ZERO, Instant::from_secs(300));
            }
        }
    }
    sim.run_until(Instant::from_secs(310));
    let wire = sim.wire().sent().iter().map(|r| format!("{r:?}")).collect();
    let tun = nodes.iter().map(|n| sim.tun_log(*n).iter().map(|d| (d.time, d.packet.clone())).collect()).collect();
    (wire, tun)
}

#[test]
fn same_seed_gives_an_identical_run_and_another_seed_a_different_one() {
    let first = run(7);
    assert!(first.0.len() > 2_500, "the run should be busy: {} datagrams", first.0.len());
    let second = run(7);
    assert_eq!(first.0.len(), second.0.len());
    for (i, (x, y)) in first.0.iter().zip(&second.0).enumerate() {
        assert_eq!(x, y, "runs diverge at datagram {i}");
    }
    assert!(first.1 == second.1, "TUN deliveries differ between identical runs");
    let other = run(8);
    assert_ne!(first.0, other.0, "a different seed must change the run");
}
