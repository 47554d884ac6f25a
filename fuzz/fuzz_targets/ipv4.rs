//! Fuzz target: the IPv4 view and repr.
//!
//! Any input must be accepted or refused without panicking. The first byte chooses whether the
//! header checksum is fixed up first (so the fuzzer gets past it); the rest is the packet. An
//! accepted datagram's payload lies inside the buffer, and its repr re-emits to a header that
//! parses back to the same repr.
#![no_main]

use braid_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, packet)) = data.split_first() else { return };
    let mut bytes = packet.to_vec();
    if mode & 1 == 1 && bytes.len() >= 20 {
        let header_len = usize::from(bytes[0] & 0x0f) * 4;
        if (20..=bytes.len()).contains(&header_len) {
            Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        }
    }
    let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bytes[..]));
    let Ok(view) = Ipv4Packet::new_checked(&bytes[..]) else { return };
    assert!(view.header_len() >= 20 && view.header_len() <= view.total_len());
    assert!(view.total_len() <= bytes.len());
    assert_eq!(view.payload().len(), view.total_len() - view.header_len());
    let _ = (view.options(), view.frag_offset(), view.is_fragment());
    let Ok(repr) = Ipv4Repr::parse(&view) else { return };
    assert!(view.verify_checksum() && !view.is_fragment());
    let mut out = vec![0u8; repr.total_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]));
    assert_eq!(Ipv4Repr::parse(&Ipv4Packet::new_checked(&out[..]).unwrap()), Ok(repr));
});
