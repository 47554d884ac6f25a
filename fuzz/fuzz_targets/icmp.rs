//! Fuzz target: ICMPv4 and ICMPv6 views, reprs and quotes.
//!
//! Any input must be accepted or refused without panicking. The first byte picks the protocol and
//! whether the checksum is fixed up first (so the fuzzer reaches type, code and quote handling);
//! the rest is the message. A parsed message re-emits to bytes that parse back to the same repr, and
//! an error's quote exposes at least the 8 upper-layer bytes it promises.
#![no_main]

use std::net::Ipv6Addr;

use braid_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Ipv4Quote};
use braid_wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, Ipv6Quote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, message)) = data.split_first() else { return };
    let mut bytes = message.to_vec();
    if mode & 2 == 0 {
        let _ = Ipv4Quote::parse(message).map(|q| assert!(q.payload().len() >= 8));
        if mode & 1 == 1 && bytes.len() >= 8 {
            Icmpv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        }
        let Ok(view) = Icmpv4Packet::new_checked(&bytes[..]) else { return };
        let Ok(repr) = Icmpv4Repr::parse(&view) else { return };
        if let Icmpv4Repr::DstUnreachable { quote, .. }
        | Icmpv4Repr::FragNeeded { quote, .. }
        | Icmpv4Repr::TimeExceeded { quote, .. }
        | Icmpv4Repr::ParamProblem { quote, .. } = repr
        {
            assert!(quote.payload().len() >= 8);
            let _ = (quote.src_addr(), quote.dst_addr(), quote.protocol(), quote.ports());
        }
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
        assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()), Ok(repr));
    } else {
        let (src, dst) = (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2));
        let _ = Ipv6Quote::parse(message).map(|q| assert!(q.payload().len() >= 8));
        if mode & 1 == 1 && bytes.len() >= 8 {
            Icmpv6Packet::new_unchecked(&mut bytes[..]).fill_checksum(src, dst);
        }
        let Ok(view) = Icmpv6Packet::new_checked(&bytes[..]) else { return };
        let Ok(repr) = Icmpv6Repr::parse(&view, src, dst) else { return };
        if let Icmpv6Repr::DstUnreachable { quote, .. }
        | Icmpv6Repr::PacketTooBig { quote, .. }
        | Icmpv6Repr::TimeExceeded { quote, .. }
        | Icmpv6Repr::ParamProblem { quote, .. } = repr
        {
            assert!(quote.payload().len() >= 8);
            let _ = (quote.src_addr(), quote.dst_addr(), quote.protocol(), quote.ports());
        }
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), src, dst);
        assert_eq!(Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), src, dst), Ok(repr));
    }
});
