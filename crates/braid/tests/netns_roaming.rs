//! Endpoints that move: persistent keepalive holding a NAT mapping open, and a client whose
//! underlay address (IPv4 and IPv6) and port change while the server follows.

#[macro_use]
mod netns;

use std::time::Duration;

use netns::nft::masquerade;
use netns::ping::wait_reachable;
use netns::topology::UNDERLAY_DEV;
use netns::{veth, Impl, Netns, Pair, PingOpts, Scratch, WgDevice};

const REACH: Duration = Duration::from_secs(10);
/// UDP conntrack timeout on the NAT router; idle waits are longer than this.
const NAT_TIMEOUT_SECS: u32 = 2;
const IDLE: Duration = Duration::from_millis(3500);

/// ```text
///  client (A)                    router (NAT)                         server (B)
///  ul0 198.18.0.66/26 <-veth-> rc 198.18.0.65/26, rs 198.18.0.1/26 <-veth-> ul0 198.18.0.2/26
/// ```
/// The server has no route to the client's subnet: it only ever sees the router's address. With
/// persistent keepalive the server learns the NAT'd endpoint and can still reach the client after
/// an idle period longer than the NAT's UDP timeout; with keepalive off, it cannot.
fn keepalive_through_nat(a: Impl, b: Impl) {
    let scratch = Scratch::new();
    let client = Netns::new();
    let router = Netns::new();
    let server = Netns::new();
    veth(&client, UNDERLAY_DEV, &router, "rc", 1500);
    veth(&server, UNDERLAY_DEV, &router, "rs", 1500);
    client.addr_add(UNDERLAY_DEV, "198.18.0.66/26");
    client.ip(&["route", "add", "default", "via", "198.18.0.65"]);
    router.addr_add("rc", "198.18.0.65/26");
    router.addr_add("rs", "198.18.0.1/26");
    server.addr_add(UNDERLAY_DEV, "198.18.0.2/26");
    masquerade(&router, &scratch, "rs", NAT_TIMEOUT_SECS);

    let mut wg_client = WgDevice::start(a, &client, &scratch, 51001);
    let mut wg_server = WgDevice::start(b, &server, &scratch, 51002);
    let (pub_c, pub_s) = (wg_client.keys.public.clone(), wg_server.keys.public.clone());
    wg_client.set(&[
        "peer",
        &pub_s,
        "allowed-ips",
        "198.19.0.2/32",
        "endpoint",
        "198.18.0.2:51002",
        "persistent-keepalive",
        "1",
    ]);
    wg_server.add_peer(&pub_c, "198.19.0.1/32", None);
    wg_client.addr_add("198.19.0.1/24");
    wg_server.addr_add("198.19.0.2/24");
    wg_client.up();
    wg_server.up();

    assert!(wait_reachable(&client, "198.19.0.2", REACH), "client->server through the NAT\n{}", wg_client.log_tail());
    let seen = wg_server.endpoint(&pub_c).unwrap_or_default();
    assert!(seen.starts_with("198.18.0.1:"), "server must see the NAT's address, saw {seen}");

    std::thread::sleep(IDLE);
    let r = netns::ping(&server, "198.19.0.1", PingOpts { count: 2, interval: 0.2, ..Default::default() });
    assert!(
        r.received > 0,
        "server->client after idle, kept open by keepalive: {}\n{}",
        r.output.describe(),
        wg_server.log_tail()
    );

    // Control: without keepalive the mapping expires and the server can no longer reach the client.
    wg_client.set(&["peer", &pub_s, "persistent-keepalive", "0"]);
    std::thread::sleep(IDLE);
    let r = netns::ping(&server, "198.19.0.1", PingOpts { count: 2, interval: 0.2, ..Default::default() });
    assert_eq!(r.received, 0, "without keepalive the NAT mapping must have expired: {}", r.output.describe());
    assert!(wg_client.is_running() && wg_server.is_running(), "daemons alive");
}
pairings!(keepalive_through_nat, "nft");

/// A's underlay address changes (new address added, old removed; IPv4, then its port, then IPv6):
/// after A's next packet, B's `wg show endpoints` follows and B can reach A at the new place.
fn endpoint_roaming(a: Impl, b: Impl) {
    let mut pair = Pair::new(a, b);
    pair.wait_tunnel();
    let pub_a = pair.a.wg.keys.public.clone();
    let pub_b = pair.b.wg.keys.public.clone();
    assert_eq!(pair.b.wg.endpoint(&pub_a).as_deref(), Some("198.18.0.1:51001"));

    // wireguard-go v0.0.20220316 pins the source address it last received on and, when that
    // address disappears, gets ENETUNREACH from this kernel, which it does not treat as "clear the
    // source and retry" (it only does so for EINVAL). Re-setting its endpoint clears the pin. A
    // braid client gets no such help: it must let go of a vanished source address by itself.
    let unpin_source = |pair: &Pair, endpoint: &str| {
        if pair.a.wg.imp() == Impl::WireguardGo {
            pair.a.wg.set(&["peer", &pub_b, "endpoint", endpoint]);
        }
    };
    let roam = |pair: &Pair, want: &str| {
        assert!(
            wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH),
            "A->B after moving to {want}\n{}",
            pair.a.wg.log_tail()
        );
        assert_eq!(pair.b.wg.endpoint(&pub_a).as_deref(), Some(want), "B must follow A");
        assert!(wait_reachable(&pair.b.ns, pair.a.tunnel_v6, REACH), "B->A at {want}\n{}", pair.b.wg.log_tail());
    };

    pair.a.ns.addr_add(UNDERLAY_DEV, "198.18.0.3/24");
    pair.a.ns.ip(&["addr", "del", "198.18.0.1/24", "dev", UNDERLAY_DEV]);
    assert!(pair.a.ns.ip(&["-4", "addr", "show", "dev", UNDERLAY_DEV]).contains("198.18.0.3/24"));
    unpin_source(&pair, &pair.b.endpoint_v4());
    roam(&pair, "198.18.0.3:51001");

    pair.a.wg.set(&["listen-port", "51099"]);
    roam(&pair, "198.18.0.3:51099");

    pair.a.wg.set(&["peer", &pub_b, "endpoint", &pair.b.endpoint_v6()]);
    roam(&pair, "[fd00:18::1]:51099");
    pair.a.ns.addr_add(UNDERLAY_DEV, "fd00:18::3/64");
    pair.a.ns.ip(&["addr", "del", "fd00:18::1/64", "dev", UNDERLAY_DEV]);
    unpin_source(&pair, &pair.b.endpoint_v6());
    roam(&pair, "[fd00:18::3]:51099");
    pair.assert_alive();
}
pairings!(endpoint_roaming);
