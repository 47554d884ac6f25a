//! The RFC 1071 internet checksum, used by IPv4, ICMP, UDP and TCP.
//!
//! Every packet the stack sends or receives is summed at least once, so the core loop reads 32
//! bytes at a time as four 64-bit words and adds each word's two 32-bit halves into its own 64-bit
//! accumulator (four independent chains, none of which can overflow before 2^31 steps, i.e. far
//! beyond any packet). The one's-complement sum is
//! byte-order independent, so words are read in native order and the folded result is converted to
//! network order once at the end (RFC 1071 §2(B)).
//!
//! [`Checksum`] is incremental: pieces may be added in any sizes, including odd ones, and the result
//! equals the checksum of their concatenation. The pseudo-headers of RFC 793/768 (IPv4) and RFC
//! 8200 §8.1 (IPv6) have the same one's-complement sum (addresses + upper-layer length + protocol),
//! so [`Checksum::pseudo_header`] serves both families.

use core::net::IpAddr;

/// A running one's-complement sum over a sequence of byte strings.
///
/// Exists so that a checksum can cover a pseudo-header, a header and a payload that live in
/// different buffers without copying them together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Sum of 16-bit words in native byte order (lanes of the native-endian reads), unfolded.
    sum: u64,
    /// True when an odd number of bytes has been added so far, so the next byte is a low-order byte.
    odd: bool,
}

impl Checksum {
    /// An empty sum (the checksum of zero bytes).
    pub const fn new() -> Self {
        Checksum { sum: 0, odd: false }
    }

    /// A sum that already covers the TCP/UDP/ICMPv6 pseudo-header for `src` → `dst`.
    ///
    /// `upper_len` is the length of the upper-layer header plus payload. IPv4 carries it as 16 bits
    /// and IPv6 as 32; their one's-complement contributions are equal whenever the value fits in
    /// 16 bits, and IPv4 never exceeds that. Mixed families are summed as given (the result will
    /// simply not verify against a real packet).
    ///
    /// Computed word by word without going through [`Checksum::add_bytes`]: it runs for every TCP
    /// and UDP packet in both directions, and its pieces are all whole 32-bit words.
    pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, upper_len: u32) -> Self {
        let sum = address_sum(src)
            + address_sum(dst)
            + u64::from(u32::from_ne_bytes(upper_len.to_be_bytes()))
            + u64::from(u32::from_ne_bytes([0, 0, 0, protocol]));
        Checksum { sum, odd: false }
    }

    /// Adds `data` as if it were appended to everything added so far.
    pub fn add_bytes(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let piece = sum_native(data);
        if self.odd {
            // The piece starts at an odd offset: each of its bytes sits in the other half of its
            // 16-bit word, which for a one's-complement sum is a byte swap of the folded sum.
            self.sum += u64::from(fold(piece).swap_bytes());
        } else {
            self.sum += u64::from(fold(piece));
        }
        if data.len() % 2 == 1 {
            self.odd = !self.odd;
        }
    }

    /// Adds a 16-bit value in network byte order.
    pub fn add_u16(&mut self, value: u16) {
        if self.odd {
            self.add_bytes(&value.to_be_bytes());
        } else {
            self.sum += u64::from(u16::from_ne_bytes(value.to_be_bytes()));
        }
    }

    /// Adds a 32-bit value in network byte order.
    pub fn add_u32(&mut self, value: u32) {
        if self.odd {
            self.add_bytes(&value.to_be_bytes());
        } else {
            self.sum += u64::from(u32::from_ne_bytes(value.to_be_bytes()));
        }
    }

    /// The folded one's-complement sum in host order, not yet complemented.
    ///
    /// A received packet whose checksum field was included in the sum is intact exactly when this
    /// is `0xffff`.
    pub fn sum(&self) -> u16 {
        u16::from_be(fold(self.sum))
    }

    /// The value to store in a header's checksum field (host order): the complemented sum.
    pub fn finish(&self) -> u16 {
        !self.sum()
    }

    /// True when the data summed, including its checksum field, verifies.
    pub fn is_valid(&self) -> bool {
        self.sum() == 0xffff
    }
}

