//! Two WireGuard tunnels embedded in one process, and a TCP echo through them, no root:
//! `cargo run -p braid --example two_tunnels`.
use braid::config::{Peer, TunnelConfig};
use braid::keys::SecretKey;
use braid::{Tunnel, TunnelOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (key_a, key_b) = (SecretKey::generate(), SecretKey::generate());
    let (ip_a, ip_b) = ("198.19.0.1".parse()?, "198.19.0.2".parse()?);
    let options = TunnelOptions { loopback_only: true, ..TunnelOptions::default() };
    // B waits to be called; A knows where B listens.
    let b_config =
        TunnelConfig::new(key_b.clone()).address(ip_b, 24).peer(Peer::new(key_a.public_key()).allowed_ip(ip_a, 32));
    let mut b = Tunnel::start_with(&b_config, &options)?;
    let b_endpoint = SocketAddr::from(([127, 0, 0, 1], b.listen_port()));
    let a_peer = Peer::new(key_b.public_key()).allowed_ip(ip_b, 32).endpoint(b_endpoint);
    let mut a = Tunnel::start_with(&TunnelConfig::new(key_a).address(ip_a, 24).peer(a_peer), &options)?;
    let events = a.events();

    // Each end gets braid's userspace TCP/IP stack; B echoes one message.
    let (net_a, net_b) = (a.net()?, b.net()?);
    let listener = net_b.tcp_listen(SocketAddr::new(ip_b, 7))?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf)?;
        stream.write_all(&buf[..n])
    });
    let mut stream = net_a.tcp_connect(SocketAddr::new(ip_b, 7))?;
    stream.write_all(b"hello through WireGuard")?;
    let mut reply = [0u8; 23];
    stream.read_exact(&mut reply)?;
    echo.join().expect("echo thread")?;

    println!("echoed: {}", String::from_utf8_lossy(&reply));
    println!("first event at A: {:?}", events.recv()?);
    println!("{}", a.show("a"));
    Ok(())
}
