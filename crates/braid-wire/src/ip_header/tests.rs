//! IPv4/IPv6 header cases: plain, options, padding, truncation, bad version, bad declared length.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

/// An IPv4 packet with `options` bytes of options, `payload` bytes of payload and `padding`
/// trailing bytes that are not part of the packet.
fn ipv4(options: usize, payload: usize, padding: usize) -> Vec<u8> {
    let header_len = 20 + options;
    let total_len = header_len + payload;
    let mut buf = vec![0u8; total_len + padding];
    buf[0] = 0x40 | (header_len / 4) as u8;
    buf[2..4].copy_from_slice(&(total_len as u16).to_be_bytes());
    buf[8] = 64; // TTL
    buf[9] = 17; // UDP
    buf[12..16].copy_from_slice(&[10, 0, 0, 1]);
    buf[16..20].copy_from_slice(&[192, 168, 7, 9]);
    buf
}

/// An IPv6 packet with `payload` bytes of payload and `padding` trailing bytes.
fn ipv6(payload: usize, padding: usize) -> Vec<u8> {
    let mut buf = vec![0u8; 40 + payload + padding];
    buf[0] = 0x60;
    buf[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
    buf[6] = 58; // ICMPv6
    buf[7] = 64;
    buf[8..24].copy_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
    buf[24..40].copy_from_slice(&"fd00:1:2::beef".parse::<Ipv6Addr>().unwrap().octets());
    buf
}

#[test]
fn ipv4_fields() {
    let buf = ipv4(0, 30, 0);
    let header = IpHeader::new_checked(&buf[..]).unwrap();
    assert_eq!(header.version(), IpVersion::V4);
    assert_eq!(header.src(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(header.dst(), IpAddr::V4(Ipv4Addr::new(192, 168, 7, 9)));
    assert_eq!(header.header_len(), 20);
    assert_eq!(header.total_len(), 50);
    assert_eq!(header.packet(), &buf[..]);
}

#[test]
fn ipv4_with_options_and_padding() {
    let buf = ipv4(8, 5, 11);
    let header = IpHeader::new_checked(&buf[..]).unwrap();
    assert_eq!(header.header_len(), 28);
    assert_eq!(header.total_len(), 33);
    assert_eq!(header.packet(), &buf[..33]);
    assert_eq!(header.dst(), IpAddr::V4(Ipv4Addr::new(192, 168, 7, 9)));

    // The largest header IHL allows: 15 words.
    let buf = ipv4(40, 0, 0);
    assert_eq!(IpHeader::new_checked(&buf[..]).unwrap().header_len(), 60);
}

#[test]
fn ipv4_truncated() {
    let buf = ipv4(0, 0, 0);
    for len in 1..20 {
        assert_eq!(IpHeader::new_checked(&buf[..len]), Err(IpHeaderError::Truncated { needed: 20, actual: len }));
    }
    // IHL announces 60 bytes of header but the buffer holds 40.
    let mut buf = ipv4(0, 20, 0);
    buf[0] = 0x4f;
    assert_eq!(IpHeader::new_checked(&buf[..]), Err(IpHeaderError::Truncated { needed: 60, actual: 40 }));
}

#[test]
fn ipv4_header_length_field_below_minimum() {
    for ihl in 0..5u8 {
        let mut buf = ipv4(0, 10, 0);
        buf[0] = 0x40 | ihl;
        let want = Err(IpHeaderError::Ipv4HeaderLenTooSmall { header_len: usize::from(ihl) * 4 });
        assert_eq!(IpHeader::new_checked(&buf[..]), want);
    }
}

#[test]
fn ipv4_total_length_smaller_than_header() {
    let mut buf = ipv4(4, 10, 0);
    for total in [0u16, 19, 23] {
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        let want = Err(IpHeaderError::TotalLenBelowHeader { total_len: usize::from(total), header_len: 24 });
        assert_eq!(IpHeader::new_checked(&buf[..]), want);
    }
    buf[2..4].copy_from_slice(&24u16.to_be_bytes());
    assert_eq!(IpHeader::new_checked(&buf[..]).unwrap().packet().len(), 24);
}

#[test]
fn ipv4_total_length_beyond_buffer() {
    let buf = ipv4(0, 30, 0);
    assert_eq!(
        IpHeader::new_checked(&buf[..49]),
        Err(IpHeaderError::TotalLenExceedsBuffer { total_len: 50, buffer_len: 49 })
    );
}

#[test]
fn ipv6_fields_and_padding() {
    let buf = ipv6(24, 8);
    let header = IpHeader::new_checked(&buf[..]).unwrap();
    assert_eq!(header.version(), IpVersion::V6);
    assert_eq!(header.src(), "fd00::1".parse::<IpAddr>().unwrap());
    assert_eq!(header.dst(), "fd00:1:2::beef".parse::<IpAddr>().unwrap());
    assert_eq!(header.header_len(), 40);
    assert_eq!(header.total_len(), 64);
    assert_eq!(header.packet(), &buf[..64]);

    let empty_payload = ipv6(0, 0);
    assert_eq!(IpHeader::new_checked(&empty_payload[..]).unwrap().total_len(), 40);
}

#[test]
fn ipv6_truncated_and_overlong() {
    let buf = ipv6(0, 0);
    for len in [1, 20, 39] {
        assert_eq!(IpHeader::new_checked(&buf[..len]), Err(IpHeaderError::Truncated { needed: 40, actual: len }));
    }
    let buf = ipv6(10, 0);
    assert_eq!(
        IpHeader::new_checked(&buf[..49]),
        Err(IpHeaderError::TotalLenExceedsBuffer { total_len: 50, buffer_len: 49 })
    );
}

#[test]
fn empty_buffer_and_bad_versions() {
    assert_eq!(IpHeader::new_checked(&[][..]), Err(IpHeaderError::Truncated { needed: 1, actual: 0 }));
    for version in [0u8, 1, 5, 7, 15] {
        let mut buf = ipv6(0, 0);
        buf[0] = version << 4;
        assert_eq!(IpHeader::new_checked(&buf[..]), Err(IpHeaderError::BadVersion(version)));
    }
}

proptest! {
    #[test]
    fn never_panics_and_checked_lengths_hold(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(header) = IpHeader::new_checked(&bytes[..]) {
            prop_assert!(header.header_len() <= header.total_len());
            prop_assert!(header.total_len() <= bytes.len());
            prop_assert_eq!(header.packet().len(), header.total_len());
            let same_family = header.src().is_ipv4() == header.dst().is_ipv4();
            prop_assert!(same_family);
        }
    }

    #[test]
    fn valid_ipv4_headers_are_accepted(options in 0usize..=10, payload in 0usize..64, padding in 0usize..16) {
        let buf = ipv4(options * 4, payload, padding);
        let header = IpHeader::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(header.total_len(), 20 + options * 4 + payload);
    }
}
