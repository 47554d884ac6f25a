//! The standard two-host topology: namespaces A and B joined by a veth underlay, a WireGuard
//! interface in each, configured as each other's peer.
//!
//! ```text
//!  ns A                                         ns B
//!  wg A 198.19.0.1/24 fd00:19::1/64             wg B 198.19.0.2/24 fd00:19::2/64
//!  ul0  198.18.0.1/24 fd00:18::1/64  <-veth->   ul0  198.18.0.2/24 fd00:18::2/64
//!  listen port 51001                            listen port 51002
//! ```
//!
//! Each peer's allowed IPs are the other's tunnel /32 and /128, and both endpoints are set (IPv4
//! underlay). Nothing is sent until a test sends something, so counters start at zero.

use std::time::Duration;

use super::daemon::Impl;
use super::names::Scratch;
use super::namespace::{veth, Netns};
use super::ping::{self, PingOpts, PingResult};
use super::wg::WgDevice;

/// Name of the underlay veth end in each namespace.
pub const UNDERLAY_DEV: &str = "ul0";

/// One host of a [`Pair`]: its interface, namespace and addresses.
pub struct Side {
    /// The WireGuard interface (declared before `ns` so it stops before the namespace goes).
    pub wg: WgDevice,
    /// The host's namespace.
    pub ns: Netns,
    /// Underlay IPv4 address (no prefix).
    pub underlay_v4: &'static str,
    /// Underlay IPv6 address (no prefix).
    pub underlay_v6: &'static str,
    /// Tunnel IPv4 address (no prefix).
    pub tunnel_v4: &'static str,
    /// Tunnel IPv6 address (no prefix).
    pub tunnel_v6: &'static str,
}

impl Side {
    /// `ip:port` of this host's WireGuard socket over the IPv4 underlay.
    pub fn endpoint_v4(&self) -> String {
        format!("{}:{}", self.underlay_v4, self.wg.port)
    }

    /// `[ip]:port` of this host's WireGuard socket over the IPv6 underlay.
    pub fn endpoint_v6(&self) -> String {
        format!("[{}]:{}", self.underlay_v6, self.wg.port)
    }

    /// Pings `dst` from this host.
    pub fn ping(&self, dst: &str, opts: PingOpts) -> PingResult {
        ping::ping(&self.ns, dst, opts)
    }
}

/// Two hosts with a configured tunnel between them (A = left/initiating side, B = right).
pub struct Pair {
    /// Host A (198.x.0.1).
    pub a: Side,
    /// Host B (198.x.0.2).
    pub b: Side,
    /// Key files, configs, logs; removed last.
    pub scratch: Scratch,
}

impl Pair {
    /// Builds the topology with implementation `a` on host A and `b` on host B.
    pub fn new(a: Impl, b: Impl) -> Pair {
        Pair::with_underlay_mtu(a, b, 1500)
    }

    /// As [`Pair::new`] with a chosen underlay (veth) MTU.
    pub fn with_underlay_mtu(a: Impl, b: Impl, underlay_mtu: u32) -> Pair {
        let scratch = Scratch::new();
        let ns_a = Netns::new();
        let ns_b = Netns::new();
        veth(&ns_a, UNDERLAY_DEV, &ns_b, UNDERLAY_DEV, underlay_mtu);
        ns_a.addr_add(UNDERLAY_DEV, "198.18.0.1/24");
        ns_a.addr_add(UNDERLAY_DEV, "fd00:18::1/64");
        ns_b.addr_add(UNDERLAY_DEV, "198.18.0.2/24");
        ns_b.addr_add(UNDERLAY_DEV, "fd00:18::2/64");
        let wg_a = WgDevice::start(a, &ns_a, &scratch, 51001);
        let wg_b = WgDevice::start(b, &ns_b, &scratch, 51002);
        let side_a = Side {
            wg: wg_a,
            ns: ns_a,
            underlay_v4: "198.18.0.1",
            underlay_v6: "fd00:18::1",
            tunnel_v4: "198.19.0.1",
            tunnel_v6: "fd00:19::1",
        };
        let side_b = Side {
            wg: wg_b,
            ns: ns_b,
            underlay_v4: "198.18.0.2",
            underlay_v6: "fd00:18::2",
            tunnel_v4: "198.19.0.2",
            tunnel_v6: "fd00:19::2",
        };
        for (me, other) in [(&side_a, &side_b), (&side_b, &side_a)] {
            let allowed = format!("{}/32,{}/128", other.tunnel_v4, other.tunnel_v6);
            me.wg.add_peer(&other.wg.keys.public, &allowed, Some(&other.endpoint_v4()));
            me.wg.addr_add(&format!("{}/24", me.tunnel_v4));
            me.wg.addr_add(&format!("{}/64", me.tunnel_v6));
            me.wg.up();
        }
        Pair { a: side_a, b: side_b, scratch }
    }

    /// Points both peers at each other's IPv6 underlay address.
    pub fn use_v6_endpoints(&self) {
        self.a.wg.add_peer(
            &self.b.wg.keys.public,
            &format!("{}/32,{}/128", self.b.tunnel_v4, self.b.tunnel_v6),
            Some(&self.b.endpoint_v6()),
        );
        self.b.wg.add_peer(
            &self.a.wg.keys.public,
            &format!("{}/32,{}/128", self.a.tunnel_v4, self.a.tunnel_v6),
            Some(&self.a.endpoint_v6()),
        );
    }

    /// Waits (bounded) until A reaches B through the tunnel; panics with both daemons' logs.
    #[track_caller]
    pub fn wait_tunnel(&self) {
        assert!(
            ping::wait_reachable(&self.a.ns, self.b.tunnel_v4, Duration::from_secs(10)),
            "tunnel A({}) -> B({}) never came up\n--- A log ---\n{}\n--- B log ---\n{}",
            self.a.wg.imp().short(),
            self.b.wg.imp().short(),
            self.a.wg.log_tail(),
            self.b.wg.log_tail()
        );
    }

    /// Panics unless both daemons are still running.
    #[track_caller]
    pub fn assert_alive(&mut self) {
        for side in [&mut self.a, &mut self.b] {
            let name = side.wg.ifname().to_string();
            assert!(side.wg.is_running(), "daemon for {name} died:\n{}", side.wg.log_tail());
        }
    }
}
