//! Helpers shared by the scenario tests: a peered pair on clean links, and wire-log views.
#![allow(dead_code)] // each test file uses its own subset

use core::time::Duration;

use braid_proto::{Device, Instant};
use braid_sim::wire_log::format_record;
use braid_sim::{NodeId, Sim, WireRecord};
use braid_wire::wg::MessageType;

/// One-way delay of the default link.
pub const DELAY: Duration = Duration::from_millis(10);
/// Rekey-Timeout jitter upper bound (whitepaper: up to 1/3 s).
pub const JITTER_MAX: Duration = Duration::from_millis(333);

/// Two peered devices that know each other's endpoints, on clean 10 ms links.
pub fn pair(seed: u64) -> (Sim<Device>, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let a = sim.add_wg_node();
    let b = sim.add_wg_node();
    sim.connect(a, b);
    (sim, a, b)
}

/// A pair that has completed its first handshake (A initiated at t = 0 with one packet)
/// and exchanged one packet each way; the clock stands at 1 s.
pub fn established_pair(seed: u64) -> (Sim<Device>, NodeId, NodeId) {
    let (mut sim, a, b) = pair(seed);
    sim.send_ip(a, b, b"first").expect("route to b");
    sim.run_until(Instant::from_millis(500));
    sim.send_ip(b, a, b"answer").expect("route to a");
    sim.run_until(Instant::from_secs(1));
    assert_eq!(sim.tun_log(b).len(), 1, "handshake did not complete:\n{}", wire_dump(&sim));
    assert_eq!(sim.tun_log(a).len(), 1, "b could not answer:\n{}", wire_dump(&sim));
    (sim, a, b)
}

/// Times of `node`'s messages of `kind`.
pub fn times(sim: &Sim<Device>, node: NodeId, kind: MessageType) -> Vec<Instant> {
    sim.wire().times_of(node, kind)
}

/// `node`'s sent datagrams in `[from, to]`.
pub fn sent_between(sim: &Sim<Device>, node: NodeId, from: Instant, to: Instant) -> Vec<WireRecord> {
    sim.wire().sent_between(node, from, to).cloned().collect()
}

/// The whole wire log, one line per datagram, for assertion messages.
pub fn wire_dump(sim: &Sim<Device>) -> String {
    let sent = sim.wire().sent();
    let skip = sent.len().saturating_sub(80);
    let mut s = String::new();
    if skip > 0 {
        s.push_str(&format!("... {skip} earlier datagrams\n"));
    }
    for r in &sent[skip..] {
        s.push_str(&format_record(r));
        s.push('\n');
    }
    s
}

/// Seconds as an `Instant`, with millisecond precision from a float (test readability).
pub fn at(secs: f64) -> Instant {
    Instant::from_nanos((secs * 1e9).round() as u64)
}

/// Keeps `node` under load until `until` by reporting a half-full handshake queue every
/// 250 ms (load is sticky for 1 s after each report), running the simulation meanwhile.
pub fn keep_under_load(sim: &mut Sim<Device>, node: NodeId, until: Instant) {
    loop {
        sim.with_device(node, |d, now| d.set_handshake_backlog(now, 64, 128));
        if sim.now() >= until {
            break;
        }
        let step = Instant::from_nanos(sim.now().as_nanos() + 250_000_000).min(until);
        sim.run_until(step);
    }
}

/// The mac2 field (last 16 bytes) of a captured initiation.
pub fn mac2(initiation: &WireRecord) -> [u8; 16] {
    let bytes = initiation.bytes.as_ref().expect("run with WireLogMode::WithBytes");
    let mut mac = [0u8; 16];
    mac.copy_from_slice(&bytes[bytes.len() - 16..]);
    mac
}
