use super::*;
use braid_wire::icmpv4::Ipv4Quote;
use braid_wire::icmpv6::Ipv6Quote;
use braid_wire::ipv4::Ipv4Packet;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

const UDP: u8 = 17;
const TCP: u8 = 6;
const SRC4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn src6() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)
}

fn dst6() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)
}

/// An IPv4 fragment of datagram `ident` carrying `data` at `offset`.
fn v4(ident: u16, protocol: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 20 + data.len()];
    let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
    packet.set_version_and_header_len(20);
    packet.set_total_len((20 + data.len()) as u16);
    packet.set_ident(ident);
    packet.set_frag_fields(false, more, offset);
    packet.set_hop_limit(64);
    packet.set_protocol(protocol);
    packet.set_src_addr(SRC4);
    packet.set_dst_addr(DST4);
    packet.payload_mut().copy_from_slice(data);
    packet.fill_checksum();
    bytes
}

/// An IPv6 fragment of packet `ident` carrying `data` at `offset`; `next` names the first header
/// of the fragmentable part.
fn v6(ident: u32, next: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x60, 0, 0, 0];
    bytes.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    bytes.extend_from_slice(&[44, 64]);
    bytes.extend_from_slice(&src6().octets());
    bytes.extend_from_slice(&dst6().octets());
    let word = ((offset / 8) as u16) << 3 | u16::from(more);
    bytes.extend_from_slice(&[next, 0]);
    bytes.extend_from_slice(&word.to_be_bytes());
    bytes.extend_from_slice(&ident.to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

fn complete(outcome: Reassembly<'_>) -> (IpAddr, IpAddr, u8, Vec<u8>) {
    match outcome {
        Reassembly::Complete(done) => (done.src, done.dst, done.protocol, done.payload.to_vec()),
        other => panic!("expected a complete datagram, got {other:?}"),
    }
}

fn small_config() -> ReassemblyConfig {
    ReassemblyConfig { max_datagrams: 2, max_datagram_len: 4096, max_fragments: 8, timeout: Duration::from_secs(30) }
}

const T0: Instant = Instant::from_secs(100);

#[test]
fn two_fragments_in_order() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let data = payload(3000);
    assert_eq!(r.push_ipv4(&v4(1, UDP, 0, true, &data[..1480]), T0), Reassembly::Pending);
    assert_eq!(r.in_progress(), 1);
    let (src, dst, protocol, got) = complete(r.push_ipv4(&v4(1, UDP, 1480, false, &data[1480..]), T0));
    assert_eq!((src, dst, protocol), (IpAddr::V4(SRC4), IpAddr::V4(DST4), UDP));
    assert_eq!(got, data);
    assert_eq!(r.in_progress(), 0);
    let counters = r.counters();
    assert_eq!((counters.fragments, counters.reassembled), (2, 1));
}

#[test]
fn fragments_in_any_order() {
    let data = payload(2400);
    let pieces = [(0, true, 0..800), (800, true, 800..1600), (1600, false, 1600..2400)];
    for order in [[2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1]] {
        let mut r = Reassembler::new(small_config());
        for (i, &which) in order.iter().enumerate() {
            let (offset, more, ref range) = pieces[which];
            let outcome = r.push_ipv4(&v4(9, TCP, offset, more, &data[range.clone()]), T0);
            if i < 2 {
                assert_eq!(outcome, Reassembly::Pending, "order {order:?}");
            } else {
                assert_eq!(complete(outcome).3, data, "order {order:?}");
            }
        }
    }
}

#[test]
fn exact_duplicates_are_dropped_alone() {
    let mut r = Reassembler::new(small_config());
    let data = payload(16);
    let first = v4(2, UDP, 0, true, &data[..8]);
    assert_eq!(r.push_ipv4(&first, T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&first, T0), Reassembly::Dropped(FragmentDrop::Duplicate));
    assert_eq!(complete(r.push_ipv4(&v4(2, UDP, 8, false, &data[8..]), T0)).3, data);
    assert_eq!(r.counters().duplicates, 1);
}

