//! Segmentation: every segment is compared byte for byte with the packet the builder makes for
//! that slice of the payload, and its checksums are verified with the reference sum.

use super::packets::*;
use crate::offload::{
    complete_checksum, segment, OffloadError, VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_GSO_UDP_L4,
};

/// Segments into freshly allocated buffers (each big enough for the whole packet) and returns
/// the segments, checking that the headroom before each was left alone.
fn split(hdr: &VirtioNetHdr, packet: &[u8], max_segments: usize) -> Result<Vec<Vec<u8>>, OffloadError> {
    let mut out = vec![vec![0xaau8; OFFSET + packet.len()]; max_segments];
    let mut sizes = vec![0usize; max_segments];
    let count = segment(hdr, packet, &mut out, OFFSET, &mut sizes)?;
    Ok(out
        .iter()
        .zip(&sizes)
        .take(count)
        .map(|(buf, &size)| {
            assert!(buf[..OFFSET].iter().all(|&b| b == 0xaa), "headroom was written");
            buf[OFFSET..OFFSET + size].to_vec()
        })
        .collect())
}

/// The packets `spec` (a super-packet) must split into, built independently.
fn expected_segments(spec: &Spec, gso_size: usize) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> =
        if spec.payload.is_empty() { vec![&[][..]] } else { spec.payload.chunks(gso_size).collect() };
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut s = spec.clone();
            s.payload = chunk.to_vec();
            s.seq = spec.seq.wrapping_add((i * gso_size) as u32);
            s.ip_id = spec.ip_id.wrapping_add(i as u16);
            if i != last {
                s.flags &= !(FIN | PSH);
            }
            if i != 0 {
                s.flags &= !CWR;
            }
            s.build()
        })
        .collect()
}

/// Segments `spec` as the kernel would hand it over and checks every segment.
fn check(spec: &Spec, gso_size: u16) {
    let (hdr, packet) = spec.build_gso(gso_size);
    let segments = split(&hdr, &packet, spec.payload.len() / usize::from(gso_size) + 2).unwrap();
    let expected = expected_segments(spec, usize::from(gso_size));
    assert_eq!(segments.len(), expected.len(), "segment count");
    for (i, (got, want)) in segments.iter().zip(&expected).enumerate() {
        assert_valid(got);
        assert_eq!(got, want, "segment {i} differs");
        assert!(got.len() <= spec.ip_header_len() + spec.transport_header_len() + usize::from(gso_size));
    }
    let payload: Vec<u8> =
        segments.iter().flat_map(|s| s[spec.ip_header_len() + spec.transport_header_len()..].to_vec()).collect();
    assert_eq!(payload, spec.payload, "payload bytes in order");
}

#[test]
fn tcp4_64k_super_packet_with_timestamps() {
    let header_len = 20 + 32;
    let spec = Spec { flags: ACK | PSH, ..Spec::tcp4() }
        .with_timestamps(0x01020304, 0x0a0b0c0d)
        .with_payload(pattern(65535 - header_len, 1));
    check(&spec, 1448);
    let (hdr, packet) = spec.build_gso(1448);
    assert_eq!(split(&hdr, &packet, 100).unwrap().len(), (65535 - header_len).div_ceil(1448));
}

#[test]
fn tcp6_64k_super_packet_with_timestamps() {
    let spec = Spec { flags: ACK | PSH, ..Spec::tcp6() }.with_timestamps(7, 8).with_payload(pattern(65535 - 32, 2));
    check(&spec, 1428);
}

#[test]
fn boundaries_for_both_families_and_protocols() {
    for base in [Spec::tcp4(), Spec::tcp6(), Spec::udp4(), Spec::udp6()] {
        for (payload, gso) in [
            (3 * 1000, 1000),     // exact multiple: three full segments
            (3 * 1000 + 1, 1000), // one byte over: a fourth, one-byte segment
            (999, 1000),          // a single short segment
            (1000, 1000),         // a single full segment
            (10, 1),              // gso_size 1: one byte per segment
            (1, 1),
            (0, 1000), // no payload at all: one header-only packet
            (7, 3),
        ] {
            let spec = Spec { flags: ACK | PSH | FIN, ..base.clone() }.with_payload(pattern(payload, payload as u8));
            check(&spec, gso);
        }
    }
}

