//! braid embedded in a program (this test), against a real peer: Debian's wireguard-go in a
//! network namespace with an HTTP server behind its tunnel. The test's own thread enters a
//! second namespace and runs a [`braid::Tunnel`] there, with braid's userspace TCP/IP stack
//! instead of a TUN device, and fetches a file over inner IPv4 and IPv6, byte-exact.
//!
//! ```text
//!  ns A (this test's thread)                     ns B
//!  braid::Tunnel + NetStack 198.19.0.1           wireguard-go wgX 198.19.0.2, fd00:19::2
//!  ul0 198.18.0.1/24           <-- veth -->      ul0 198.18.0.2/24, python3 -m http.server
//! ```

#[macro_use]
mod netns;

use braid::cli::demo::transfer::Pattern;
use braid::config::{Peer, TunnelConfig};
use braid::keys::{key_from_base64, PublicKey, SecretKey};
use braid::Tunnel;
use netns::{veth, Impl, Netns, Scratch, WgDevice};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The file's size: large enough to take many windows, small enough for a debug build.
const FILE_BYTES: usize = 8 << 20;
const HTTP_PORT: u16 = 8080;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// `GET path` over HTTP/1.0 through `net`, retrying while the server is not up yet; the body.
fn fetch(net: &braid::NetStack, server: SocketAddr, path: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match net.tcp_connect_timeout(server, Duration::from_secs(5)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connecting to {server}: {e}; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("cannot connect to {server}: {e}"),
        }
    };
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {server}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    response.split_off(split + 4)
}

#[test]
fn an_embedded_tunnel_fetches_a_file_over_http_from_behind_wireguard_go() {
    if !netns::ready("netns_embedded", &["python3"], &[Impl::WireguardGo]) {
        return;
    }
    let scratch = Scratch::new();
    let (ns_a, ns_b) = (Netns::new(), Netns::new());
    veth(&ns_a, "ul0", &ns_b, "ul0", 1500);
    ns_a.addr_add("ul0", "198.18.0.1/24");
    ns_b.addr_add("ul0", "198.18.0.2/24");
    ns_a.link_up("ul0");
    ns_b.link_up("ul0");

    // B: wireguard-go with the tunnel addresses, and a web server on them.
    let wg = WgDevice::start(Impl::WireguardGo, &ns_b, &scratch, 51002);
    ns_b.addr_add(wg.ifname(), "198.19.0.2/24");
    ns_b.addr_add(wg.ifname(), "fd00:19::2/64");
    ns_b.link_up(wg.ifname());
    let key_a = SecretKey::generate();
    let a_public = braid::keys::key_to_base64(&key_a.public_key().0);
    wg.add_peer(&a_public, "198.19.0.1/32,fd00:19::1/128", None);
    let mut data = vec![0u8; FILE_BYTES];
    Pattern::new(77).fill(&mut data);
    let www = scratch.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("blob.bin"), &data).unwrap();
    let www = www.to_str().unwrap().to_owned();
    let port = HTTP_PORT.to_string();
    let _http = ns_b.spawn(
        "http",
        &["python3", "-m", "http.server", &port, "--bind", "::", "--directory", &www],
        &[],
        scratch.path().join("http.log"),
    );

    // A: this test's thread, in namespace A, embeds braid.
    let b_public = PublicKey(key_from_base64(&wg.keys.public).expect("wireguard-go's key"));
    let ns_path = std::path::Path::new("/run/netns").join(ns_a.name());
    let client = std::thread::spawn(move || {
        braid_io::process::enter_network_namespace(&ns_path).expect("enter namespace A");
        let config = TunnelConfig::new(key_a).address(ip("198.19.0.1"), 24).address(ip("fd00:19::1"), 64).peer(
            Peer::new(b_public)
                .allowed_ip(ip("198.19.0.0"), 24)
                .allowed_ip(ip("fd00:19::"), 64)
                .endpoint(SocketAddr::from(([198, 18, 0, 2], 51002))),
        );
        let mut tunnel = Tunnel::start(&config).expect("the embedded tunnel starts");
        let net = tunnel.net().expect("the stack starts");
        let mut bodies = Vec::new();
        for server in [SocketAddr::new(ip("198.19.0.2"), HTTP_PORT), SocketAddr::new(ip("fd00:19::2"), HTTP_PORT)] {
            let started = Instant::now();
            let body = fetch(&net, server, "/blob.bin");
            let secs = started.elapsed().as_secs_f64();
            eprintln!("{server}: {} bytes in {secs:.2} s", body.len());
            bodies.push(body);
        }
        let peer = tunnel.peer(&b_public).expect("wireguard-go is a peer");
        (bodies, peer)
    });
    let (bodies, peer) = client.join().expect("the client thread");
    for body in &bodies {
        assert_eq!(body.len(), data.len());
        assert!(*body == data, "the file arrived byte-exact");
    }
    // The handshake was with wireguard-go, on its underlay address.
    assert!(peer.last_handshake.is_some());
    assert_eq!(peer.endpoint.map(|e| e.addr), Some(SocketAddr::from(([198, 18, 0, 2], 51002))));
    assert!(peer.rx_bytes as usize > 2 * FILE_BYTES, "{peer:?}");
}