#[test]
fn overlapping_fragments_discard_the_datagram() {
    let mut r = Reassembler::new(small_config());
    let data = payload(64);
    assert_eq!(r.push_ipv4(&v4(3, UDP, 0, true, &data[..32]), T0), Reassembly::Pending);
    // Same start, different length; then a fragment straddling the first one's end.
    assert_eq!(r.push_ipv4(&v4(3, UDP, 0, true, &data[..16]), T0), Reassembly::Dropped(FragmentDrop::Overlap));
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.push_ipv4(&v4(3, UDP, 16, true, &data[16..40]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(3, UDP, 32, false, &data[32..]), T0), Reassembly::Dropped(FragmentDrop::Overlap));
    // A fragment overlapping the start of the next held one.
    assert_eq!(r.push_ipv4(&v4(3, UDP, 16, true, &data[16..24]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(3, UDP, 8, true, &data[8..24]), T0), Reassembly::Dropped(FragmentDrop::Overlap));
    assert_eq!(r.counters().overlaps, 3);
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn malformed_fragments() {
    let mut r = Reassembler::new(small_config());
    let data = payload(64);
    // A non-last fragment must be a multiple of 8 bytes.
    assert_eq!(r.push_ipv4(&v4(4, UDP, 0, true, &data[..10]), T0), Reassembly::Dropped(FragmentDrop::Malformed));
    // Empty fragments carry nothing.
    assert_eq!(r.push_ipv4(&v4(4, UDP, 8, false, &[]), T0), Reassembly::Dropped(FragmentDrop::Malformed));

    // Two last fragments that disagree on the end.
    assert_eq!(r.push_ipv4(&v4(5, UDP, 16, false, &data[16..32]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(5, UDP, 32, false, &data[32..40]), T0), Reassembly::Dropped(FragmentDrop::Malformed));
    assert_eq!(r.in_progress(), 0);
    // A non-last fragment beyond the known end.
    assert_eq!(r.push_ipv4(&v4(6, UDP, 16, false, &data[16..24]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(6, UDP, 24, true, &data[24..32]), T0), Reassembly::Dropped(FragmentDrop::Malformed));
    // A last fragment ending before data already held.
    assert_eq!(r.push_ipv4(&v4(7, UDP, 32, true, &data[32..48]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(7, UDP, 8, false, &data[8..24]), T0), Reassembly::Dropped(FragmentDrop::Malformed));
    assert_eq!(r.counters().malformed, 5);
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn oversized_datagrams_are_refused() {
    let mut r = Reassembler::new(small_config());
    let data = payload(64);
    assert_eq!(r.push_ipv4(&v4(8, UDP, 0, true, &data[..8]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(8, UDP, 4040, true, &data[..64]), T0), Reassembly::Dropped(FragmentDrop::TooLarge));
    assert_eq!(r.in_progress(), 0, "the datagram the fragment belonged to is discarded");
    assert_eq!(r.counters().too_large, 1);
    // Exactly at the limit is fine.
    assert_eq!(r.push_ipv4(&v4(8, UDP, 4032, false, &data[..64]), T0), Reassembly::Pending);
}

#[test]
fn too_many_fragments_discard_the_datagram() {
    let mut r = Reassembler::new(ReassemblyConfig { max_fragments: 3, ..small_config() });
    let data = payload(32);
    for i in 0..3 {
        assert_eq!(r.push_ipv4(&v4(9, UDP, i * 8, true, &data[i * 8..i * 8 + 8]), T0), Reassembly::Pending);
    }
    assert_eq!(
        r.push_ipv4(&v4(9, UDP, 24, false, &data[24..]), T0),
        Reassembly::Dropped(FragmentDrop::TooManyFragments)
    );
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.counters().too_many_fragments, 1);
}

#[test]
fn keys_keep_datagrams_apart() {
    let mut r = Reassembler::new(small_config());
    let (a, b) = (payload(16), vec![0xee; 16]);
    assert_eq!(r.push_ipv4(&v4(10, UDP, 0, true, &a[..8]), T0), Reassembly::Pending);
    // Same ident, other protocol: a different datagram (RFC 791 keys on the protocol too).
    assert_eq!(r.push_ipv4(&v4(10, TCP, 8, false, &b[8..]), T0), Reassembly::Pending);
    assert_eq!(r.in_progress(), 2);
    assert_eq!(complete(r.push_ipv4(&v4(10, UDP, 8, false, &a[8..]), T0)).3, a);
    let (_, _, protocol, got) = complete(r.push_ipv4(&v4(10, TCP, 0, true, &b[..8]), T0));
    assert_eq!((protocol, got), (TCP, b));
}

#[test]
fn a_full_table_evicts_the_oldest() {
    let mut r = Reassembler::new(small_config());
    let data = payload(16);
    assert_eq!(r.push_ipv4(&v4(1, UDP, 0, true, &data[..8]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(2, UDP, 0, true, &data[..8]), T0 + Duration::from_secs(1)), Reassembly::Pending);
    let later = T0 + Duration::from_secs(2);
    assert_eq!(r.push_ipv4(&v4(3, UDP, 0, true, &data[..8]), later), Reassembly::Pending);
    assert_eq!(r.in_progress(), 2);
    assert_eq!(r.counters().evicted, 1);
    // Datagram 1 is gone: its tail alone cannot complete it.
    assert_eq!(r.push_ipv4(&v4(1, UDP, 8, false, &data[8..]), later), Reassembly::Pending);
    assert_eq!(r.counters().evicted, 2, "datagram 2 (now the oldest) made room for it");
    assert_eq!(complete(r.push_ipv4(&v4(3, UDP, 8, false, &data[8..]), later)).3, data);
}

#[test]
fn timeouts_expire_datagrams_and_report_the_first_fragment() {
    let mut r = Reassembler::new(small_config());
    let data = payload(64);
    assert_eq!(r.poll_at(), None);
    assert_eq!(r.push_ipv4(&v4(11, UDP, 0, true, &data[..32]), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv4(&v4(12, UDP, 32, false, &data[32..]), T0 + Duration::from_secs(5)), Reassembly::Pending);
    assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(30)));

    let mut expired = Vec::new();
    r.expire(T0 + Duration::from_secs(29), |d| expired.push((d.src, d.first_fragment.map(<[u8]>::to_vec))));
    assert!(expired.is_empty());
    r.expire(T0 + Duration::from_secs(30), |d| expired.push((d.src, d.first_fragment.map(<[u8]>::to_vec))));
    assert_eq!(expired.len(), 1);
    let quote = expired[0].1.clone().expect("first fragment arrived");
    let quote = Ipv4Quote::parse(&quote).unwrap();
    assert_eq!((quote.src_addr(), quote.dst_addr(), quote.protocol()), (SRC4, DST4, UDP));
    assert_eq!(quote.payload(), &data[..8]);
    assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(35)));

    // Datagram 12 never got its first fragment: no quote.
    r.expire(T0 + Duration::from_secs(60), |d| expired.push((d.src, d.first_fragment.map(<[u8]>::to_vec))));
    assert_eq!(expired[1], (IpAddr::V4(SRC4), None));
    assert_eq!(r.counters().timed_out, 2);
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn a_stale_datagram_restarts_instead_of_mixing_with_new_fragments() {
    let mut r = Reassembler::new(small_config());
    let data = payload(16);
    assert_eq!(r.push_ipv4(&v4(13, UDP, 0, true, &data[..8]), T0), Reassembly::Pending);
    // The tail arrives after the timeout but before expire() ran: the head is stale.
    let late = T0 + Duration::from_secs(31);
    assert_eq!(r.push_ipv4(&v4(13, UDP, 8, false, &data[8..]), late), Reassembly::Pending);
    assert_eq!(r.counters().timed_out, 1);
    assert_eq!(complete(r.push_ipv4(&v4(13, UDP, 0, true, &data[..8]), late)).3, data);
}

#[test]
fn non_fragments_and_broken_headers_are_not_taken() {
    let mut r = Reassembler::new(small_config());
    let whole = v4(14, UDP, 0, false, b"whole datagram!!");
    assert_eq!(r.push_ipv4(&whole, T0), Reassembly::Dropped(FragmentDrop::NotAFragment));
    let mut corrupt = v4(14, UDP, 0, true, &payload(8));
    corrupt[8] ^= 1;
    assert_eq!(r.push_ipv4(&corrupt, T0), Reassembly::Dropped(FragmentDrop::NotAFragment));
    assert_eq!(r.push_ipv4(&corrupt[..10], T0), Reassembly::Dropped(FragmentDrop::NotAFragment));
    let atomic = v6(1, UDP, 0, false, &payload(8));
    assert_eq!(r.push_ipv6(&atomic, T0), Reassembly::Dropped(FragmentDrop::NotAFragment));
    assert_eq!(r.push_ipv6(&atomic[..30], T0), Reassembly::Dropped(FragmentDrop::NotAFragment));
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn ipv6_fragments_with_headers_in_the_fragmentable_part() {
    let mut r = Reassembler::new(small_config());
    // Fragmentable part: destination options (next: UDP), then 24 bytes of UDP.
    let mut part = vec![UDP, 0, 1, 4, 0, 0, 0, 0];
    part.extend(payload(24));
    assert_eq!(r.push_ipv6(&v6(0xabcd, 60, 16, false, &part[16..]), T0), Reassembly::Pending);
    let (src, dst, protocol, got) = complete(r.push_ipv6(&v6(0xabcd, 60, 0, true, &part[..16]), T0));
    assert_eq!((src, dst, protocol), (IpAddr::V6(src6()), IpAddr::V6(dst6()), UDP));
    assert_eq!(got, &part[8..]);
}

#[test]
fn ipv6_timeout_quotes_the_first_fragment() {
    let mut r = Reassembler::new(small_config());
    assert_eq!(r.push_ipv6(&v6(5, TCP, 0, true, &payload(256)), T0), Reassembly::Pending);
    let mut quotes = Vec::new();
    r.expire(T0 + Duration::from_secs(30), |d| quotes.push(d.first_fragment.map(<[u8]>::to_vec)));
    let quote = quotes[0].clone().unwrap();
    assert_eq!(quote.len(), QUOTE_CAPACITY);
    let quote = Ipv6Quote::parse(&quote).unwrap();
    assert_eq!((quote.src_addr(), quote.protocol()), (src6(), TCP));
}

#[test]
fn ipv6_fragmentable_part_that_does_not_parse_is_discarded() {
    let mut r = Reassembler::new(small_config());
    // Claims a destination-options header longer than the whole reassembled part.
    let part = [UDP, 9, 0, 0, 0, 0, 0, 0];
    assert_eq!(r.push_ipv6(&v6(6, 60, 8, false, &part), T0), Reassembly::Pending);
    assert_eq!(r.push_ipv6(&v6(6, 60, 0, true, &part), T0), Reassembly::Dropped(FragmentDrop::Malformed));
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn zero_slots_disable_reassembly() {
    let mut r = Reassembler::new(ReassemblyConfig { max_datagrams: 0, ..small_config() });
    assert_eq!(r.push_ipv4(&v4(1, UDP, 0, true, &payload(8)), T0), Reassembly::Dropped(FragmentDrop::Disabled));
    assert_eq!(r.counters().disabled, 1);
    assert_eq!(r.poll_at(), None);
}

proptest! {
    #[test]
    fn any_fragmentation_in_any_order_reassembles(
        len in 1usize..3000,
        cut_seeds in proptest::collection::vec(any::<u16>(), 0..7),
        order_seed in any::<u64>(),
        duplicate in any::<prop::sample::Index>(),
    ) {
        let data = payload(len);
        // Cut points on 8-byte boundaries inside the datagram.
        let mut cuts: Vec<usize> = cut_seeds.iter().map(|&s| (usize::from(s) % len) / 8 * 8).filter(|&c| c > 0).collect();
        cuts.push(0);
        cuts.push(len);
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        // Deterministic shuffle from the seed, plus one duplicate of a random piece.
        let mut state = order_seed | 1;
        for i in (1..pieces.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            pieces.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let distinct = pieces.len();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        if distinct == 1 {
            // One piece is a whole datagram, not a fragment.
            let outcome = r.push_ipv4(&v4(77, UDP, 0, false, &data), T0);
            prop_assert_eq!(outcome, Reassembly::Dropped(FragmentDrop::NotAFragment));
            return Ok(());
        }
        // Repeat one piece right after itself, before the last distinct piece completes the datagram.
        let j = duplicate.index(distinct - 1);
        pieces.insert(j + 1, pieces[j]);

        let mut done = None;
        let mut duplicates = 0;
        for (i, &(start, end)) in pieces.iter().enumerate() {
            let more = end != len;
            match r.push_ipv4(&v4(77, UDP, start, more, &data[start..end]), T0) {
                Reassembly::Complete(d) => {
                    prop_assert_eq!(i, pieces.len() - 1);
                    done = Some(d.payload.to_vec());
                }
                Reassembly::Pending => prop_assert!(i < pieces.len() - 1),
                Reassembly::Dropped(FragmentDrop::Duplicate) => duplicates += 1,
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(duplicates, 1);
        prop_assert_eq!(done, Some(data));
        prop_assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn arbitrary_packets_never_panic_or_grow_state(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..20),
        fields in proptest::collection::vec((any::<u16>(), any::<u16>(), any::<bool>()), 1..20),
    ) {
        let config = ReassemblyConfig { max_datagrams: 3, max_datagram_len: 512, max_fragments: 4, timeout: Duration::from_secs(1) };
        let mut r = Reassembler::new(config);
        let mut now = T0;
        for (i, bytes) in packets.iter().enumerate() {
            let _ = r.push_ipv4(bytes, now);
            let _ = r.push_ipv6(bytes, now);
            // Also valid headers with arbitrary fragment fields and data.
            let (ident, offset, more) = fields[i % fields.len()];
            let offset = usize::from(offset) % 600 / 8 * 8;
            let _ = r.push_ipv4(&v4(ident % 4, UDP, offset, more, bytes), now);
            let _ = r.push_ipv6(&v6(u32::from(ident % 4), UDP, offset, more, bytes), now);
            prop_assert!(r.in_progress() <= config.max_datagrams);
            now += Duration::from_millis(300);
            r.expire(now, |_| {});
        }
    }
}
