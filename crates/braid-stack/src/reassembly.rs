//! IP fragment reassembly with bounded memory (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6).
//!
//! A [`Reassembler`] owns a fixed number of slots, each with a buffer of `max_datagram_len` bytes
//! and room for `max_fragments` fragment ranges, all allocated once in [`Reassembler::new`]; no
//! fragment ever allocates. A fragment flood therefore costs at most
//! `max_datagrams × (max_datagram_len + 16 × max_fragments)` bytes. When every slot is busy, the
//! oldest partial datagram is evicted (as Linux does under memory pressure), so a flood of
//! never-completed datagrams cannot block legitimate ones for the whole timeout.
//!
//! Following RFC 5722 (and its errata), a fragment that overlaps another one of the same datagram
//! discards the whole datagram; an exact duplicate (same offset and length) is dropped on its own.
//! Inconsistent lengths (a last fragment that disagrees with an earlier one, data beyond the end, a
//! non-last fragment whose length is not a multiple of 8) discard too. Every discard is counted in
//! [`ReassemblyCounters`].

use core::net::IpAddr;
use core::time::Duration;

use braid_wire::ipv4::Ipv4Packet;
use braid_wire::ipv6::{self, walk_extension_headers, Ipv6Packet};

use crate::time::Instant;

/// Bytes of a first fragment kept for an ICMP "reassembly time exceeded" quote.
const QUOTE_CAPACITY: usize = 128;

/// Limits of a [`Reassembler`]; they fix its memory use at construction. A `max_datagrams` of 0
/// disables reassembly: every fragment is dropped and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Datagrams that may be in progress at once.
    pub max_datagrams: usize,
    /// Largest reassembled payload (IPv4: after the IP header; IPv6: the fragmentable part).
    pub max_datagram_len: usize,
    /// Most fragments one datagram may arrive in; more discards it.
    pub max_fragments: usize,
    /// How long a datagram may take to complete, from its first fragment.
    pub timeout: Duration,
}

impl Default for ReassemblyConfig {
    /// Four 64 KiB datagrams of up to 64 fragments each, 30 s to complete (Linux's `ipfrag_time`;
    /// RFC 791 suggests at least 15 s and RFC 8200 allows 60 s).
    fn default() -> Self {
        ReassemblyConfig {
            max_datagrams: 4,
            max_datagram_len: 65535,
            max_fragments: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// How many fragments met each fate since the reassembler was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    /// Fragments offered (any outcome).
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Fragments dropped as exact duplicates.
    pub duplicates: u64,
    /// Datagrams discarded because fragments overlapped.
    pub overlaps: u64,
    /// Fragments (and their datagrams, where one existed) discarded as malformed or inconsistent.
    pub malformed: u64,
    /// Fragments (and their datagrams) discarded for reaching beyond `max_datagram_len`.
    pub too_large: u64,
    /// Datagrams discarded for arriving in more than `max_fragments` pieces.
    pub too_many_fragments: u64,
    /// Fragments dropped because reassembly is disabled (`max_datagrams` is 0).
    pub disabled: u64,
    /// Partial datagrams evicted to make room for a new one.
    pub evicted: u64,
    /// Partial datagrams abandoned after the timeout.
    pub timed_out: u64,
}

/// Why a fragment was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentDrop {
    /// The packet is not a (non-atomic) fragment, or its IP header is invalid.
    NotAFragment,
    /// Zero-length, a non-last fragment whose length is not a multiple of 8, an end that disagrees
    /// with the datagram's known end, or an IPv6 fragmentable part whose headers do not parse.
    /// The datagram, if any, is discarded.
    Malformed,
    /// The fragment reaches beyond `max_datagram_len`; the datagram is discarded.
    TooLarge,
    /// Same offset and length as a fragment already held; only this copy is dropped.
    Duplicate,
    /// Overlaps a fragment already held; the datagram is discarded (RFC 5722).
    Overlap,
    /// The datagram already holds `max_fragments` pieces; it is discarded.
    TooManyFragments,
    /// Reassembly is disabled (`max_datagrams` is 0): every fragment is dropped.
    Disabled,
}

/// A reassembled datagram, borrowed from the reassembler until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reassembled<'a> {
    /// Source address of the fragments.
    pub src: IpAddr,
    /// Destination address of the fragments.
    pub dst: IpAddr,
    /// Upper-layer protocol (for IPv6, after any extension headers in the fragmentable part).
    pub protocol: u8,
    /// The upper-layer data (header and payload of TCP, UDP, ICMP...).
    pub payload: &'a [u8],
}

