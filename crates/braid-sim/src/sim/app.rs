//! Application traffic: IP packets written into a node's "TUN" now or on a schedule, and the
//! bookkeeping that proves each one arrived exactly once and intact.

use std::collections::BTreeMap;

use core::time::Duration;

use braid_proto::Instant;

use super::{Event, Sim, SimError};
use crate::app_payload::{write_tagged_payload, AppTag, PayloadCheck};
use crate::ip_packet::{build_udp_packet, PacketError};
use crate::node::{IpFamily, NodeId};
use crate::sim_device::SimDevice;

/// What the device did with a packet written to its TUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunSend {
    /// Encrypted and put on the wire at once.
    Sent,
    /// Accepted but not sent yet (queued behind a handshake).
    Queued,
}

/// One packet an application handed to a node's TUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSendRecord<R> {
    /// Simulated time of the write.
    pub time: Instant,
    /// Identity of tagged traffic; `None` for a test's own payload.
    pub tag: Option<AppTag>,
    /// Writing node.
    pub from: NodeId,
    /// Node whose tunnel address the packet is for.
    pub to: NodeId,
    /// Inner IP version.
    pub family: IpFamily,
    /// IP packet length.
    pub len: usize,
    /// The device's answer.
    pub result: Result<TunSend, R>,
}

/// A periodic generator: one tagged packet from `from` to `to` every `every`, from `start`
/// (inclusive) until `stop` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficPattern {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Interval between packets (must be non-zero).
    pub every: Duration,
    /// First packet time.
    pub start: Instant,
    /// No packet at or after this time.
    pub stop: Instant,
    /// UDP payload length (at least the 24-byte tag).
    pub payload_len: usize,
    /// Inner IP version.
    pub family: IpFamily,
}

/// Per-direction accounting of tagged traffic: what was written, what arrived, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Tagged packets written at the sender.
    pub sent: usize,
    /// Of those, how many the sender's device refused outright.
    pub refused: usize,
    /// Distinct packets delivered intact at the receiver.
    pub delivered: usize,
    /// Extra deliveries of a packet already delivered (must be 0: the replay window's job).
    pub duplicates: usize,
    /// Accepted packets that never arrived, by sequence number.
    pub missing: Vec<u64>,
    /// Deliveries at the receiver whose headers or payload were damaged.
    pub corrupted: usize,
}

impl DeliveryReport {
    /// True when every accepted packet arrived exactly once and undamaged.
    pub fn is_perfect(&self) -> bool {
        self.missing.is_empty() && self.duplicates == 0 && self.corrupted == 0
    }
}

impl<D: SimDevice> Sim<D> {
    /// Writes an IPv4 UDP packet carrying `payload` from `from`'s tunnel address to `to`'s
    /// into `from`'s TUN now, then drains and re-arms the device.
    pub fn send_ip(&mut self, from: NodeId, to: NodeId, payload: &[u8]) -> Result<TunSend, D::DropReason> {
        self.send_payload(from, to, IpFamily::V4, payload, None)
    }

    /// Like [`Sim::send_ip`] over IPv6 (`fd00:19::/32` tunnel addresses).
    pub fn send_ip6(&mut self, from: NodeId, to: NodeId, payload: &[u8]) -> Result<TunSend, D::DropReason> {
        self.send_payload(from, to, IpFamily::V6, payload, None)
    }

    /// Sends one tagged packet (self-checking payload of `payload_len` bytes); returns its
    /// sequence number and the device's answer.
    pub fn send_tagged(
        &mut self,
        from: NodeId,
        to: NodeId,
        family: IpFamily,
        payload_len: usize,
    ) -> (u64, Result<TunSend, D::DropReason>) {
        let tag = AppTag { seq: self.next_app_seq, from, to };
        self.next_app_seq += 1;
        let mut payload = core::mem::take(&mut self.payload_buf);
        write_tagged_payload(tag, payload_len, &mut payload);
        let result = self.send_payload(from, to, family, &payload, Some(tag));
        self.payload_buf = payload;
        (tag.seq, result)
    }

