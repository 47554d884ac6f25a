//! `set` semantics, key by key, as wireguard-go applies them.

use super::*;
use braid_proto::crypto::PublicKey;
use braid_proto::PeerId;
use core::net::IpAddr;

fn peer(device: &Device, byte: u8) -> Option<PeerId> {
    device.peer_by_key(&PublicKey([byte; 32]))
}

fn prefixes(device: &Device, id: PeerId) -> Vec<String> {
    device.allowed_ips_of(id).into_iter().map(|(a, l)| format!("{a}/{l}")).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn device_keys_reach_device_and_host() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let reply = set(&mut device, &mut host, &[&format!("private_key={PRIVATE_HEX}"), "listen_port=4242", "fwmark=9"]);
    assert_eq!(reply, OK);
    assert_eq!(device.public_key().map(|k| key_to_hex(&k.0)), Some(own_public_hex()));
    assert_eq!((host.port, host.mark, host.port_calls.as_slice()), (4242, 9, &[4242][..]));

    assert_eq!(set(&mut device, &mut host, &[&format!("private_key={ZERO_HEX}")]), OK);
    assert_eq!(device.public_key(), None, "an all-zero key clears it");
    assert!(!get(&mut device, &mut host).contains("private_key="));
}

#[test]
fn listen_port_zero_and_repeats_rebind_once_with_the_last_value() {
    let mut device = new_device();
    let mut host = FakeHost { port: 1000, ..FakeHost::default() };
    assert_eq!(set(&mut device, &mut host, &["listen_port=1", "listen_port=0"]), OK);
    assert_eq!(host.port_calls, vec![0]);
    // A request without listen_port does not rebind.
    assert_eq!(set(&mut device, &mut host, &["fwmark=1"]), OK);
    assert_eq!(host.port_calls, vec![0]);
}

#[test]
fn own_public_key_peer_is_ignored() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let own = own_public_hex();
    let reply = set(
        &mut device,
        &mut host,
        &[
            &format!("private_key={PRIVATE_HEX}"),
            &format!("public_key={own}"),
            "endpoint=192.0.2.1:1",
            "allowed_ip=10.0.0.0/8",
            &format!("public_key={}", hex_of(0x11)),
            "allowed_ip=10.9.0.0/16",
        ],
    );
    assert_eq!(reply, OK);
    assert_eq!(device.peer_count(), 1, "only the other peer exists");
    assert_eq!(device.route(ip("10.0.0.1")), None, "the ignored section's prefix went nowhere");
    assert!(device.route(ip("10.9.0.1")).is_some());
}

#[test]
fn update_only_on_an_unknown_peer_does_nothing() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let reply = set(
        &mut device,
        &mut host,
        &[&format!("public_key={}", hex_of(0x11)), "update_only=true", "endpoint=192.0.2.1:1", "allowed_ip=10.0.0.0/8"],
    );
    assert_eq!(reply, OK);
    assert_eq!(device.peer_count(), 0);
    assert_eq!(device.route(ip("10.0.0.1")), None);
}

#[test]
fn update_only_on_a_known_peer_updates_it() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(set(&mut device, &mut host, &[&format!("public_key={}", hex_of(0x11))]), OK);
    let id = peer(&device, 0x11).unwrap();
    let reply = set(
        &mut device,
        &mut host,
        &[&format!("public_key={}", hex_of(0x11)), "update_only=true", "allowed_ip=10.0.0.0/8"],
    );
    assert_eq!(reply, OK);
    assert_eq!(peer(&device, 0x11), Some(id), "the same peer, not a new one");
    assert_eq!(prefixes(&device, id), vec!["10.0.0.0/8"]);
}

#[test]
fn remove_deletes_the_peer_and_ignores_later_lines() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let key = format!("public_key={}", hex_of(0x11));
    assert_eq!(set(&mut device, &mut host, &[&key, "allowed_ip=10.0.0.0/8"]), OK);
    assert_eq!(set(&mut device, &mut host, &[&key, "remove=true", "allowed_ip=10.1.0.0/16"]), OK);
    assert_eq!(device.peer_count(), 0);
    assert_eq!(device.route(ip("10.0.0.1")), None);
    assert_eq!(device.route(ip("10.1.0.1")), None);
    // Removing an unknown peer is not an error.
    assert_eq!(set(&mut device, &mut host, &[&format!("public_key={}", hex_of(0x12)), "remove=true"]), OK);
    assert_eq!(device.peer_count(), 0);
}

