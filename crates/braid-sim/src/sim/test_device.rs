//! A device with exactly known behaviour, so the simulator's own tests blame the simulator.
//!
//! It frames TUN packets as `[4, 0, 0, 0] ++ packet` to its peer, delivers such frames back,
//! follows the peer to whatever address its last frame came from, answers `[1, 0, 0, 0]`
//! with `[2, 0, 0, 0]`, and sends `[4, 0, 0, 0, r]` (r from its own RNG) on a fixed beat.

use std::collections::VecDeque;

use core::net::{IpAddr, SocketAddr};
use core::ops::Range;
use core::time::Duration;

use braid_proto::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;

use crate::sim::NodeSetup;
use crate::sim_device::{Outbound, SimDevice};

/// The framing device described in the module documentation.
pub struct EchoDevice {
    pub peer: Option<SocketAddr>,
    pub beat: Option<Duration>,
    pub next_beat: Option<Instant>,
    pub outbox: VecDeque<Vec<u8>>,
    /// Misbehaviour switches for guard tests (the endless transmit starts after the first tick).
    pub stuck_deadline: bool,
    pub endless_transmit: bool,
    pub ticks: Vec<Instant>,
    rng: ChaCha20Rng,
}

impl EchoDevice {
    pub fn new(setup: NodeSetup) -> Self {
        Self {
            peer: None,
            beat: None,
            next_beat: None,
            outbox: VecDeque::new(),
            stuck_deadline: false,
            endless_transmit: false,
            ticks: Vec::new(),
            rng: setup.rng,
        }
    }

    /// Starts the beat: the first one `beat` after `now`.
    pub fn start_beat(&mut self, now: Instant, beat: Duration) {
        self.beat = Some(beat);
        self.next_beat = Some(now + beat);
    }
}

impl SimDevice for EchoDevice {
    type DropReason = &'static str;

    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        _local: IpAddr,
        datagram: &mut [u8],
    ) -> Result<Option<Range<usize>>, Self::DropReason> {
        match datagram.first() {
            Some(4) => {
                self.peer = Some(from);
                Ok((datagram.len() > 5).then_some(4..datagram.len()))
            }
            Some(1) => {
                self.outbox.push_back(vec![2, 0, 0, 0]);
                Ok(None)
            }
            _ => Err("malformed"),
        }
    }

    fn handle_packet(
        &mut self,
        _now: Instant,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Outbound>, Self::DropReason> {
        let to = self.peer.ok_or("no peer")?;
        let len = 4 + packet.len();
        let frame = out.get_mut(..len).ok_or("too big")?;
        frame[..4].copy_from_slice(&[4, 0, 0, 0]);
        frame[4..].copy_from_slice(packet);
        Ok(Some(Outbound { to, len }))
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Outbound> {
        let to = self.peer?;
        if self.endless_transmit && !self.ticks.is_empty() {
            buf[..4].copy_from_slice(&[4, 0, 0, 0]);
            return Some(Outbound { to, len: 4 });
        }
        let frame = self.outbox.pop_front()?;
        buf[..frame.len()].copy_from_slice(&frame);
        Some(Outbound { to, len: frame.len() })
    }

    fn poll_timers(&mut self, now: Instant) {
        self.ticks.push(now);
        if let (Some(at), Some(beat)) = (self.next_beat, self.beat) {
            if at <= now {
                let r = self.rng.next_u32() as u8;
                self.outbox.push_back(vec![4, 0, 0, 0, r]);
                self.next_beat = Some(now + beat);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.stuck_deadline {
            return Some(Instant::ZERO);
        }
        self.next_beat
    }
}