#[test]
fn ipv4_options_are_replicated_with_a_fresh_header_checksum() {
    // Router alert (RFC 2113), then NOP padding: IHL 7.
    let spec = Spec { ipv4_options: vec![0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00], ..Spec::tcp4() }
        .with_timestamps(1, 2)
        .with_payload(pattern(5000, 3));
    let (hdr, _) = spec.build_gso(1200);
    assert_eq!(hdr.csum_start, 28);
    check(&spec, 1200);
    let udp = Spec { ipv4_options: vec![0x94, 0x04, 0x00, 0x00], ..Spec::udp4() }.with_payload(pattern(3000, 4));
    check(&udp, 1000);
}

#[test]
fn ipv6_extension_headers_are_replicated() {
    let spec = Spec { ipv6_hop_by_hop: true, ..Spec::tcp6() }.with_payload(pattern(4000, 5));
    let (hdr, _) = spec.build_gso(1000);
    assert_eq!(hdr.csum_start, 48);
    check(&spec, 1000);
    check(&Spec { ipv6_hop_by_hop: true, ..Spec::udp6() }.with_payload(pattern(2500, 6)), 1000);
}

#[test]
fn fin_and_psh_only_on_the_last_segment_cwr_only_on_the_first() {
    let spec = Spec { flags: ACK | PSH | FIN | CWR, ..Spec::tcp4() }.with_payload(pattern(4500, 7));
    let (mut hdr, packet) = spec.build_gso(1000);
    hdr.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    let segments = split(&hdr, &packet, 10).unwrap();
    let flags: Vec<u8> = segments.iter().map(|s| s[20 + 13]).collect();
    assert_eq!(flags, vec![ACK | CWR, ACK, ACK, ACK, ACK | PSH | FIN]);
    check(&spec, 1000);
}

#[test]
fn sequence_number_and_ipv4_id_wrap_around() {
    let spec = Spec { seq: u32::MAX - 1500, ip_id: 0xfffe, ..Spec::tcp4() }.with_payload(pattern(4000, 8));
    check(&spec, 1000);
    let (hdr, packet) = spec.build_gso(1000);
    let segments = split(&hdr, &packet, 10).unwrap();
    let ids: Vec<u16> = segments.iter().map(|s| u16::from_be_bytes([s[4], s[5]])).collect();
    assert_eq!(ids, vec![0xfffe, 0xffff, 0, 1]);
    assert_eq!(u32::from_be_bytes(segments[2][24..28].try_into().unwrap()), 499);
}

#[test]
fn checksum_field_content_does_not_matter() {
    let spec = Spec::tcp4().with_payload(pattern(3000, 9));
    let (hdr, partial) = spec.build_gso(1000);
    let want = split(&hdr, &partial, 10).unwrap();
    // A complete checksum instead of the partial one, without NEEDS_CSUM.
    let full = spec.build();
    let no_csum = VirtioNetHdr { flags: 0, ..hdr };
    assert_eq!(split(&no_csum, &full, 10).unwrap(), want);
    // Garbage in the field.
    let mut garbage = full.clone();
    garbage[36..38].copy_from_slice(&[0xde, 0xad]);
    assert_eq!(split(&hdr, &garbage, 10).unwrap(), want);
}

#[test]
fn hdr_len_is_not_trusted() {
    let spec = Spec::tcp6().with_timestamps(3, 4).with_payload(pattern(5000, 10));
    let (hdr, packet) = spec.build_gso(1400);
    let want = split(&hdr, &packet, 10).unwrap();
    // The forward path reports the whole linear part; zero is seen too.
    for hdr_len in [0u16, 40, 1400, packet.len() as u16] {
        assert_eq!(split(&VirtioNetHdr { hdr_len, ..hdr }, &packet, 10).unwrap(), want, "hdr_len {hdr_len}");
    }
}

