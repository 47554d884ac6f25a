//! Fuzz target: the IP header view the WireGuard core routes and filters with.
//!
//! Any input must be accepted or refused without panicking, and an accepted header's
//! declared length must lie between its header length and the buffer length.
#![no_main]

use std::net::IpAddr;

use braid_wire::ip_header::{IpHeader, IpVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = IpHeader::new_checked(data) else {
        return;
    };
    assert!(header.header_len() <= header.total_len());
    assert!(header.total_len() <= data.len());
    assert_eq!(header.packet(), &data[..header.total_len()]);
    match (header.version(), header.src(), header.dst()) {
        (IpVersion::V4, IpAddr::V4(src), IpAddr::V4(dst)) => {
            assert_eq!(data[0] >> 4, 4);
            assert_eq!(&src.octets()[..], &data[12..16]);
            assert_eq!(&dst.octets()[..], &data[16..20]);
        }
        (IpVersion::V6, IpAddr::V6(src), IpAddr::V6(dst)) => {
            assert_eq!(data[0] >> 4, 6);
            assert_eq!(&src.octets()[..], &data[8..24]);
            assert_eq!(&dst.octets()[..], &data[24..40]);
        }
        other => panic!("version and address families disagree: {other:?}"),
    }
});
