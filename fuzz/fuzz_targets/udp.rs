//! Fuzz target: the UDP view and repr.
//!
//! Any input must be accepted or refused without panicking. The first byte picks the address
//! family and whether the checksum is fixed up first; the rest is the datagram. A parsed datagram
//! lies within its length field and re-emits to bytes that parse back to the same repr.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use braid_wire::udp::{UdpPacket, UdpRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, datagram)) = data.split_first() else { return };
    let (src, dst) = if mode & 2 == 0 {
        (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)))
    } else {
        (IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), IpAddr::V6(Ipv6Addr::LOCALHOST))
    };
    let mut bytes = datagram.to_vec();
    if mode & 1 == 1 {
        if let Ok(mut packet) = UdpPacket::new_checked(&mut bytes[..]) {
            packet.fill_checksum(src, dst);
        }
    }
    let _ = UdpRepr::parse(&UdpPacket::new_unchecked(&bytes[..]), src, dst);
    let Ok(view) = UdpPacket::new_checked(&bytes[..]) else { return };
    assert!(view.len() >= 8 && view.len() <= bytes.len());
    let Ok(repr) = UdpRepr::parse(&view, src, dst) else { return };
    assert_eq!(repr.buffer_len(), view.len());
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), src, dst);
    assert_eq!(UdpRepr::parse(&UdpPacket::new_checked(&out[..]).unwrap(), src, dst), Ok(repr));
});