#[test]
fn minus_prefix_removes_one_prefix_of_this_peer_only() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let (k1, k2) = (format!("public_key={}", hex_of(0x11)), format!("public_key={}", hex_of(0x22)));
    let reply = set(
        &mut device,
        &mut host,
        &[
            &k1,
            "allowed_ip=10.0.0.0/24",
            "allowed_ip=10.0.1.0/24",
            "allowed_ip=fd00::/64",
            &k2,
            "allowed_ip=10.2.0.0/16",
        ],
    );
    assert_eq!(reply, OK);
    // `-` on peer 1 for its own prefix, host bits ignored; for peer 2's prefix: no effect.
    let reply = set(&mut device, &mut host, &[&k1, "allowed_ip=-10.0.1.7/24", "allowed_ip=-10.2.0.0/16"]);
    assert_eq!(reply, OK);
    let (p1, p2) = (peer(&device, 0x11).unwrap(), peer(&device, 0x22).unwrap());
    assert_eq!(prefixes(&device, p1), vec!["10.0.0.0/24", "fd00::/64"]);
    assert_eq!(prefixes(&device, p2), vec!["10.2.0.0/16"]);
}

#[test]
fn allowed_ip_moves_between_peers() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let (k1, k2) = (format!("public_key={}", hex_of(0x11)), format!("public_key={}", hex_of(0x22)));
    assert_eq!(set(&mut device, &mut host, &[&k1, "allowed_ip=10.0.0.0/8", &k2, "allowed_ip=10.0.0.0/8"]), OK);
    assert_eq!(device.route(ip("10.1.1.1")), peer(&device, 0x22));
    assert!(prefixes(&device, peer(&device, 0x11).unwrap()).is_empty());
}

#[test]
fn replace_peers_removes_everyone_not_in_the_request() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let keys: Vec<String> = [0x11, 0x22, 0x33].iter().map(|&b| format!("public_key={}", hex_of(b))).collect();
    assert_eq!(set(&mut device, &mut host, &[&keys[0], "allowed_ip=10.1.0.0/16", &keys[1]]), OK);
    assert_eq!(device.peer_count(), 2);
    let reply = set(&mut device, &mut host, &["replace_peers=true", &keys[1], &keys[2], "allowed_ip=10.3.0.0/16"]);
    assert_eq!(reply, OK);
    assert_eq!(device.peer_count(), 2);
    assert_eq!(peer(&device, 0x11), None);
    assert!(peer(&device, 0x22).is_some() && peer(&device, 0x33).is_some());
    assert_eq!(device.route(ip("10.1.0.1")), None, "the removed peer's routes are gone");
    assert!(prefixes(&device, peer(&device, 0x22).unwrap()).is_empty(), "re-created, so blank");
}

#[test]
fn replace_allowed_ips_keeps_only_the_new_ones() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let key = format!("public_key={}", hex_of(0x11));
    assert_eq!(set(&mut device, &mut host, &[&key, "allowed_ip=10.0.0.0/8", "allowed_ip=fd00::/8"]), OK);
    let reply = set(&mut device, &mut host, &[&key, "replace_allowed_ips=true", "allowed_ip=192.168.0.0/16"]);
    assert_eq!(reply, OK);
    assert_eq!(prefixes(&device, peer(&device, 0x11).unwrap()), vec!["192.168.0.0/16"]);
    // Without replace_allowed_ips the new prefix is added to the old ones.
    assert_eq!(set(&mut device, &mut host, &[&key, "allowed_ip=10.0.0.0/8"]), OK);
    assert_eq!(prefixes(&device, peer(&device, 0x11).unwrap()), vec!["10.0.0.0/8", "192.168.0.0/16"]);
}

