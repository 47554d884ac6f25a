//! Source-address stickiness, after the kernel's `netns.sh` "reply to sender routing" checks:
//! a host with two addresses on its underlay answers a peer from the address the peer sent to,
//! and when that address is removed it falls back to the kernel's choice at once.
//!
//! ```text
//!  ns A (the peer)                           ns B (multi-homed, always braid)
//!  wg A 198.19.0.1/24 fd00:19::1/64          wg B 198.19.0.2/24 fd00:19::2/64
//!  ul0  198.18.0.1/24 fd00:18::1/64 <-veth-> ul0  198.18.0.2/24 fd00:18::2/64  (primary)
//!                                                 198.18.0.3/24 fd00:18::3/64  (second)
//! ```
//!
//! `wg show endpoints` on A prints the address B's packets last came from (WireGuard roams to
//! every authenticated packet's source), so it shows which source B replied from.

#[macro_use]
mod netns;

use std::time::Duration;

use netns::ping::wait_reachable;
use netns::topology::UNDERLAY_DEV;
use netns::{Impl, Pair, PingOpts};

/// How long a tunnel may take to answer after a configuration change (a handshake included).
const REACH: Duration = Duration::from_secs(10);

/// Points A at `endpoint` (one of B's addresses), pings B through the tunnel and returns the
/// address A then sees B's replies come from.
fn replies_to(pair: &Pair, endpoint: &str) -> Option<String> {
    let pub_b = &pair.b.wg.keys.public;
    pair.a.wg.set(&["peer", pub_b, "endpoint", endpoint]);
    assert!(
        wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH),
        "A->B via {endpoint}\n--- A ---\n{}\n--- B ---\n{}",
        pair.a.wg.log_tail(),
        pair.b.wg.log_tail()
    );
    pair.a.wg.endpoint(pub_b)
}

/// B's cached source `gone` is removed from its underlay; B must still reach A at once (the
/// send falls back to the kernel's choice, `kept`), and A must see B's packets arrive from
/// `kept`. "At once" is the point: the ping gives up after 3 s, while without the fallback
/// B's sends keep failing until a handshake retry clears the source (15 s of silence).
fn falls_back_after_removal(pair: &Pair, gone_cidr: &str, kept_endpoint: &str) {
    let pub_b = &pair.b.wg.keys.public;
    pair.b.ns.ip(&["addr", "del", gone_cidr, "dev", UNDERLAY_DEV]);
    let r = pair.b.ping(pair.a.tunnel_v4, PingOpts { count: 5, interval: 0.2, ..PingOpts::default() });
    assert!(
        r.received > 0,
        "B->A right after {gone_cidr} was removed: {}\n--- B ---\n{}",
        r.output.describe(),
        pair.b.wg.log_tail()
    );
    assert_eq!(pair.a.wg.endpoint(pub_b).as_deref(), Some(kept_endpoint), "A sees B from its remaining address");
    assert!(wait_reachable(&pair.a.ns, pair.b.tunnel_v4, REACH), "A->B after the fallback");
}

/// The scenario: A (`peer`) talks to each of B's addresses in turn, over IPv4 and IPv6, and
/// must hear back from exactly that address; then B loses the address A last used.
fn sticky_source(peer: Impl, multi_homed: Impl) {
    let mut pair = Pair::new(peer, multi_homed);
    pair.b.ns.addr_add(UNDERLAY_DEV, "198.18.0.3/24");
    pair.b.ns.addr_add(UNDERLAY_DEV, "fd00:18::3/64");
    pair.wait_tunnel();

    // 198.18.0.3 is B's secondary address: the kernel alone would answer from 198.18.0.2.
    for endpoint in ["198.18.0.3:51002", "198.18.0.2:51002", "198.18.0.3:51002"] {
        assert_eq!(replies_to(&pair, endpoint).as_deref(), Some(endpoint), "IPv4 replies from the address used");
    }
    falls_back_after_removal(&pair, "198.18.0.3/24", "198.18.0.2:51002");

    pair.use_v6_endpoints();
    for endpoint in ["[fd00:18::3]:51002", "[fd00:18::2]:51002", "[fd00:18::3]:51002"] {
        assert_eq!(replies_to(&pair, endpoint).as_deref(), Some(endpoint), "IPv6 replies from the address used");
    }
    falls_back_after_removal(&pair, "fd00:18::3/64", "[fd00:18::2]:51002");
    pair.assert_alive();
}

/// The multi-homed side is braid (wireguard-go does not let go of a removed source by itself;
/// see `netns_roaming.rs`); its peer is braid, then wireguard-go.
mod sticky_source {
    use super::netns::{run_pair, Impl};

    #[test]
    fn braid_to_braid() {
        run_pair("sticky_source::braid_to_braid", &[], false, Impl::Braid, Impl::Braid, super::sticky_source);
    }

    #[test]
    fn wgo_to_braid() {
        run_pair("sticky_source::wgo_to_braid", &[], false, Impl::WireguardGo, Impl::Braid, super::sticky_source);
    }
}
