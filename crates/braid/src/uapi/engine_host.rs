//! The [`UapiHost`] of a braid engine: the daemon's and an embedded tunnel's.

use super::{Errno, UapiHost};
use braid_engine::{EngineHandle, UdpUnderlay};
use std::io;
use std::sync::Arc;

/// More `(key, value)` facts for `braid show` from whoever runs the engine (a rootless
/// tunnel's forwards and their counters).
pub type HostExtras = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// What the UAPI changes outside the device: the engine's underlay (port, firewall mark),
/// and the data path's facts for `braid show`.
pub struct EngineHost<'a> {
    engine: &'a EngineHandle<UdpUnderlay>,
    more: Option<&'a HostExtras>,
}

impl<'a> EngineHost<'a> {
    /// The host of the engine behind `engine`.
    pub fn new(engine: &'a EngineHandle<UdpUnderlay>) -> Self {
        EngineHost { engine, more: None }
    }

    /// Adds `more`'s facts to what `braid show` reports.
    pub fn with_extras(mut self, more: Option<&'a HostExtras>) -> Self {
        self.more = more;
        self
    }
}

impl UapiHost for EngineHost<'_> {
    fn listen_port(&self) -> u16 {
        self.engine.listen_port()
    }

    fn fwmark(&self) -> u32 {
        self.engine.fwmark()
    }

    fn set_port_and_fwmark(&mut self, port: Option<u16>, mark: Option<u32>) -> Result<(), Errno> {
        let old = self.engine.listen_port();
        match self.engine.set_port_and_fwmark(port, mark) {
            Ok(bound) => {
                if bound != old {
                    tracing::info!(port = bound, "listening");
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(Errno::EADDRINUSE),
            Err(e) => Err(Errno::from(&e)),
        }
    }

    fn extras(&self) -> Vec<(String, String)> {
        let stats = self.engine.stats();
        let on = |b: bool| if b { "on" } else { "off" };
        let side = &stats.packet_side;
        let data = &stats.data_path;
        let reads_per_queue: Vec<String> =
            (0..side.queues).map(|q| stats.per_thread.get(q).map_or(0, |t| t.packet_reads).to_string()).collect();
        let mut extras = vec![("packet_side".into(), side.kind.into())];
        if side.kind == "tun" {
            extras.extend([
                ("tun_vnet_hdr".into(), on(side.vnet_hdr).into()),
                ("tun_tso".into(), on(side.tso).into()),
                ("tun_uso".into(), on(side.uso).into()),
                ("tun_queues".into(), side.queues.to_string()),
                ("tun_reads_per_queue".into(), reads_per_queue.join(",")),
                // Reads refused whole (a malformed or truncated super-packet).
                ("tun_unusable_reads".into(), data.unusable_reads.to_string()),
            ]);
        }
        extras.extend([
            ("udp_gso".into(), on(stats.underlay.gso).into()),
            ("udp_gro".into(), on(stats.underlay.gro).into()),
        ]);
        // The TUN's counters keep the names `braid show` always had.
        let prefix = if side.kind == "tun" { "tun" } else { "packet" };
        extras.extend([
            (format!("{prefix}_reads"), data.packet_reads.to_string()),
            (format!("{prefix}_packets_read"), data.packets_read.to_string()),
            ("udp_sends".into(), data.underlay_sends.to_string()),
            ("udp_receives".into(), data.underlay_messages.to_string()),
            ("udp_datagrams_received".into(), data.underlay_datagrams.to_string()),
            (format!("{prefix}_writes"), data.packet_writes.to_string()),
            ("handshakes_queued".into(), stats.handshake_queue.queued.to_string()),
            ("handshakes_handled".into(), data.handshakes_handled.to_string()),
            ("handshake_queue_full_drops".into(), stats.handshake_queue.dropped_full.to_string()),
            ("handshake_queue_waiting".into(), stats.handshake_queue.waiting.to_string()),
        ]);
        if let Some(more) = self.more {
            extras.extend(more());
        }
        extras
    }
}