#[test]
fn preshared_key_endpoint_and_keepalive_set_and_clear() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let key = format!("public_key={}", hex_of(0x11));
    let reply = set(
        &mut device,
        &mut host,
        &[
            &key,
            &format!("preshared_key={}", hex_of(0x55)),
            "endpoint=[fd00::9]:51820",
            "persistent_keepalive_interval=25",
        ],
    );
    assert_eq!(reply, OK);
    let id = peer(&device, 0x11).unwrap();
    assert_eq!(device.peer_preshared_key(id).map(|k| *k), Some([0x55; 32]));
    let stats = device.peer_stats(id).unwrap();
    assert_eq!(stats.endpoint.map(|e| e.addr), Some("[fd00::9]:51820".parse().unwrap()));
    assert_eq!(stats.persistent_keepalive, Some(Duration::from_secs(25)));

    let reply =
        set(&mut device, &mut host, &[&key, &format!("preshared_key={ZERO_HEX}"), "persistent_keepalive_interval=0"]);
    assert_eq!(reply, OK);
    assert_eq!(device.peer_preshared_key(id).map(|k| *k), None);
    assert_eq!(device.peer_stats(id).unwrap().persistent_keepalive, None);
}

#[test]
fn turning_keepalive_on_sends_one_once_the_sections_endpoint_is_known() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    // Keepalive before endpoint in the request: still applied with the endpoint known, so
    // the device queues the immediate keepalive (as wireguard-go's handlePostConfig).
    let reply = set(
        &mut device,
        &mut host,
        &[
            &format!("private_key={PRIVATE_HEX}"),
            &format!("public_key={}", hex_of(0x11)),
            "persistent_keepalive_interval=25",
            "endpoint=192.0.2.1:51820",
        ],
    );
    assert_eq!(reply, OK);
    let id = device.peer_by_key(&PublicKey([0x11; 32])).unwrap();
    let stats = device.peer_stats(id).unwrap();
    assert_eq!(stats.staged_packets, 1, "the keepalive waits for a session");
    assert!(stats.handshake_in_progress, "and starts the handshake for it, as wireguard-go does");
    assert_eq!(stats.tx_bytes, 148, "one initiation");
    // Already on: setting it again sends nothing more.
    let reply =
        set(&mut device, &mut host, &[&format!("public_key={}", hex_of(0x11)), "persistent_keepalive_interval=30"]);
    assert_eq!(reply, OK);
    assert_eq!(device.peer_stats(id).unwrap().staged_packets, 1);
    assert_eq!(device.peer_stats(id).unwrap().tx_bytes, 148);
}

#[test]
fn protocol_version_one_is_accepted_and_two_refused() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    let key = format!("public_key={}", hex_of(0x11));
    assert_eq!(set(&mut device, &mut host, &[&key, "protocol_version=1"]), OK);
    assert_eq!(set(&mut device, &mut host, &[&key, "protocol_version=2"]), EINVAL);
}

#[test]
fn setting_the_private_key_of_an_existing_peer_removes_that_peer() {
    let mut device = new_device();
    let mut host = FakeHost::default();
    assert_eq!(set(&mut device, &mut host, &[&format!("public_key={}", own_public_hex())]), OK);
    assert_eq!(device.peer_count(), 1);
    assert_eq!(set(&mut device, &mut host, &[&format!("private_key={PRIVATE_HEX}")]), OK);
    assert_eq!(device.peer_count(), 0);
}

/// `get` output turned back into a `set` request reproduces the same configuration on a
/// fresh device: what `wg showconf | wg setconf` does.
#[test]
fn get_output_round_trips_through_set() {
    let mut a = new_device();
    let mut host_a = FakeHost::default();
    let reply = set(
        &mut a,
        &mut host_a,
        &[
            &format!("private_key={PRIVATE_HEX}"),
            "listen_port=51820",
            "fwmark=3",
            &format!("public_key={}", hex_of(0x11)),
            &format!("preshared_key={}", hex_of(0x44)),
            "endpoint=[2001:db8::5]:9",
            "persistent_keepalive_interval=15",
            "allowed_ip=10.0.0.0/8",
            "allowed_ip=2001:db8::/32",
            &format!("public_key={}", hex_of(0x22)),
            "allowed_ip=192.168.7.0/24",
        ],
    );
    assert_eq!(reply, OK);
    let shown = get(&mut a, &mut host_a);
    let stats = ["last_handshake_time_sec=", "last_handshake_time_nsec=", "tx_bytes=", "rx_bytes=", "errno="];
    let lines: Vec<&str> = shown.lines().filter(|l| !l.is_empty() && !stats.iter().any(|s| l.starts_with(s))).collect();

    let mut b = new_device();
    let mut host_b = FakeHost::default();
    assert_eq!(set(&mut b, &mut host_b, &lines), OK);
    assert_eq!(get(&mut b, &mut host_b), shown);
}
