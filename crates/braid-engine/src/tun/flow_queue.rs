//! Which TUN queue a decrypted packet is written to.
//!
//! A multi-queue TUN remembers, per flow, the queue that last wrote one of its packets and
//! hands that flow's outgoing packets to the same queue's reader (the kernel's "automq" flow
//! steering). Writing every inbound packet on one queue would therefore pull every flow to
//! one reader. Writing each flow on a queue chosen by a symmetric hash of its addresses and
//! ports spreads the flows over the lanes, both directions of a flow on the same one.

/// The queue (of `queues`) for the IP packet `packet`: a hash of its addresses and, for TCP
/// and UDP, ports, the same for both directions. Anything unparseable goes to queue 0.
pub fn flow_queue(packet: &[u8], queues: usize) -> usize {
    if queues <= 1 {
        return 0;
    }
    let Some(key) = flow_key(packet) else { return 0 };
    (mix(key) % queues as u64) as usize
}

/// SplitMix64's finaliser: every key bit moves every output bit. (A multiply alone would let
/// the port's lowest bit alone pick between two queues, and Linux gives connect() even
/// ephemeral ports.)
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A direction-independent key: the XOR of both addresses folded to 64 bits, the protocol,
/// and the XOR of the two ports.
fn flow_key(packet: &[u8]) -> Option<u64> {
    let version = packet.first()? >> 4;
    let (proto, addrs, transport) = match version {
        4 => {
            let ihl = usize::from(packet.first()? & 0x0f) * 4;
            let proto = *packet.get(9)?;
            let src = u32::from_be_bytes(packet.get(12..16)?.try_into().ok()?);
            let dst = u32::from_be_bytes(packet.get(16..20)?.try_into().ok()?);
            // Later fragments carry no ports.
            let fragment_offset = u16::from_be_bytes(packet.get(6..8)?.try_into().ok()?) & 0x1fff;
            let transport = if fragment_offset == 0 { packet.get(ihl..) } else { None };
            (proto, u64::from(src ^ dst), transport)
        }
        6 => {
            let proto = *packet.get(6)?;
            let mut folded = 0u64;
            for chunk in packet.get(8..40)?.chunks_exact(8) {
                folded ^= u64::from_be_bytes(chunk.try_into().ok()?);
            }
            (proto, folded, packet.get(40..))
        }
        _ => return None,
    };
    let ports = match (proto, transport) {
        // TCP, UDP, UDP-Lite, SCTP, DCCP: source and destination port first.
        (6 | 17 | 136 | 132 | 33, Some(t)) if t.len() >= 4 => {
            u64::from(u16::from_be_bytes([t[0], t[1]]) ^ u16::from_be_bytes([t[2], t[3]]))
        }
        _ => 0,
    };
    Some(addrs ^ (u64::from(proto) << 56) ^ (ports << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = 6;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p
    }

    fn v6(src_last: u8, dst_last: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[6] = 17;
        p[8] = 0xfd;
        p[23] = src_last;
        p[24] = 0xfd;
        p[39] = dst_last;
        p[40..42].copy_from_slice(&sport.to_be_bytes());
        p[42..44].copy_from_slice(&dport.to_be_bytes());
        p
    }

    #[test]
    fn both_directions_of_a_flow_share_a_queue() {
        for port in 40000..40200 {
            let a = [198, 18, 0, 1];
            let b = [198, 18, 0, 2];
            assert_eq!(flow_queue(&v4(a, b, port, 5201), 4), flow_queue(&v4(b, a, 5201, port), 4));
            assert_eq!(flow_queue(&v6(1, 2, port, 53), 3), flow_queue(&v6(2, 1, 53, port), 3));
        }
    }

    #[test]
    fn flows_spread_over_the_queues() {
        let mut counts = [0usize; 4];
        for port in 40000..41000 {
            counts[flow_queue(&v4([198, 18, 0, 1], [198, 18, 0, 2], port, 5201), 4)] += 1;
        }
        for c in counts {
            assert!((150..=350).contains(&c), "{counts:?}");
        }
        // Linux gives connect() even ephemeral ports: those spread as well, over 2 and 3 queues.
        for queues in [2, 3] {
            let mut counts = [0usize; 3];
            for port in (40000..42000).step_by(2) {
                counts[flow_queue(&v4([198, 18, 0, 1], [198, 18, 0, 2], port, 5201), queues)] += 1;
            }
            let fair = 1000 / queues;
            for &c in &counts[..queues] {
                assert!(c > fair * 8 / 10 && c < fair * 12 / 10, "{queues} queues: {counts:?}");
            }
        }
    }

    #[test]
    fn garbage_and_one_queue_go_to_the_first() {
        assert_eq!(flow_queue(&[], 4), 0);
        assert_eq!(flow_queue(&[0x45, 0, 0], 4), 0);
        assert_eq!(flow_queue(&[0x70; 60], 4), 0);
        assert_eq!(flow_queue(&v4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), 1), 0);
        // A truncated transport header still hashes (addresses only), within range.
        let mut short = v4([198, 18, 0, 1], [198, 18, 0, 2], 1, 2);
        short.truncate(22);
        assert!(flow_queue(&short, 4) < 4);
    }
}