/// What became of one fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reassembly<'a> {
    /// Stored; the datagram still has holes.
    Pending,
    /// This fragment completed its datagram.
    Complete(Reassembled<'a>),
    /// Not stored (see the reason; counted).
    Dropped(FragmentDrop),
}

/// A partial datagram abandoned by [`Reassembler::expire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredDatagram<'a> {
    /// Source address of the fragments.
    pub src: IpAddr,
    /// Destination address of the fragments.
    pub dst: IpAddr,
    /// The start of the first fragment (IP header and at least 8 bytes of data) if it arrived: RFC
    /// 792 and RFC 8200 ask for an ICMP "fragment reassembly time exceeded" quoting it.
    pub first_fragment: Option<&'a [u8]>,
}

/// Identifies the fragments of one datagram (RFC 791: addresses, protocol, identification;
/// RFC 8200: addresses, identification).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 only: the protocol is part of the identity. `None` for IPv6.
    protocol: Option<u8>,
    ident: u32,
}

/// One fragment, already located in its packet.
struct Fragment<'p> {
    key: Key,
    offset: usize,
    more: bool,
    data: &'p [u8],
    /// For IPv4 the protocol; for IPv6 the type of the first header of the fragmentable part.
    next_header: u8,
    /// The first bytes of the packet, kept when this is the first fragment.
    quote: &'p [u8],
}

/// One partial datagram.
struct Slot {
    key: Option<Key>,
    started: Instant,
    /// `max_datagram_len` bytes, allocated once.
    data: Vec<u8>,
    /// Byte ranges held, sorted by start, never overlapping; capacity `max_fragments`.
    ranges: Vec<(usize, usize)>,
    /// Bytes held (the sum of the ranges).
    received: usize,
    /// The datagram's length, once the last fragment arrived.
    total_len: Option<usize>,
    /// Type of the fragmentable part's first header, from the first fragment (IPv6) or any (IPv4).
    next_header: u8,
    /// The start of the first fragment, for an ICMP quote; `quote_len` 0 until it arrives.
    quote: [u8; QUOTE_CAPACITY],
    quote_len: usize,
}

impl Slot {
    fn reset(&mut self, key: Key, now: Instant) {
        self.key = Some(key);
        self.started = now;
        self.ranges.clear();
        self.received = 0;
        self.total_len = None;
        self.quote_len = 0;
    }
}

/// Reassembles IPv4 and IPv6 fragments within fixed memory.
///
/// Exists so the stack can accept fragmented datagrams (the issue prefers reassembly to dropping)
/// without letting fragments make memory grow: everything is sized by [`ReassemblyConfig`] up front.
pub struct Reassembler {
    config: ReassemblyConfig,
    slots: Vec<Slot>,
    counters: ReassemblyCounters,
}

impl Reassembler {
    /// Allocates every slot now; nothing allocates later.
    pub fn new(config: ReassemblyConfig) -> Self {
        let slots = (0..config.max_datagrams)
            .map(|_| Slot {
                key: None,
                started: Instant::ZERO,
                data: vec![0; config.max_datagram_len],
                ranges: Vec::with_capacity(config.max_fragments),
                received: 0,
                total_len: None,
                next_header: 0,
                quote: [0; QUOTE_CAPACITY],
                quote_len: 0,
            })
            .collect();
        Reassembler { config, slots, counters: ReassemblyCounters::default() }
    }

    /// The limits this reassembler was built with.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// What happened to the fragments so far.
    pub fn counters(&self) -> ReassemblyCounters {
        self.counters
    }

    /// Datagrams currently in progress.
    pub fn in_progress(&self) -> usize {
        self.slots.iter().filter(|slot| slot.key.is_some()).count()
    }