#[test]
fn non_gso_packets_are_copied_and_partial_checksums_completed() {
    for base in [Spec::tcp4(), Spec::tcp6(), Spec::udp4(), Spec::udp6()] {
        let spec = base.with_payload(pattern(700, 11));
        let full = spec.build();
        // Without NEEDS_CSUM the packet is copied as is.
        assert_eq!(split(&VirtioNetHdr::EMPTY, &full, 1).unwrap(), vec![full.clone()]);
        // With NEEDS_CSUM the partial checksum is completed.
        let (gso_hdr, partial) = spec.build_gso(1000);
        let hdr = VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_NONE, gso_size: 0, ..gso_hdr };
        let got = split(&hdr, &partial, 1).unwrap();
        assert_eq!(got, vec![full.clone()]);
        assert_valid(&got[0]);
        // In place, too.
        let mut in_place = partial.clone();
        complete_checksum(&hdr, &mut in_place).unwrap();
        assert_eq!(in_place, full);
        // And without the flag, in place is a no-op.
        let mut untouched = partial.clone();
        complete_checksum(&VirtioNetHdr::EMPTY, &mut untouched).unwrap();
        assert_eq!(untouched, partial);
    }
}

/// A UDP payload whose checksum comes out as zero, which must be sent as 0xffff.
#[test]
fn udp_checksum_zero_is_sent_as_all_ones() {
    for base in [Spec::udp4(), Spec::udp6()] {
        let mut spec = base.with_payload(vec![0u8; 64]);
        // Choose the last two payload bytes so that the complete sum is 0xffff.
        let packet = spec.build();
        let l4 = spec.ip_header_len();
        let mut zeroed = packet.clone();
        zeroed[l4 + 6..l4 + 8].fill(0);
        let sum = reference_sum(&[&pseudo_header_bytes(&zeroed), &zeroed[l4..]]);
        let fix = 0xffff - sum;
        let n = spec.payload.len();
        spec.payload[n - 2..].copy_from_slice(&fix.to_be_bytes());
        let packet = spec.build();
        assert_eq!(&packet[l4 + 6..l4 + 8], &[0xff, 0xff], "the builder maps zero to 0xffff as well");

        let (gso_hdr, partial) = spec.build_gso(1000);
        let hdr = VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_NONE, gso_size: 0, ..gso_hdr };
        let mut in_place = partial.clone();
        complete_checksum(&hdr, &mut in_place).unwrap();
        assert_eq!(&in_place[l4 + 6..l4 + 8], &[0xff, 0xff]);
        assert_valid(&in_place);
        // Segmenting (one segment) does the same.
        let segments = split(&gso_hdr, &partial, 2).unwrap();
        assert_eq!(segments, vec![packet]);
    }
}

