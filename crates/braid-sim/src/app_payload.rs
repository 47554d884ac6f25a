//! Self-describing application payloads: each carries a unique sequence number, its sender
//! and receiver, and filler derived from the sequence number.
//!
//! Because the filler is a function of the tag, a delivered packet proves its own integrity
//! without the simulator keeping a copy of every packet it sent, which keeps hours of
//! simulated traffic cheap, and duplicates are counted by sequence number.

use crate::node::NodeId;

const MAGIC: [u8; 8] = *b"braidsim";

/// Bytes of the tag at the start of every tagged payload: magic, sequence, sender, receiver.
pub const TAG_LEN: usize = 8 + 8 + 4 + 4;

/// The identity of one application packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppTag {
    /// Unique per simulation, in sending order.
    pub seq: u64,
    /// Sending node.
    pub from: NodeId,
    /// Intended receiving node.
    pub to: NodeId,
}

/// What a delivered payload turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadCheck {
    /// Not a tagged payload at all (a test's own bytes).
    Untagged,
    /// A tagged payload whose filler is exactly what the sender wrote.
    Intact(AppTag),
    /// The magic matched but the tag or filler did not: the packet was altered in flight.
    Corrupted,
}

/// Writes a tagged payload of `len` bytes (at least [`TAG_LEN`]; shorter requests are
/// lengthened) into `out`, replacing its contents.
pub fn write_tagged_payload(tag: AppTag, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&tag.seq.to_be_bytes());
    out.extend_from_slice(&node_to_u32(tag.from).to_be_bytes());
    out.extend_from_slice(&node_to_u32(tag.to).to_be_bytes());
    let filler_len = len.saturating_sub(TAG_LEN);
    out.extend((0..filler_len).map(|i| filler_byte(tag.seq, i)));
}

/// Classifies a received payload; never panics.
pub fn check_payload(payload: &[u8]) -> PayloadCheck {
    if payload.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return PayloadCheck::Untagged;
    }
    let Some(tag_bytes) = payload.get(..TAG_LEN) else {
        return PayloadCheck::Corrupted;
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&tag_bytes[8..16]);
    let mut from = [0u8; 4];
    from.copy_from_slice(&tag_bytes[16..20]);
    let mut to = [0u8; 4];
    to.copy_from_slice(&tag_bytes[20..24]);
    let seq = u64::from_be_bytes(seq);
    let tag =
        AppTag { seq, from: NodeId(u32::from_be_bytes(from) as usize), to: NodeId(u32::from_be_bytes(to) as usize) };
    let filler_ok = payload[TAG_LEN..].iter().enumerate().all(|(i, b)| *b == filler_byte(seq, i));
    if filler_ok {
        PayloadCheck::Intact(tag)
    } else {
        PayloadCheck::Corrupted
    }
}

fn node_to_u32(node: NodeId) -> u32 {
    u32::try_from(node.0).unwrap_or(u32::MAX)
}

/// A byte pattern that differs between packets and along a packet, so swapped or shifted
/// bytes are caught.
fn filler_byte(seq: u64, index: usize) -> u8 {
    let mixed = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ (index as u64).wrapping_mul(0xff51_afd7);
    (mixed >> 24) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tagged_payload_round_trips() {
        let tag = AppTag { seq: 42, from: NodeId(3), to: NodeId(9) };
        let mut buf = Vec::new();
        write_tagged_payload(tag, 300, &mut buf);
        assert_eq!(buf.len(), 300);
        assert_eq!(check_payload(&buf), PayloadCheck::Intact(tag));
        write_tagged_payload(tag, 1, &mut buf);
        assert_eq!(buf.len(), TAG_LEN);
        assert_eq!(check_payload(&buf), PayloadCheck::Intact(tag));
    }

    #[test]
    fn foreign_and_truncated_payloads_are_classified() {
        assert_eq!(check_payload(b"hello"), PayloadCheck::Untagged);
        assert_eq!(check_payload(b""), PayloadCheck::Untagged);
        assert_eq!(check_payload(b"braidsim\0\0"), PayloadCheck::Corrupted);
    }

    proptest! {
        #[test]
        fn any_byte_change_in_the_filler_is_caught(seq in any::<u64>(), len in 25usize..400, at in any::<usize>(), x in 1u8..=255) {
            let tag = AppTag { seq, from: NodeId(0), to: NodeId(1) };
            let mut buf = Vec::new();
            write_tagged_payload(tag, len, &mut buf);
            let at = TAG_LEN + at % (len - TAG_LEN);
            buf[at] ^= x;
            prop_assert_eq!(check_payload(&buf), PayloadCheck::Corrupted);
        }
    }
}
