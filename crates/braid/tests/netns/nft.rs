//! nftables helpers: counting UDP leaving a namespace, and masquerading NAT.
//!
//! Each namespace has its own ruleset, so the fixed table names here never collide between tests.

use super::names::Scratch;
use super::namespace::{Netns, SHORT};

/// Loads an nft script file inside `ns`, panicking on failure.
#[track_caller]
fn load(ns: &Netns, scratch: &Scratch, name: &str, script: &str) {
    let file = scratch.write(&format!("{}-{name}.nft", ns.name()), script);
    ns.exec(&["nft", "-f", &file.to_string_lossy()], SHORT).expect_success();
}

/// A counter of UDP packets sent from a namespace (output hook, so it sees the daemon's sockets).
pub struct UdpOutCounter<'a> {
    ns: &'a Netns,
}

impl<'a> UdpOutCounter<'a> {
    /// Installs `table inet braidt_count` with a counting rule in `ns`.
    pub fn install(ns: &'a Netns, scratch: &Scratch) -> UdpOutCounter<'a> {
        load(
            ns,
            scratch,
            "count",
            "table inet braidt_count {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    \
             meta l4proto udp counter\n  }\n}\n",
        );
        UdpOutCounter { ns }
    }

    /// Packets counted so far.
    pub fn packets(&self) -> u64 {
        let text = self.ns.exec_ok(&["nft", "list", "chain", "inet", "braidt_count", "out"]);
        parse_counter_packets(&text).unwrap_or_else(|| panic!("no counter in nft output:\n{text}"))
    }
}

/// The packet count of the first `counter packets N bytes M` in nft output.
pub fn parse_counter_packets(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        if word == "counter" && words.next() == Some("packets") {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// Makes `router` a NAT: forwarding on, traffic leaving via `out_dev` masqueraded, and UDP
/// conntrack entries expiring after `udp_timeout_secs` so an idle mapping is lost quickly.
pub fn masquerade(router: &Netns, scratch: &Scratch, out_dev: &str, udp_timeout_secs: u32) {
    router.sysctl("net.ipv4.ip_forward", "1");
    load(
        router,
        scratch,
        "nat",
        &format!(
            "table ip braidt_nat {{\n  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n    \
             oifname \"{out_dev}\" masquerade\n  }}\n}}\n"
        ),
    );
    for key in ["nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"] {
        router.sysctl(&format!("net.netfilter.{key}"), &udp_timeout_secs.to_string());
    }
}
