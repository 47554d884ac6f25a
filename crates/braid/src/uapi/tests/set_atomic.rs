//! A `set` applies completely or not at all, and a huge one applies in linear time.

use super::*;
use std::fmt::Write as _;

/// A device with a private key, a port and two peers.
fn configured() -> (Device, FakeHost) {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let reply = set(
        &mut device,
        &mut host,
        &[
            &format!("private_key={PRIVATE_HEX}"),
            "listen_port=51820",
            &format!("public_key={}", hex_of(0x11)),
            "endpoint=192.0.2.1:1",
            "allowed_ip=10.1.0.0/16",
            &format!("public_key={}", hex_of(0x22)),
            "allowed_ip=10.2.0.0/16",
        ],
    );
    assert_eq!(reply, OK);
    (device, host)
}

/// Requests that change a lot before their one bad line.
fn destructive_prefix() -> Vec<String> {
    vec![
        format!("private_key={}", hex_of(0x48)),
        "listen_port=9".to_owned(),
        "fwmark=5".to_owned(),
        "replace_peers=true".to_owned(),
        format!("public_key={}", hex_of(0x33)),
        "allowed_ip=10.1.0.0/16".to_owned(),
        format!("public_key={}", hex_of(0x11)),
        "remove=true".to_owned(),
    ]
}

#[test]
fn a_bad_line_anywhere_applies_nothing() {
    let bad_lines = [
        "allowed_ip=10.0.0.0/33",
        "endpoint=not-an-endpoint",
        "preshared_key=123",
        "persistent_keepalive_interval=65536",
        "unknown_key=1",
        "listen_port=1",
        "no_equals_sign",
        "public_key=nothex",
        "protocol_version=2",
        "update_only=false",
    ];
    for bad in bad_lines {
        let (mut device, mut host) = configured();
        let before = get(&mut device, &mut host);
        let mut lines = destructive_prefix();
        lines.push(bad.to_owned());
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let reply = set(&mut device, &mut host, &lines);
        assert!(reply.starts_with("errno=-") && reply != OK, "{bad}: {reply}");
        assert_eq!(get(&mut device, &mut host), before, "{bad} changed the device");
        assert!(host.port_calls.len() == 1, "{bad}: the host was asked to rebind");
    }
}

#[test]
fn a_bad_device_line_first_also_applies_nothing() {
    let (mut device, mut host) = configured();
    let before = get(&mut device, &mut host);
    let reply = set(&mut device, &mut host, &["fwmark=-1", "replace_peers=true"]);
    assert_eq!(reply, EINVAL);
    assert_eq!(get(&mut device, &mut host), before);
}

#[test]
fn a_port_in_use_fails_before_the_device_changes() {
    let (mut device, mut host) = configured();
    let before = get(&mut device, &mut host);
    host.refuse_port = Some(Errno::EADDRINUSE);
    let lines = destructive_prefix();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(set(&mut device, &mut host, &lines), "errno=-98\n\n");
    assert_eq!(get(&mut device, &mut host), before);
}

#[test]
fn a_refused_fwmark_changes_neither_mark_nor_port() {
    let (mut device, mut host) = configured();
    let before = get(&mut device, &mut host);
    host.refuse_mark = Some(Errno(1));
    let lines = destructive_prefix();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(set(&mut device, &mut host, &lines), "errno=-1\n\n");
    assert_eq!(host.port_calls, vec![51820, 9], "one call for port and mark together");
    assert_eq!((host.port, host.mark), (51820, 0));
    assert_eq!(get(&mut device, &mut host), before);
}

/// 130 000 `allowed_ip` lines (a full-table import) in one request, fed in socket-sized
/// chunks: all applied, in well under a second with optimisations (the bound here also
/// holds for an unoptimised test build).
#[test]
fn a_130k_prefix_request_applies_in_linear_time() {
    const COUNT: u32 = 130_000;
    let mut request = format!("set=1\npublic_key={}\nreplace_allowed_ips=true\n", hex_of(0x11));
    for i in 0..COUNT {
        let _ = writeln!(request, "allowed_ip={}/32", core::net::Ipv4Addr::from(0x0a00_0000 + i * 7));
    }
    request.push('\n');
    let mut device = new_device();
    let mut host = FakeHost::default();
    let mut session = UapiSession::new();
    let started = std::time::Instant::now();
    let mut reply = Vec::new();
    for chunk in request.as_bytes().chunks(65536) {
        reply.extend(session.feed(chunk, Instant::ZERO, &mut device, &mut host));
    }
    let elapsed = started.elapsed();
    assert_eq!(reply, OK.as_bytes());
    let id = device.peer_by_key(&braid_proto::crypto::PublicKey([0x11; 32])).unwrap();
    assert_eq!(device.allowed_ips_of(id).len(), COUNT as usize);
    let limit = if cfg!(debug_assertions) { Duration::from_secs(10) } else { Duration::from_secs(1) };
    assert!(elapsed < limit, "took {elapsed:?}");

    // And `get` lists them all, once each, in one table pass.
    let started = std::time::Instant::now();
    let text = get(&mut device, &mut host);
    assert!(started.elapsed() < limit, "get took {:?}", started.elapsed());
    assert_eq!(text.matches("allowed_ip=").count(), COUNT as usize);
}

/// Security review finding 9: configuration changes went unlogged (and a detached daemon's
/// log went nowhere). Every applied `set` is logged now, with public keys only.
#[test]
fn an_applied_set_is_logged_without_any_secret() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let psk = hex_of(0x77);
    let peer = hex_of(0x31);
    let request = format!(
        "set=1\nprivate_key={PRIVATE_HEX}\nlisten_port=51820\npublic_key={peer}\npreshared_key={psk}\nendpoint=198.18.0.2:51820\nallowed_ip=198.19.0.2/32\n\n"
    );
    let reply = tracing::subscriber::with_default(subscriber, || {
        exchange(&mut new_device(), &mut FakeHost::default(), &request)
    });
    assert_eq!(reply, "errno=0\n\n");
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let own_public = crate::keys::key_to_base64(&crate::keys::key_from_hex(&own_public_hex()).unwrap());
    let peer_public = crate::keys::key_to_base64(&[0x31; 32]);
    for needle in [
        own_public.as_str(),
        peer_public.as_str(),
        "port=51820",
        "pre-shared key set",
        "endpoint 198.18.0.2:51820",
        "allowed ips +1 -0",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
    let private_b64 = crate::keys::key_to_base64(&crate::keys::key_from_hex(PRIVATE_HEX).unwrap());
    for secret in [PRIVATE_HEX, psk.as_str(), private_b64.as_str(), &crate::keys::key_to_base64(&[0x77; 32])] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}
