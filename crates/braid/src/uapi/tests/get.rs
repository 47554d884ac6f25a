//! `get` output, byte for byte.

use super::*;
use braid_proto::Endpoint;
use core::net::{Ipv4Addr, SocketAddr};

#[test]
fn empty_device_reports_only_errno() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(get(&mut device, &mut host), "errno=0\n\n");
    host.port = 51820;
    assert_eq!(get(&mut device, &mut host), "listen_port=51820\nerrno=0\n\n");
}

#[test]
fn exact_text_for_a_known_configuration() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let reply = set(
        &mut device,
        &mut host,
        &[
            &format!("private_key={PRIVATE_HEX}"),
            "listen_port=51820",
            "fwmark=7",
            &format!("public_key={}", hex_of(0x11)),
            &format!("preshared_key={}", hex_of(0x33)),
            "endpoint=192.0.2.1:51820",
            "persistent_keepalive_interval=25",
            "allowed_ip=fd00::/64",
            "allowed_ip=10.1.2.3/16",
            "allowed_ip=10.0.0.0/24",
            &format!("public_key={}", hex_of(0x22)),
            "endpoint=[2001:db8::1]:7",
            "allowed_ip=10.0.1.0/24",
        ],
    );
    assert_eq!(reply, OK);
    let expected = format!(
        "private_key={PRIVATE_HEX}\n\
         listen_port=51820\n\
         fwmark=7\n\
         public_key={p1}\n\
         preshared_key={psk}\n\
         protocol_version=1\n\
         endpoint=192.0.2.1:51820\n\
         last_handshake_time_sec=0\n\
         last_handshake_time_nsec=0\n\
         tx_bytes=148\n\
         rx_bytes=0\n\
         persistent_keepalive_interval=25\n\
         allowed_ip=10.0.0.0/24\n\
         allowed_ip=10.1.0.0/16\n\
         allowed_ip=fd00::/64\n\
         public_key={p2}\n\
         preshared_key={ZERO_HEX}\n\
         protocol_version=1\n\
         endpoint=[2001:db8::1]:7\n\
         last_handshake_time_sec=0\n\
         last_handshake_time_nsec=0\n\
         tx_bytes=0\n\
         rx_bytes=0\n\
         persistent_keepalive_interval=0\n\
         allowed_ip=10.0.1.0/24\n\
         errno=0\n\n",
        p1 = hex_of(0x11),
        p2 = hex_of(0x22),
        psk = hex_of(0x33),
    );
    assert_eq!(get(&mut device, &mut host), expected);
}

#[test]
fn unclamped_private_key_is_shown_clamped() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(set(&mut device, &mut host, &[&format!("private_key={}", hex_of(0xff))]), OK);
    let clamped = format!("private_key=f8{}7f\n", "ff".repeat(30));
    assert!(get(&mut device, &mut host).starts_with(&clamped));
}

/// A minimal IPv4 packet for the tunnel.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

fn drain(device: &mut Device, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2048];
    while let Some(t) = device.poll_transmit(now, &mut buf) {
        out.push(buf[..t.len].to_vec());
        assert!(out.len() < 100);
    }
    out
}

/// Two devices configured only through the UAPI complete a handshake; `get` then reports
/// the handshake as Unix time (not an age) and counts handshake bytes in tx/rx.
#[test]
fn handshake_time_and_byte_counters() {
    let (addr_a, addr_b): (SocketAddr, SocketAddr) =
        ("198.18.0.1:51820".parse().unwrap(), "198.18.0.2:51820".parse().unwrap());
    let (tun_a, tun_b) = (Ipv4Addr::new(198, 19, 0, 1), Ipv4Addr::new(198, 19, 0, 2));
    let key_a = hex_of(0x48);
    let key_b = hex_of(0x50);
    let pub_of = |hex: &str| key_to_hex(&pubkey(&SecretKey::new(crate::keys::key_from_hex(hex).unwrap())));
    let mut a = new_device();
    let mut b = new_device();
    let mut host = FakeHost::default();
    let configure = |device: &mut Device, host: &mut FakeHost, own: &str, peer: &str, at: SocketAddr, tun: Ipv4Addr| {
        let reply = set(
            device,
            host,
            &[
                &format!("private_key={own}"),
                &format!("public_key={}", pub_of(peer)),
                &format!("endpoint={at}"),
                &format!("allowed_ip={tun}/32"),
            ],
        );
        assert_eq!(reply, OK);
    };
    configure(&mut a, &mut host, &key_a, &key_b, addr_b, tun_b);
    configure(&mut b, &mut host, &key_b, &key_a, addr_a, tun_a);

    let now = Instant::from_millis(5_250);
    let mut out = [0u8; 2048];
    assert_eq!(a.handle_packet(now, &ipv4(tun_a, tun_b, 100), &mut out), Ok(None));
    let mut initiation = drain(&mut a, now);
    assert_eq!(initiation.len(), 1);
    assert_eq!(b.handle_datagram(now, Endpoint::from(addr_a), &mut initiation[0]), Ok(None));
    let mut response = drain(&mut b, now);
    assert_eq!(response.len(), 1);
    assert_eq!(a.handle_datagram(now, Endpoint::from(addr_b), &mut response[0]), Ok(None));
    let data = drain(&mut a, now);
    assert_eq!(data.len(), 1);
    let (init_len, resp_len, data_len) = (initiation[0].len(), response[0].len(), data[0].len());
    assert_eq!((init_len, resp_len), (148, 92));

    let text = get(&mut a, &mut host);
    let expected = format!(
        "last_handshake_time_sec=1700000005\n\
         last_handshake_time_nsec=250000000\n\
         tx_bytes={}\n\
         rx_bytes={resp_len}\n",
        init_len + data_len
    );
    assert!(text.contains(&expected), "{text}");
}
