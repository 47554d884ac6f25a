//! `braid up FILE`, `braid show` and `braid down` against a real wireguard-go peer: the
//! tunnel comes up from a wg-quick style file (addresses, MTU, routes), `show` reports it like
//! `wg show` plus braid's own counters, and `down` removes everything; a broken file is refused
//! with its line number and leaves nothing behind.

mod netns;

use netns::{ping, veth, Impl, Netns, PingOpts, Scratch, WgDevice};
use std::process::Command;

fn braid(ns: &Netns, args: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(env!("CARGO_BIN_EXE_braid"))
        .args(args)
        .output()
        .expect("run braid");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn up_show_down_against_wireguard_go() {
    if !netns::ready("up_show_down_against_wireguard_go", &["ip"], &[Impl::Braid, Impl::WireguardGo]) {
        return;
    }
    let scratch = Scratch::new();
    let (a, b) = (Netns::new(), Netns::new());
    veth(&a, "ua", &b, "ub", 1500);
    a.addr_add("ua", "198.18.0.1/24");
    b.addr_add("ub", "198.18.0.2/24");

    // B: wireguard-go configured with wg.
    let wgo = WgDevice::start(Impl::WireguardGo, &b, &scratch, 51820);
    wgo.addr_add("198.19.0.2/24");
    wgo.up();

    // A: braid up from a file named after the interface.
    let ifname = netns::names::ifname();
    let a_keys = netns::wg::Keys::generate();
    wgo.add_peer(&a_keys.public, "198.19.0.1/32,198.19.9.0/24", Some("198.18.0.1:51821"));
    let conf = format!(
        "# written by the test\n[Interface]\nPrivateKey = {}\nListenPort = 51821\nAddress = 198.19.0.1/24\nMTU = 1380\n\n\
         [Peer]\nPublicKey = {}\nEndpoint = 198.18.0.2:51820\nAllowedIPs = 198.19.0.2/32, 198.19.50.0/24\n",
        a_keys.private, wgo.keys.public
    );
    let file = scratch.write(&format!("{ifname}.conf"), &conf);
    let (ok, text) = braid(&a, &["up", file.to_str().unwrap()]);
    assert!(ok, "braid up failed: {text}");
    assert_eq!(a.mtu(&ifname), 1380);
    let routes = a.ip(&["route", "show", "dev", &ifname]);
    assert!(routes.contains("198.19.50.0/24"), "route for an AllowedIPs prefix: {routes}");

    let result = ping(&a, "198.19.0.2", PingOpts { count: 3, ..PingOpts::default() });
    assert!(result.received >= 2, "ping through the tunnel: {result:?}");

    let (ok, text) = braid(&a, &["show", &ifname]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("peer: {}", wgo.keys.public)), "{text}");
    assert!(text.contains("latest handshake:"), "{text}");
    assert!(text.contains("sessions: "), "braid's extras: {text}");
    assert!(text.contains("initiations sent: 1"), "braid's device counters: {text}");
    let (ok, json) = braid(&a, &["show", &ifname, "--json"]);
    assert!(ok, "{json}");
    assert!(json.contains("\"listen_port\": 51821"), "{json}");
    // wg reads the same daemon (braid's extras never reach it).
    let wg = Command::new("ip").args(["netns", "exec", a.name(), "wg", "show", &ifname]).output().unwrap();
    assert!(wg.status.success());
    assert!(String::from_utf8_lossy(&wg.stdout).contains("latest handshake"));

    let (ok, text) = braid(&a, &["down", file.to_str().unwrap()]);
    assert!(ok, "braid down failed: {text}");
    assert!(!a.has_link(&ifname), "interface removed");
    assert!(!std::path::Path::new(&format!("/var/run/wireguard/{ifname}.sock")).exists(), "socket removed");
}

#[test]
fn a_broken_file_names_its_line_and_changes_nothing() {
    if !netns::ready("a_broken_file_names_its_line_and_changes_nothing", &["ip"], &[Impl::Braid]) {
        return;
    }
    let scratch = Scratch::new();
    let a = Netns::new();
    let ifname = netns::names::ifname();
    let keys = netns::wg::Keys::generate();
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 198.19.0.1/24\n\n[Peer]\nPublicKey = not-a-key\n",
        keys.private
    );
    let file = scratch.write(&format!("{ifname}.conf"), &conf);
    let (ok, text) = braid(&a, &["up", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(text.contains(&format!("{ifname}.conf:6: PublicKey")), "{text}");
    assert!(!text.contains(&keys.private), "never echo a key");
    assert!(!a.has_link(&ifname));
    assert!(!std::path::Path::new(&format!("/var/run/wireguard/{ifname}.sock")).exists());
}