/// The RFC 1071 checksum of one contiguous buffer, ready to store in a header (host order).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = Checksum::new();
    sum.add_bytes(data);
    sum.finish()
}

/// Sums `data` as native-endian 16-bit lanes into a 64-bit accumulator.
///
/// The core loop takes 32 bytes per step as four 64-bit words, each split into its two 32-bit
/// halves and added into its own 64-bit accumulator: the four chains carry no dependency on one
/// another (so the CPU overlaps them, and the compiler vectorises them), and no carry is ever lost
/// (an accumulator gains under 2^33 per step, so it would take 2^31 steps — 64 GiB — to overflow).
/// A trailing piece of fewer than eight bytes is zero-padded at the end, which places an odd final
/// byte in the high-order (network) half of its word exactly as RFC 1071 prescribes.
fn sum_native(data: &[u8]) -> u64 {
    let mut acc = [0u64; 4];
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in acc.iter_mut().zip(block.chunks_exact(8)) {
            let word = u64::from_ne_bytes(to_array(word));
            *lane += (word & 0xffff_ffff) + (word >> 32);
        }
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for (lane, word) in acc.iter_mut().zip(&mut words) {
        let word = u64::from_ne_bytes(to_array(word));
        *lane += (word & 0xffff_ffff) + (word >> 32);
    }
    acc[3] += sum_tail(words.remainder());
    // Fold each lane to 16 bits before combining, so the total cannot overflow either.
    acc.iter().map(|&lane| u64::from(fold(lane))).sum()
}

/// Sums the last 0–7 bytes as if zero-padded to a 16-bit boundary, without a copy.
///
/// A 16-bit lane's position within a wider word does not matter (2^16 ≡ 1 modulo 2^16 − 1), only
/// which half of its lane a byte is in; the pieces here start at even offsets, so an odd final
/// byte is the first (network high-order) byte of its lane.
fn sum_tail(mut rest: &[u8]) -> u64 {
    let mut sum = 0u64;
    if let Some((word, tail)) = rest.split_first_chunk::<4>() {
        sum += u64::from(u32::from_ne_bytes(*word));
        rest = tail;
    }
    if let Some((word, tail)) = rest.split_first_chunk::<2>() {
        sum += u64::from(u16::from_ne_bytes(*word));
        rest = tail;
    }
    if let Some(&byte) = rest.first() {
        sum += u64::from(u16::from_ne_bytes([byte, 0]));
    }
    sum
}

/// The one's-complement contribution of an IP address: its 32-bit words in native order.
fn address_sum(addr: IpAddr) -> u64 {
    match addr {
        IpAddr::V4(a) => u64::from(u32::from_ne_bytes(a.octets())),
        IpAddr::V6(a) => {
            let words = u128::from_ne_bytes(a.octets());
            (0..4).map(|i| u64::from((words >> (32 * i)) as u32)).sum()
        }
    }
}

