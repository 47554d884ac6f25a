//! Fuzz target: the TCP view, option parsing and repr.
//!
//! Any input must be accepted or refused without panicking. The first byte picks the address
//! family and whether the checksum is fixed up first (so the fuzzer reaches option parsing); the
//! rest is the segment. A parsed segment re-emits to bytes that parse back to the same repr, except
//! that emit may drop SACK blocks a tightly packed sender fitted beside other options.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use braid_wire::tcp::{TcpOptions, TcpPacket, TcpRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, segment)) = data.split_first() else { return };
    let _ = TcpOptions::parse(segment);
    let (src, dst) = if mode & 2 == 0 {
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
    } else {
        (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)), IpAddr::V6(Ipv6Addr::LOCALHOST))
    };
    let mut bytes = segment.to_vec();
    if mode & 1 == 1 && bytes.len() >= 20 {
        TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(src, dst);
    }
    let _ = TcpRepr::parse(&TcpPacket::new_unchecked(&bytes[..]), src, dst);
    let Ok(view) = TcpPacket::new_checked(&bytes[..]) else { return };
    assert!(view.header_len() >= 20 && view.header_len() <= bytes.len());
    assert_eq!(view.options().len() + view.payload().len() + 20, bytes.len());
    let Ok(repr) = TcpRepr::parse(&view, src, dst) else { return };
    assert!(repr.header_len() <= 60 && repr.header_len() % 4 == 0);
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), src, dst);
    let again =
        TcpRepr::parse(&TcpPacket::new_checked(&out[..]).unwrap(), src, dst).expect("re-emitted segment parses");
    let blocks = |r: &TcpRepr| r.options.sack_blocks.iter().take_while(|b| b.is_some()).count();
    assert!(blocks(&again) <= blocks(&repr));
    assert_eq!(again.options.sack_blocks[..blocks(&again)], repr.options.sack_blocks[..blocks(&again)]);
    let strip = |options: TcpOptions| TcpOptions { sack_blocks: [None; 4], ..options };
    assert_eq!(TcpRepr { options: strip(again.options), ..again }, TcpRepr { options: strip(repr.options), ..repr });
});
