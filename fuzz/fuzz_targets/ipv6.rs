//! Fuzz target: the IPv6 view, the extension-header walk and the repr.
//!
//! Any input must be accepted or refused without panicking. An accepted packet's upper-layer data
//! lies inside its payload, and the repr re-emits to a header that parses back to the same repr
//! (emit writes no extension headers, so only the upper-layer fields carry over).
#![no_main]

use braid_wire::ipv6::{walk_extension_headers, Ipv6Packet, Ipv6Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The raw walk over arbitrary bytes, starting from the first byte as next-header type.
    if let Some((&first, rest)) = data.split_first() {
        if let Ok(headers) = walk_extension_headers(first, rest) {
            assert!(headers.len <= rest.len());
        }
    }
    let _ = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(data));
    let Ok(view) = Ipv6Packet::new_checked(data) else { return };
    assert!(40 + view.payload_len() <= data.len());
    let Ok(repr) = Ipv6Repr::parse(&view) else { return };
    let upper = view.upper_layer_payload(&repr);
    assert_eq!(upper.len(), repr.payload_len);
    assert!(repr.payload_len <= view.payload_len());
    if [0, 43, 44, 51, 60].contains(&repr.next_header) {
        // A walk never ends on an extension header type (other than via a fragment, refused above).
        panic!("walk ended on extension header {}", repr.next_header);
    }
    let mut out = vec![0u8; repr.total_len()];
    let mut packet = Ipv6Packet::new_unchecked(&mut out[..]);
    repr.emit(&mut packet);
    packet.payload_mut().copy_from_slice(upper);
    assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_checked(&out[..]).unwrap()), Ok(repr));
});
