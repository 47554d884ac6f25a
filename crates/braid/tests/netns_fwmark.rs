//! `fwmark` is applied to the daemon's UDP packets (SO_MARK), and clearing it stops marking:
//! an nftables rule in the sender's namespace counts the marked WireGuard packets.

#[macro_use]
mod netns;

use netns::{Impl, Pair};

fn marked_packets(pair: &Pair) -> u64 {
    let text = pair.a.ns.exec_ok(&["nft", "list", "chain", "inet", "braidt_mark", "out"]);
    netns::nft::parse_counter_packets(&text).unwrap_or_else(|| panic!("no counter:\n{text}"))
}

fn fwmark_marks_the_tunnels_packets(a: Impl, b: Impl) {
    let pair = Pair::new(a, b);
    pair.wait_tunnel();
    let rules = "table inet braidt_mark {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    \
                 meta l4proto udp meta mark 0x1234 counter\n  }\n}\n";
    let file = pair.scratch.write("mark.nft", rules);
    pair.a.ns.exec_ok(&["nft", "-f", &file.to_string_lossy()]);
    assert_eq!(marked_packets(&pair), 0);

    pair.a.wg.set(&["fwmark", "0x1234"]);
    assert_eq!(pair.a.wg.show("fwmark").trim(), "0x1234");
    assert!(pair.a.ping(pair.b.tunnel_v4, netns::PingOpts { count: 3, ..Default::default() }).received >= 2);
    let marked = marked_packets(&pair);
    assert!(marked >= 3, "the pings' WireGuard packets carry the mark ({marked})");

    pair.a.wg.set(&["fwmark", "0"]);
    assert!(pair.a.ping(pair.b.tunnel_v4, netns::PingOpts { count: 3, ..Default::default() }).received >= 2);
    assert_eq!(marked_packets(&pair), marked, "no mark once cleared");
}

pairings!(fwmark_marks_the_tunnels_packets, "nft");
