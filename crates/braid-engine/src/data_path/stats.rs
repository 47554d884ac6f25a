//! How well batching works: system calls against packets, per data-path thread.

/// Counters of one data-path thread (or of all of them, added up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataPathStats {
    /// Reads of the packet side that returned packets.
    pub packet_reads: u64,
    /// IP packets those reads held (after segmentation).
    pub packets_read: u64,
    /// Reads of the packet side that yielded nothing usable (a malformed super-packet).
    pub unusable_reads: u64,
    /// Runs sent to the underlay (each one message: a GSO batch of datagrams for UDP).
    pub underlay_sends: u64,
    /// Underlay receives (each message may be a GRO run).
    pub underlay_messages: u64,
    /// Datagrams those messages held.
    pub underlay_datagrams: u64,
    /// Writes to the packet side (each may be a coalesced super-packet).
    pub packet_writes: u64,
    /// Handshake messages handed to the device (by the handshake worker).
    pub handshakes_handled: u64,
}

impl DataPathStats {
    /// The two sets of counters added up (for several threads).
    pub fn plus(&self, other: &DataPathStats) -> DataPathStats {
        DataPathStats {
            packet_reads: self.packet_reads + other.packet_reads,
            packets_read: self.packets_read + other.packets_read,
            unusable_reads: self.unusable_reads + other.unusable_reads,
            underlay_sends: self.underlay_sends + other.underlay_sends,
            underlay_messages: self.underlay_messages + other.underlay_messages,
            underlay_datagrams: self.underlay_datagrams + other.underlay_datagrams,
            packet_writes: self.packet_writes + other.packet_writes,
            handshakes_handled: self.handshakes_handled + other.handshakes_handled,
        }
    }
}