    /// Writes raw bytes into a node's TUN (malformed packets, foreign destinations) now.
    pub fn inject_tun_packet(&mut self, node: NodeId, packet: &[u8]) -> Result<TunSend, D::DropReason> {
        self.write_tun(node, packet).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Schedules periodic tagged traffic; returns the pattern's index.
    ///
    /// # Panics
    /// If `pattern.every` is zero.
    pub fn add_traffic(&mut self, pattern: TrafficPattern) -> usize {
        assert!(!pattern.every.is_zero(), "traffic interval must be positive");
        let index = self.traffic.len();
        self.traffic.push(pattern);
        let first = pattern.start.max(self.now);
        if first < pattern.stop {
            self.queue.push(first, Event::Traffic { index });
        }
        index
    }

    /// Schedules the same periodic traffic in both directions between `a` and `b`.
    pub fn add_traffic_both_ways(&mut self, a: NodeId, b: NodeId, every: Duration, start: Instant, stop: Instant) {
        for (from, to) in [(a, b), (b, a)] {
            self.add_traffic(TrafficPattern { from, to, every, start, stop, payload_len: 200, family: IpFamily::V4 });
        }
    }

    /// Every packet applications wrote so far.
    pub fn app_log(&self) -> &[AppSendRecord<D::DropReason>] {
        &self.app_log
    }

    /// Accounting of tagged traffic from `from` to `to`.
    pub fn delivery_report(&self, from: NodeId, to: NodeId) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let mut arrivals: BTreeMap<u64, usize> = BTreeMap::new();
        for d in self.tun_log(to) {
            match d.payload {
                PayloadCheck::Intact(tag) if tag.from == from && tag.to == to && d.addrs.is_ok() => {
                    *arrivals.entry(tag.seq).or_default() += 1;
                }
                PayloadCheck::Intact(tag) if tag.from == from => report.corrupted += 1, // misdelivered
                PayloadCheck::Corrupted => report.corrupted += 1,
                PayloadCheck::Intact(_) | PayloadCheck::Untagged => {}
            }
        }
        for rec in &self.app_log {
            let Some(tag) = rec.tag.filter(|t| t.from == from && t.to == to) else { continue };
            report.sent += 1;
            if rec.result.is_err() {
                report.refused += 1;
                continue;
            }
            match arrivals.get(&tag.seq) {
                None => report.missing.push(tag.seq),
                Some(n) => {
                    report.delivered += 1;
                    report.duplicates += n - 1;
                }
            }
        }
        report
    }

    pub(super) fn traffic_tick(&mut self, index: usize) -> Result<(), SimError> {
        let Some(p) = self.traffic.get(index).copied() else { return Ok(()) };
        let tag = AppTag { seq: self.next_app_seq, from: p.from, to: p.to };
        self.next_app_seq += 1;
        let mut payload = core::mem::take(&mut self.payload_buf);
        write_tagged_payload(tag, p.payload_len, &mut payload);
        let result = self.try_send_payload(p.from, p.to, p.family, &payload, Some(tag));
        self.payload_buf = payload;
        let next = self.now + p.every;
        if next < p.stop {
            self.queue.push(next, Event::Traffic { index });
        }
        result.map(|_| ())
    }

    fn send_payload(
        &mut self,
        from: NodeId,
        to: NodeId,
        family: IpFamily,
        payload: &[u8],
        tag: Option<AppTag>,
    ) -> Result<TunSend, D::DropReason> {
        self.try_send_payload(from, to, family, payload, tag).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_send_payload(
        &mut self,
        from: NodeId,
        to: NodeId,
        family: IpFamily,
        payload: &[u8],
        tag: Option<AppTag>,
    ) -> Result<Result<TunSend, D::DropReason>, SimError> {
        let mut packet = core::mem::take(&mut self.packet_buf);
        let built = build_udp_packet(family.tunnel_addr(from), family.tunnel_addr(to), payload, &mut packet);
        if let Err(e @ (PacketError::TooLarge | PacketError::MixedFamilies)) = built {
            panic!("cannot build a {family:?} packet of {} payload bytes: {e:?}", payload.len());
        }
        let result = self.write_tun(from, &packet);
        if let Ok(result) = &result {
            let len = packet.len();
            self.app_log.push(AppSendRecord { time: self.now, tag, from, to, family, len, result: result.clone() });
        }
        self.packet_buf = packet;
        result
    }

    fn write_tun(&mut self, node: NodeId, packet: &[u8]) -> Result<Result<TunSend, D::DropReason>, SimError> {
        let now = self.now;
        let mut out = core::mem::take(&mut self.tun_out_buf);
        let answer = self.node_mut(node).device.handle_packet(now, packet, &mut out);
        let result = match answer {
            Ok(Some(o)) => match out.get(..o.len) {
                Some(bytes) => {
                    self.route(node, o.to, bytes);
                    Ok(Ok(TunSend::Sent))
                }
                None => Err(SimError::BadDeviceOutput {
                    node,
                    at: now,
                    detail: format!("TUN transmit of {} bytes from a {}-byte buffer", o.len, out.len()),
                }),
            },
            Ok(None) => Ok(Ok(TunSend::Queued)),
            Err(reason) => Ok(Err(reason)),
        };
        self.tun_out_buf = out;
        let result = result?;
        self.settle(node)?;
        Ok(result)
    }
}
