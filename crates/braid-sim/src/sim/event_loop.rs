//! Running the agenda: arrivals into `handle_datagram`, timer ticks into `poll_timers`, and
//! after every device call a full drain of `poll_transmit` through the link models plus a
//! re-arm of the node's single timer event.

use core::net::SocketAddr;
use core::time::Duration;

use braid_proto::Instant;

use super::{Event, Sim, SimError};
use crate::app_payload::{check_payload, PayloadCheck};
use crate::ip_packet::parse_udp_packet;
use crate::link::LinkDecision;
use crate::node::{NodeId, TunDelivery};
use crate::sim_device::SimDevice;
use crate::wire_log::{classify, ArrivalOutcome, ArrivalRecord, WireFate, WireRecord};

/// Datagram buffers kept for reuse; more than this in flight are simply allocated.
const POOL_LIMIT: usize = 4_096;

impl<D: SimDevice> Sim<D> {
    /// Processes every event up to and including `until`, then sets the clock to `until`.
    ///
    /// # Panics
    /// When a loop guard trips (see [`SimError`]); use [`Sim::try_run_until`] to get the error.
    pub fn run_until(&mut self, until: Instant) {
        if let Err(e) = self.try_run_until(until) {
            panic!("{e}");
        }
    }

    /// Advances simulated time by `d` (see [`Sim::run_until`]).
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Like [`Sim::run_until`] but returns a tripped guard as an error; the simulation stops
    /// at the failing event.
    pub fn try_run_until(&mut self, until: Instant) -> Result<(), SimError> {
        let mut budget = self.config.max_events_per_run;
        while let Some(at) = self.queue.peek_time() {
            if at > until {
                break;
            }
            if budget == 0 {
                return Err(SimError::EventBudgetExhausted { limit: self.config.max_events_per_run, at });
            }
            budget -= 1;
            let Some((at, event)) = self.queue.pop() else { break };
            self.now = self.now.max(at);
            self.events_processed += 1;
            self.dispatch(event)?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    fn dispatch(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::Arrival { wire_index, from, to, datagram } => self.arrive(wire_index, from, to, datagram),
            Event::Timer { node, token } => self.tick(node, token),
            Event::Traffic { index } => self.traffic_tick(index),
        }
    }

    fn arrive(
        &mut self,
        wire_index: Option<usize>,
        from: SocketAddr,
        to: SocketAddr,
        mut datagram: Vec<u8>,
    ) -> Result<(), SimError> {
        let now = self.now;
        let kind = classify(&datagram);
        let Some(node) = self.owner_of(to) else {
            let outcome = ArrivalOutcome::NoNode;
            self.wire.record_arrival(ArrivalRecord { time: now, node: None, wire_index, kind, from, outcome });
            self.recycle(datagram);
            return Ok(());
        };
        let result = self.node_mut(node).device.handle_datagram(now, from, to.ip(), &mut datagram);
        let outcome = match result {
            Ok(Some(range)) => {
                let Some(packet) = datagram.get(range.clone()) else {
                    let detail = format!("delivered range {range:?} of a {}-byte datagram", datagram.len());
                    return Err(SimError::BadDeviceOutput { node, at: now, detail });
                };
                let delivery = self.tun_delivery(packet);
                let len = delivery.len;
                self.node_mut(node).tun.push(delivery);
                ArrivalOutcome::ToTun { len }
            }
            Ok(None) => ArrivalOutcome::Consumed,
            Err(reason) => ArrivalOutcome::Dropped(reason),
        };
        self.wire.record_arrival(ArrivalRecord { time: now, node: Some(node), wire_index, kind, from, outcome });
        self.recycle(datagram);
        self.settle(node)
    }

    fn tun_delivery(&self, packet: &[u8]) -> TunDelivery {
        let parsed = parse_udp_packet(packet);
        let payload = match &parsed {
            Ok(p) => packet.get(p.payload.clone()).map_or(PayloadCheck::Corrupted, check_payload),
            Err(_) => PayloadCheck::Untagged,
        };
        TunDelivery {
            time: self.now,
            len: packet.len(),
            addrs: parsed.map(|p| (p.src, p.dst)),
            payload,
            packet: self.config.keep_tun_packets.then(|| packet.to_vec()),
        }
    }

    fn tick(&mut self, node: NodeId, token: u64) -> Result<(), SimError> {
        let now = self.now;
        let limit = self.config.max_timer_ticks_per_instant;
        let state = self.node_mut(node);
        if state.timer_token != token {
            return Ok(()); // superseded by a later re-arm
        }
        state.timer_at = None;
        if state.spin_at == now {
            state.spin_ticks += 1;
        } else {
            state.spin_at = now;
            state.spin_ticks = 1;
        }
        if state.spin_ticks > limit {
            return Err(SimError::TimerSpin { node, at: now, ticks: state.spin_ticks });
        }
        state.device.poll_timers(now);
        self.settle(node)
    }

    /// After any call into a node's device: send everything it queued, then re-arm its timer.
    pub(super) fn settle(&mut self, node: NodeId) -> Result<(), SimError> {
        self.drain(node)?;
        self.rearm(node);
        Ok(())
    }

    fn drain(&mut self, node: NodeId) -> Result<(), SimError> {
        let now = self.now;
        let mut buf = core::mem::take(&mut self.transmit_buf);
        let mut count = 0;
        let result = loop {
            let Some(out) = self.node_mut(node).device.poll_transmit(now, &mut buf) else { break Ok(()) };
            count += 1;
            if count > self.config.max_transmits_per_drain {
                break Err(SimError::TransmitFlood { node, at: now, count });
            }
            let Some(bytes) = buf.get(..out.len) else {
                let detail = format!("transmit of {} bytes from a {}-byte buffer", out.len, buf.len());
                break Err(SimError::BadDeviceOutput { node, at: now, detail });
            };
            self.route(node, out.to, bytes);
        };
        self.transmit_buf = buf;
        result
    }

    /// Keeps exactly one valid timer event per node, at the device's `next_deadline()`
    /// (or now, if the deadline has passed).
    pub(super) fn rearm(&mut self, node: NodeId) {
        let now = self.now;
        let state = self.node_mut(node);
        let deadline = state.device.next_deadline();
        if deadline == state.timer_at {
            return; // the pending event is already the right one
        }
        state.timer_token += 1;
        state.timer_at = deadline;
        let token = state.timer_token;
        if let Some(at) = deadline {
            self.queue.push(at.max(now), Event::Timer { node, token });
        }
    }

    /// Puts one datagram from node `from_node` on the wire to `to`: logs it, asks the filter
    /// and the link model, and schedules its arrival(s).
    pub(super) fn route(&mut self, from_node: NodeId, to: SocketAddr, bytes: &[u8]) {
        let src = self.node(from_node).addr;
        let to_node = self.owner_of(to);
        let mut record = WireRecord {
            time: self.now,
            from: src,
            to,
            from_node: Some(from_node),
            to_node,
            kind: classify(bytes),
            len: bytes.len(),
            fate: WireFate::NoRoute,
            bytes: None,
        };
        let filtered = match self.filter.as_mut() {
            Some(filter) => filter(&record, bytes),
            None => false,
        };
        let mut arrivals = [None; 2];
        record.fate = if filtered {
            WireFate::Filtered
        } else if let Some(dst) = to_node {
            match self.link(from_node, dst).decide(&mut self.net_rng) {
                LinkDecision::LinkDown => WireFate::LinkDown,
                LinkDecision::Lost => WireFate::Lost,
                LinkDecision::Deliver { first, second } => {
                    arrivals = [Some(first), second];
                    WireFate::Delivered { copies: if second.is_some() { 2 } else { 1 } }
                }
            }
        } else {
            WireFate::NoRoute
        };
        let wire_index = self.wire.record_send(record, bytes);
        for delay in arrivals.into_iter().flatten() {
            let datagram = self.pooled_copy(bytes);
            self.queue.push(self.now + delay, Event::Arrival { wire_index, from: src, to, datagram });
        }
    }

    /// Schedules `bytes` to arrive at `to` at `at` (not before now) as if sent from `from`,
    /// bypassing links and filters: forged, replayed or redirected datagrams. The wire log
    /// records it as [`WireFate::Injected`] at the current time.
    pub fn inject_datagram(&mut self, at: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let record = WireRecord {
            time: self.now,
            from,
            to,
            from_node: None,
            to_node: self.owner_of(to),
            kind: classify(bytes),
            len: bytes.len(),
            fate: WireFate::Injected,
            bytes: None,
        };
        let wire_index = self.wire.record_send(record, bytes);
        let datagram = self.pooled_copy(bytes);
        self.queue.push(at.max(self.now), Event::Arrival { wire_index, from, to, datagram });
    }

    fn pooled_copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut v = self.pool.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(bytes);
        v
    }

    fn recycle(&mut self, v: Vec<u8>) {
        if self.pool.len() < POOL_LIMIT {
            self.pool.push(v);
        }
    }
}