#[test]
fn malformed_input_is_refused() {
    let spec = Spec::tcp4().with_timestamps(1, 2).with_payload(pattern(3000, 12));
    let (hdr, packet) = spec.build_gso(1000);
    let err = |hdr: &VirtioNetHdr, packet: &[u8]| split(hdr, packet, 10).unwrap_err();

    assert_eq!(err(&VirtioNetHdr { gso_size: 0, ..hdr }, &packet), OffloadError::ZeroGsoSize);
    assert_eq!(
        err(&VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_UDP, ..hdr }, &packet),
        OffloadError::UnsupportedGsoType(3)
    );
    assert_eq!(err(&VirtioNetHdr { gso_type: 9, ..hdr }, &packet), OffloadError::UnsupportedGsoType(9));
    assert_eq!(
        err(&VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_TCPV6, ..hdr }, &packet),
        OffloadError::GsoTypeMismatch
    );
    assert_eq!(
        err(&VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_UDP_L4, ..hdr }, &packet),
        OffloadError::GsoTypeMismatch
    );
    assert_eq!(err(&VirtioNetHdr { hdr_len: packet.len() as u16 + 1, ..hdr }, &packet), OffloadError::BadHeaderLength);
    assert_eq!(err(&VirtioNetHdr { csum_start: 24, ..hdr }, &packet), OffloadError::BadChecksumOffsets);
    assert_eq!(err(&VirtioNetHdr { csum_offset: 6, ..hdr }, &packet), OffloadError::BadChecksumOffsets);

    // Truncated IP header, bad IHL, unknown version (hdr_len 0 so that it is not what fails).
    let h0 = VirtioNetHdr { hdr_len: 0, ..hdr };
    assert_eq!(err(&h0, &packet[..19]), OffloadError::MalformedIpHeader);
    assert_eq!(err(&h0, &[]), OffloadError::MalformedIpHeader);
    let mut bad = packet.clone();
    bad[0] = 0x44;
    assert_eq!(err(&h0, &bad), OffloadError::MalformedIpHeader);
    bad[0] = 0x4f;
    assert_eq!(err(&h0, &bad[..59]), OffloadError::MalformedIpHeader);
    bad[0] = 0x55;
    assert_eq!(err(&h0, &bad), OffloadError::MalformedIpHeader);
    // Fragments.
    let mut frag = packet.clone();
    frag[6] |= 0x20;
    assert_eq!(err(&hdr, &frag), OffloadError::Fragmented);
    let mut frag = packet.clone();
    frag[7] = 1;
    assert_eq!(err(&hdr, &frag), OffloadError::Fragmented);
    // Truncated TCP header, data offset too small or past the end.
    assert_eq!(err(&h0, &packet[..20 + 12]), OffloadError::MalformedTransportHeader);
    assert_eq!(err(&h0, &packet[..20 + 31]), OffloadError::MalformedTransportHeader);
    let mut doff = packet.clone();
    doff[32] = 0x40;
    assert_eq!(err(&hdr, &doff), OffloadError::MalformedTransportHeader);
    // Protocol byte says UDP.
    let mut proto = packet.clone();
    proto[9] = UDP;
    assert_eq!(err(&hdr, &proto), OffloadError::GsoTypeMismatch);
    // Truncated UDP header.
    let (udp_hdr, udp) = Spec::udp6().with_payload(pattern(100, 1)).build_gso(50);
    assert_eq!(err(&VirtioNetHdr { hdr_len: 0, ..udp_hdr }, &udp[..45]), OffloadError::MalformedTransportHeader);
    assert_eq!(err(&udp_hdr, &udp[..45]), OffloadError::BadHeaderLength);
    // Truncated vnet header.
    assert_eq!(VirtioNetHdr::parse(&[0u8; 5]), Err(OffloadError::TruncatedVnetHeader));
    // Non-GSO with checksum offsets past the end.
    let none =
        VirtioNetHdr { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start: 20, csum_offset: 4000, ..VirtioNetHdr::EMPTY };
    assert_eq!(err(&none, &packet), OffloadError::BadChecksumOffsets);
    assert_eq!(complete_checksum(&none, &mut packet.clone()), Err(OffloadError::BadChecksumOffsets));
    // An IPv6 fragment header.
    let mut v6 = Spec::tcp6().with_payload(pattern(100, 2)).build();
    v6[6] = 44;
    let v6_hdr = VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_TCPV6, gso_size: 50, ..VirtioNetHdr::EMPTY };
    assert_eq!(err(&v6_hdr, &v6), OffloadError::Fragmented);
    // An extension header running past the end.
    v6[6] = 0;
    v6[41] = 200;
    assert_eq!(err(&v6_hdr, &v6), OffloadError::MalformedIpHeader);
}

#[test]
fn too_few_or_too_small_buffers_are_refused_before_writing() {
    let spec = Spec::tcp4().with_payload(pattern(3001, 13));
    let (hdr, packet) = spec.build_gso(1000);
    let mut out = vec![vec![0x55u8; 2000]; 3];
    let mut sizes = [0usize; 4];
    assert_eq!(
        segment(&hdr, &packet, &mut out, OFFSET, &mut sizes),
        Err(OffloadError::TooManySegments { needed: 4, available: 3 })
    );
    let mut out = vec![vec![0x55u8; 2000]; 4];
    assert_eq!(
        segment(&hdr, &packet, &mut out, OFFSET, &mut sizes[..2]),
        Err(OffloadError::TooManySegments { needed: 4, available: 2 })
    );
    // Room for the headers and 999 bytes of payload only.
    let mut out = vec![vec![0x55u8; OFFSET + 40 + 999]; 4];
    assert_eq!(
        segment(&hdr, &packet, &mut out, OFFSET, &mut sizes),
        Err(OffloadError::BufferTooSmall { needed: OFFSET + 1040, available: OFFSET + 1039 })
    );
    assert!(out.iter().flatten().all(|&b| b == 0x55), "nothing written on error");
    assert_eq!(sizes, [0; 4]);
    // Non-GSO: no buffer, or one too small.
    let empty: &mut [Vec<u8>] = &mut [];
    assert_eq!(
        segment(&VirtioNetHdr::EMPTY, &packet, empty, 0, &mut sizes),
        Err(OffloadError::TooManySegments { needed: 1, available: 0 })
    );
    let mut small = vec![vec![0u8; 100]];
    assert!(matches!(
        segment(&VirtioNetHdr::EMPTY, &packet, &mut small, 0, &mut sizes),
        Err(OffloadError::BufferTooSmall { .. })
    ));
}