/// Folds a 64-bit one's-complement accumulator to 16 bits (lane order preserved).
fn fold(mut sum: u64) -> u16 {
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Copies an exactly-8-byte slice into an array (the callers slice it to 8, so this never fails).
fn to_array(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    /// The textbook definition, one big-endian 16-bit word at a time, for comparison.
    fn reference_sum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example_sum() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let mut sum = Checksum::new();
        sum.add_bytes(&data);
        assert_eq!(sum.sum(), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // A classic example header (Wikipedia "IPv4 header checksum"): checksum b861.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        let mut sum = Checksum::new();
        sum.add_bytes(&header);
        assert!(sum.is_valid());
        header[0] ^= 1;
        let mut sum = Checksum::new();
        sum.add_bytes(&header);
        assert!(!sum.is_valid());
    }

    #[test]
    fn empty_and_odd_lengths() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0x12]), !0x1200);
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), !(0x1234 + 0x5600));
    }

    #[test]
    fn all_ones_sum_does_not_collapse_to_zero() {
        // 0xffff + 0xffff + ... must stay 0xffff (negative zero), not wrap to 0.
        let data = [0xffu8; 64];
        let mut sum = Checksum::new();
        sum.add_bytes(&data);
        assert_eq!(sum.sum(), 0xffff);
    }

    #[test]
    fn pseudo_header_matches_manual_layouts() {
        let src4 = Ipv4Addr::new(10, 0, 0, 1);
        let dst4 = Ipv4Addr::new(10, 0, 0, 2);
        let mut manual = Vec::new();
        manual.extend_from_slice(&src4.octets());
        manual.extend_from_slice(&dst4.octets());
        manual.extend_from_slice(&[0, 6, 0, 40]);
        let pseudo = Checksum::pseudo_header(src4.into(), dst4.into(), 6, 40);
        assert_eq!(pseudo.sum(), reference_sum(&manual));

        let src6: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst6: Ipv6Addr = "2001:db8::ff".parse().unwrap();
        let mut manual = Vec::new();
        manual.extend_from_slice(&src6.octets());
        manual.extend_from_slice(&dst6.octets());
        manual.extend_from_slice(&70_000u32.to_be_bytes());
        manual.extend_from_slice(&[0, 0, 0, 58]);
        let pseudo = Checksum::pseudo_header(src6.into(), dst6.into(), 58, 70_000);
        assert_eq!(pseudo.sum(), reference_sum(&manual));
    }

    proptest! {
        #[test]
        fn matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut sum = Checksum::new();
            sum.add_bytes(&data);
            prop_assert_eq!(sum.sum(), reference_sum(&data));
        }

        #[test]
        fn matches_reference_at_any_alignment(
            data in proptest::collection::vec(any::<u8>(), 0..2100),
            offset in 0usize..32,
            len in 0usize..2048,
        ) {
            // Slices starting at every offset within a 32-byte block and of every length, so
            // each combination of misalignment, whole blocks, leftover words and odd tail occurs.
            let start = offset.min(data.len());
            let end = (start + len).min(data.len());
            let piece = &data[start..end];
            let mut sum = Checksum::new();
            sum.add_bytes(piece);
            prop_assert_eq!(sum.sum(), reference_sum(piece));
        }

        #[test]
        fn large_all_ones_buffers_match_reference(len in 0usize..70_000) {
            // The worst case for carries: every word 0xffff, up to beyond a 64 KiB datagram.
            let data = vec![0xffu8; len];
            let mut sum = Checksum::new();
            sum.add_bytes(&data);
            prop_assert_eq!(sum.sum(), reference_sum(&data));
        }

        #[test]
        fn words_added_after_any_prefix_match_reference(
            data in proptest::collection::vec(any::<u8>(), 0..40),
            word32 in any::<u32>(),
            word16 in any::<u16>(),
        ) {
            // add_u32/add_u16 take a shortcut at even offsets and must agree with the bytes at odd ones.
            let mut sum = Checksum::new();
            sum.add_bytes(&data);
            sum.add_u32(word32);
            sum.add_u16(word16);
            let mut whole = data.clone();
            whole.extend_from_slice(&word32.to_be_bytes());
            whole.extend_from_slice(&word16.to_be_bytes());
            prop_assert_eq!(sum.sum(), reference_sum(&whole));
        }

        #[test]
        fn incremental_equals_whole(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut sum = Checksum::new();
            let mut start = 0;
            for point in points {
                sum.add_bytes(&data[start..point]);
                start = point;
            }
            sum.add_bytes(&data[start..]);
            prop_assert_eq!(sum.sum(), reference_sum(&data));
        }

        #[test]
        fn storing_the_checksum_verifies(mut data in proptest::collection::vec(any::<u8>(), 2..200)) {
            // Use the first two bytes as the checksum field.
            data[0] = 0;
            data[1] = 0;
            let value = checksum(&data);
            data[..2].copy_from_slice(&value.to_be_bytes());
            let mut sum = Checksum::new();
            sum.add_bytes(&data);
            prop_assert!(sum.is_valid());
        }
    }
}