    /// When the oldest partial datagram times out, for the driver's `poll_at`.
    pub fn poll_at(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|slot| slot.key.is_some())
            .map(|slot| slot.started.saturating_add(self.config.timeout))
            .min()
    }

    /// Abandons every partial datagram older than the timeout, reporting each to `on_expired`.
    pub fn expire(&mut self, now: Instant, mut on_expired: impl FnMut(ExpiredDatagram<'_>)) {
        let timeout = self.config.timeout;
        for slot in &mut self.slots {
            let Some(key) = slot.key else { continue };
            if !slot.started.has_elapsed(now, timeout) {
                continue;
            }
            slot.key = None;
            self.counters.timed_out += 1;
            let first_fragment = (slot.quote_len > 0).then(|| &slot.quote[..slot.quote_len]);
            on_expired(ExpiredDatagram { src: key.src, dst: key.dst, first_fragment });
        }
    }

    /// Offers an IPv4 packet, `bytes` as received (the buffer may extend past the total length).
    ///
    /// Lengths and the header checksum are checked here; a packet that is not a fragment is
    /// returned as [`FragmentDrop::NotAFragment`] (uncounted) for the caller to handle normally.
    pub fn push_ipv4(&mut self, bytes: &[u8], now: Instant) -> Reassembly<'_> {
        self.counters.fragments += 1;
        let Ok(packet) = Ipv4Packet::new_checked(bytes) else {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        };
        if !packet.verify_checksum() || !packet.is_fragment() {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        }
        let (header_len, total_len) = (packet.header_len(), packet.total_len());
        let fragment = Fragment {
            key: Key {
                src: packet.src_addr().into(),
                dst: packet.dst_addr().into(),
                protocol: Some(packet.protocol()),
                ident: u32::from(packet.ident()),
            },
            offset: packet.frag_offset(),
            more: packet.more_frags(),
            data: &bytes[header_len..total_len],
            next_header: packet.protocol(),
            quote: &bytes[..total_len.min(header_len + 8)],
        };
        self.insert(fragment, now, false)
    }

    /// Offers an IPv6 packet, `bytes` as received (the buffer may extend past the payload length).
    ///
    /// Lengths and extension headers are checked here; a packet without a fragment header, or with
    /// an atomic one, is returned as [`FragmentDrop::NotAFragment`] (uncounted).
    pub fn push_ipv6(&mut self, bytes: &[u8], now: Instant) -> Reassembly<'_> {
        self.counters.fragments += 1;
        let Ok(packet) = Ipv6Packet::new_checked(bytes) else {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        };
        let Ok(headers) = packet.extension_headers() else {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        };
        let Some(header) = headers.fragment.filter(|header| !header.is_atomic()) else {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        };
        let packet_len = ipv6::HEADER_LEN + packet.payload_len();
        let fragment = Fragment {
            key: Key {
                src: packet.src_addr().into(),
                dst: packet.dst_addr().into(),
                protocol: None,
                ident: header.ident,
            },
            offset: header.offset,
            more: header.more_frags,
            data: &bytes[ipv6::HEADER_LEN + headers.len..packet_len],
            next_header: header.next_header,
            quote: &bytes[..packet_len.min(QUOTE_CAPACITY)],
        };
        self.insert(fragment, now, true)
    }

    /// Stores a located fragment; `ipv6` selects how a completed datagram is interpreted.
    fn insert(&mut self, fragment: Fragment<'_>, now: Instant, ipv6: bool) -> Reassembly<'_> {
        if self.slots.is_empty() {
            self.count(FragmentDrop::Disabled);
            return Reassembly::Dropped(FragmentDrop::Disabled);
        }
        let len = fragment.data.len();
        // Fragment offsets count 8-byte units, so every fragment but the last fills whole units.
        if len == 0 || (fragment.more && len & 7 != 0) {
            return self.discard_matching(fragment.key, FragmentDrop::Malformed);
        }
        let end = fragment.offset + len;
        if end > self.config.max_datagram_len {
            return self.discard_matching(fragment.key, FragmentDrop::TooLarge);
        }
        let index = self.slot_for(fragment.key, now);
        let slot = &mut self.slots[index];

        // Where the datagram ends must agree across fragments.
        let consistent = match (slot.total_len, fragment.more) {
            (Some(total), true) => end < total,
            (Some(total), false) => end == total,
            (None, true) => true,
            (None, false) => slot.ranges.last().is_none_or(|&(_, last_end)| last_end <= end),
        };
        if !consistent {
            return self.discard_slot(index, FragmentDrop::Malformed);
        }
        let position = slot.ranges.partition_point(|&(start, _)| start < fragment.offset);
        if slot.ranges.get(position) == Some(&(fragment.offset, end)) {
            self.counters.duplicates += 1;
            return Reassembly::Dropped(FragmentDrop::Duplicate);
        }
        let overlaps_previous = position > 0 && slot.ranges[position - 1].1 > fragment.offset;
        let overlaps_next = slot.ranges.get(position).is_some_and(|&(start, _)| start < end);
        if overlaps_previous || overlaps_next {
            return self.discard_slot(index, FragmentDrop::Overlap);
        }
        if slot.ranges.len() >= self.config.max_fragments {
            return self.discard_slot(index, FragmentDrop::TooManyFragments);
        }

        slot.data[fragment.offset..end].copy_from_slice(fragment.data);
        slot.ranges.insert(position, (fragment.offset, end));
        slot.received += len;
        if !fragment.more {
            slot.total_len = Some(end);
        }
        if fragment.offset == 0 || !ipv6 {
            slot.next_header = fragment.next_header;
        }
        if fragment.offset == 0 {
            slot.quote[..fragment.quote.len()].copy_from_slice(fragment.quote);
            slot.quote_len = fragment.quote.len();
        }
        if slot.total_len != Some(slot.received) {
            return Reassembly::Pending;
        }

        // Complete: the ranges do not overlap and all lie below the end, so they cover it.
        let key = fragment.key;
        let total = slot.received;
        let (protocol, start) = if ipv6 {
            match walk_extension_headers(slot.next_header, &slot.data[..total]) {
                Ok(headers) if headers.fragment.is_none() => (headers.protocol, headers.len),
                _ => return self.discard_slot(index, FragmentDrop::Malformed),
            }
        } else {
            (slot.next_header, 0)
        };
        self.counters.reassembled += 1;
        let slot = &mut self.slots[index];
        slot.key = None;
        Reassembly::Complete(Reassembled { src: key.src, dst: key.dst, protocol, payload: &slot.data[start..total] })
    }

    /// The slot holding `key`, else a free or timed-out one, else the oldest (evicted); reset
    /// unless it already holds a live datagram for `key`.
    fn slot_for(&mut self, key: Key, now: Instant) -> usize {
        let timeout = self.config.timeout;
        if let Some(index) = self.slots.iter().position(|slot| slot.key == Some(key)) {
            if self.slots[index].started.has_elapsed(now, timeout) {
                self.counters.timed_out += 1;
                self.slots[index].reset(key, now);
            }
            return index;
        }
        let free = self.slots.iter().position(|slot| slot.key.is_none());
        let index = match free {
            Some(index) => index,
            None => {
                // Every slot is busy: reuse the oldest, counting it as timed out if it is.
                let (index, oldest) = self
                    .slots
                    .iter()
                    .enumerate()
                    .map(|(index, slot)| (index, slot.started))
                    .min_by_key(|&(_, started)| started)
                    .unwrap_or((0, now)); // `insert` never calls this without slots
                if oldest.has_elapsed(now, timeout) {
                    self.counters.timed_out += 1;
                } else {
                    self.counters.evicted += 1;
                }
                index
            }
        };
        self.slots[index].reset(key, now);
        index
    }

    /// Discards the datagram in `index` and counts why.
    fn discard_slot(&mut self, index: usize, reason: FragmentDrop) -> Reassembly<'static> {
        self.slots[index].key = None;
        self.count(reason);
        Reassembly::Dropped(reason)
    }

    /// Discards the datagram `key` belongs to, if one is in progress, and counts why.
    fn discard_matching(&mut self, key: Key, reason: FragmentDrop) -> Reassembly<'static> {
        if let Some(slot) = self.slots.iter_mut().find(|slot| slot.key == Some(key)) {
            slot.key = None;
        }
        self.count(reason);
        Reassembly::Dropped(reason)
    }

    fn count(&mut self, reason: FragmentDrop) {
        let counter = match reason {
            FragmentDrop::NotAFragment => return,
            FragmentDrop::Malformed => &mut self.counters.malformed,
            FragmentDrop::TooLarge => &mut self.counters.too_large,
            FragmentDrop::Duplicate => &mut self.counters.duplicates,
            FragmentDrop::Overlap => &mut self.counters.overlaps,
            FragmentDrop::TooManyFragments => &mut self.counters.too_many_fragments,
            FragmentDrop::Disabled => &mut self.counters.disabled,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests;