#[test]
fn oversized_segments_are_refused() {
    // A gso_size whose segment would not fit a 16-bit length (only possible with a bogus header).
    let spec = Spec::tcp4().with_payload(pattern(70_000, 14));
    let mut packet = spec.build();
    packet[2..4].copy_from_slice(&[0xff, 0xff]);
    let hdr = VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_TCPV4, gso_size: 65535, ..VirtioNetHdr::EMPTY };
    assert_eq!(split(&hdr, &packet, 4).unwrap_err(), OffloadError::SegmentTooLarge);
    // With a size that fits, the bogus length is what refuses it: 70 040 bytes read, the
    // header claims 65 535.
    let hdr = VirtioNetHdr { gso_size: 65535 - 40, ..hdr };
    assert_eq!(split(&hdr, &packet, 4).unwrap_err(), OffloadError::LengthMismatch { header: 65535, read: 70040 });
}

/// Security review finding 8 (docs/SECURITY.md): a super-packet cut short by the read (an
/// IPv6 USO packet can be 40 + 65 535 bytes, more than the old read buffer) used to leave as
/// segments with freshly computed lengths and checksums. Segmented whole on 1a8c593.
#[test]
fn a_super_packet_cut_short_is_refused() {
    for spec in [Spec::udp6().with_payload(pattern(20_000, 3)), Spec::tcp4().with_payload(pattern(20_000, 4))] {
        let (hdr, packet) = spec.build_gso(1400);
        assert!(split(&hdr, &packet, 64).is_ok(), "whole, it segments");
        let cut = &packet[..packet.len() - 100];
        assert_eq!(
            split(&hdr, cut, 64).unwrap_err(),
            OffloadError::LengthMismatch { header: packet.len(), read: packet.len() - 100 }
        );
        // A single packet with a partial checksum to complete: refused too.
        let (single_hdr, single) = spec.clone().with_payload(pattern(500, 5)).build_gso(1400);
        let single_hdr = VirtioNetHdr { gso_type: VIRTIO_NET_HDR_GSO_NONE, gso_size: 0, ..single_hdr };
        assert!(single_hdr.needs_csum());
        assert!(split(&single_hdr, &single, 1).is_ok());
        let short = &single[..single.len() - 10];
        assert!(matches!(split(&single_hdr, short, 1), Err(OffloadError::LengthMismatch { .. })));
    }
}

/// Security review finding 9 (part): a TSO burst of more segments than the reader has buffers
/// (a 64 KiB packet at a small MSS) was dropped whole. `segment_from` writes it in passes.
#[test]
fn a_super_packet_of_more_segments_than_buffers_is_written_in_passes() {
    let spec = Spec::tcp4().with_payload(pattern(65_000, 21));
    let (hdr, packet) = spec.build_gso(100);
    assert!(matches!(split(&hdr, &packet, 128), Err(OffloadError::TooManySegments { needed: 650, .. })));
    let mut out = vec![vec![0u8; OFFSET + 200]; 128];
    let mut sizes = vec![0usize; 128];
    let mut got = Vec::new();
    let mut first = 0;
    loop {
        let (written, total) =
            crate::offload::segment_from(&hdr, &packet, first, &mut out, OFFSET, &mut sizes).unwrap();
        assert_eq!(total, 650);
        got.extend(out.iter().zip(&sizes).take(written).map(|(b, &n)| b[OFFSET..OFFSET + n].to_vec()));
        first += written;
        if first == total {
            break;
        }
        assert_eq!(written, 128);
    }
    assert!(got == expected_segments(&spec, 100), "the same segments as in one pass");
}
