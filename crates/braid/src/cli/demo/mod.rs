//! `braid demo`: braid's main job, shown on anything, as anyone.
//!
//! Two WireGuard tunnels in this process, each with its own keys and real UDP sockets on
//! loopback: a real handshake, real ChaCha20-Poly1305, braid's one engine on both ends. Each
//! tunnel's packet side is an in-process device with braid's userspace TCP/IP stack on it,
//! so no root and no TUN are needed. Pings measure the tunnel's round trip; then a TCP stream
//! carries a checksummed transfer (256 MiB by default) from one stack to the other through
//! the encrypted tunnel, and both ends verify it. The summary gives handshake time,
//! throughput, round trips, bytes on the wire and both tunnels as `braid show` prints them.
//!
//! `--live` (root) runs the two-namespace demo with real daemons and TUN devices instead.

pub mod live;
mod progress;
pub mod transfer;

use crate::config::{Peer, TunnelConfig};
use crate::keys::{genkey, pubkey, SecretKey};
use crate::net::NetStack;
use crate::tunnel::{Tunnel, TunnelOptions};
use crate::PeerEvent;
use braid_proto::crypto::PublicKey;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use progress::ProgressBar;
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transfer::TransferReport;

/// What the demo transfers unless told otherwise.
pub const DEFAULT_SIZE: u64 = 256 << 20;

const A_V4: [u8; 4] = [198, 19, 0, 1];
const B_V4: [u8; 4] = [198, 19, 0, 2];
const A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, 0, 1);
const B_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x19, 0, 0, 0, 0, 0, 2);
/// The TCP port the receiving stack listens on.
const PORT: u16 = 5201;
/// Pings per address family.
const PINGS: usize = 10;

/// Parses a size: bytes, or with a suffix `K`, `M`, `G` (powers of 1024; `KiB`, `MB`… too).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size (e.g. 256M, 1G, 1048576)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("`{text}`: unknown unit (use K, M or G)")),
    };
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("`{text}` is out of range"))
}

/// Round trips of a series of pings.
struct Pings {
    times: Vec<Duration>,
}

impl Pings {
    fn summary(&self) -> String {
        if self.times.is_empty() {
            return "no replies".into();
        }
        let min = self.times.iter().min().copied().unwrap_or_default();
        let max = self.times.iter().max().copied().unwrap_or_default();
        let avg = self.times.iter().sum::<Duration>() / self.times.len() as u32;
        format!("min {} / avg {} / max {} ({} pings)", ms(min), ms(avg), ms(max), self.times.len())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn ping_series(net: &NetStack, to: IpAddr) -> io::Result<Pings> {
    let mut times = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        times.push(net.ping(to, Duration::from_secs(2))?);
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Pings { times })
}

/// One end: a tunnel and the stack on it.
struct End {
    tunnel: Tunnel,
    net: NetStack,
}

fn config(
    own: &SecretKey,
    peer: PublicKey,
    v4: [u8; 4],
    v6: Ipv6Addr,
    peer_v4: [u8; 4],
    peer_v6: Ipv6Addr,
) -> TunnelConfig {
    let (v6, peer_v6) = (IpAddr::V6(v6), IpAddr::V6(peer_v6));
    TunnelConfig::new(own.clone())
        .address(IpAddr::from(v4), 24)
        .address(v6, 64)
        .peer(Peer::new(peer).allowed_ip(IpAddr::from(peer_v4), 32).allowed_ip(peer_v6, 128))
}

/// Runs the demo, printing as it goes; the report's last part is returned (both `show`s).
pub fn run(size: u64) -> io::Result<String> {
    let mut rng = <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::from_os_rng();
    let (key_a, key_b) = (genkey(&mut rng), genkey(&mut rng));
    let (pub_a, pub_b) = (PublicKey(pubkey(&key_a)), PublicKey(pubkey(&key_b)));
    println!("braid demo: two WireGuard tunnels in this process, over real UDP on loopback,");
    println!("each end on braid's userspace TCP/IP stack (no root, no TUN)\n");
    let options = TunnelOptions { loopback_only: true, ..TunnelOptions::default() };
    let start = |own, peer, v4, v6, pv4, pv6| -> io::Result<End> {
        let mut tunnel =
            Tunnel::start_with(&config(own, peer, v4, v6, pv4, pv6), &options).map_err(io::Error::other)?;
        let net = tunnel.net().map_err(io::Error::other)?;
        Ok(End { tunnel, net })
    };
    let a = start(&key_a, pub_b, A_V4, A_V6, B_V4, B_V6)?;
    let b = start(&key_b, pub_a, B_V4, B_V6, A_V4, A_V6)?;
    let (port_a, port_b) = (a.tunnel.listen_port(), b.tunnel.listen_port());
    a.tunnel.set_peer_endpoint(&pub_b, SocketAddr::from(([127, 0, 0, 1], port_b)));
    b.tunnel.set_peer_endpoint(&pub_a, SocketAddr::from(([127, 0, 0, 1], port_a)));
    println!("  A  198.19.0.1  {A_V6}  udp 127.0.0.1:{port_a}  key {}", crate::keys::key_to_base64(&pub_a.0));
    println!("  B  198.19.0.2  {B_V6}  udp 127.0.0.1:{port_b}  key {}\n", crate::keys::key_to_base64(&pub_b.0));

    // The first ping starts the handshake; the peer's last handshake (Unix time, from the
    // device's clock) says when it completed.
    let events = a.tunnel.events();
    let began = unix_now();
    let first = a.net.ping(IpAddr::from(B_V4), Duration::from_secs(10))?;
    let handshake = a.tunnel.peer(&pub_b).and_then(|p| p.last_handshake).and_then(|t| t.checked_sub(began));
    println!(
        "handshake  {} (the first ping, handshake included: {})",
        handshake.map_or_else(|| "?".into(), ms),
        ms(first)
    );
    let v4 = ping_series(&a.net, IpAddr::from(B_V4))?;
    let v6 = ping_series(&a.net, IpAddr::V6(B_V6))?;
    println!("ping 198.19.0.2 through the tunnel: {}", v4.summary());
    println!("ping {B_V6} through the tunnel:   {}\n", v6.summary());

    let before = wire_bytes(&a.tunnel, &pub_b);
    println!("TCP: {} from A to B through the tunnel, checksummed at both ends", crate::cli::show::human_bytes(size));
    let (sent, received, elapsed) = transfer(&a, &b, size)?;
    let after = wire_bytes(&a.tunnel, &pub_b);
    let (tx, rx) = (after.0 - before.0, after.1 - before.1);

    let secs = elapsed.as_secs_f64().max(1e-9);
    println!();
    println!(
        "transfer   {} in {:.2} s: {:.2} Gbit/s ({:.0} MiB/s)",
        crate::cli::show::human_bytes(size),
        secs,
        size as f64 * 8.0 / secs / 1e9,
        size as f64 / secs / (1 << 20) as f64
    );
    println!(
        "checksum   {:016x} at A, {:016x} at B: {}",
        sent.checksum,
        received.checksum,
        if sent.verified() && received.verified() { "verified by both ends" } else { "MISMATCH" }
    );
    println!(
        "on the wire A sent {} and received {} of UDP payload ({:.1} % over the data: headers, tags, padding, ACKs)",
        crate::cli::show::human_bytes(tx),
        crate::cli::show::human_bytes(rx),
        (tx as f64 / size as f64 - 1.0) * 100.0
    );
    let seen: Vec<String> = events.try_iter().map(|e| describe(&e)).collect();
    println!("events     at A: {}", seen.join("; "));
    let mut shows = String::new();
    let _ = writeln!(shows, "\n{}", a.tunnel.show("demo-a").trim_end());
    let _ = writeln!(shows, "\n{}", b.tunnel.show("demo-b").trim_end());
    if !(sent.verified() && received.verified() && sent.bytes == size && received.bytes == size) {
        return Err(io::Error::other(format!("{shows}\nthe transfer did not verify")));
    }
    Ok(shows)
}

fn unix_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// An event as the summary prints it.
fn describe(event: &PeerEvent) -> String {
    match event {
        PeerEvent::HandshakeCompleted { initiator, .. } => {
            format!("handshake completed ({})", if *initiator { "A initiated" } else { "B initiated" })
        }
        PeerEvent::EndpointChanged { endpoint, .. } => format!("B reached at {endpoint}"),
        PeerEvent::PeerSilent { .. } => "B went silent".into(),
        PeerEvent::HandshakeGaveUp { .. } => "handshake gave up".into(),
    }
}

/// UDP payload bytes A sent to and received from B so far.
fn wire_bytes(tunnel: &Tunnel, peer: &PublicKey) -> (u64, u64) {
    tunnel.peer(peer).map_or((0, 0), |p| (p.tx_bytes, p.rx_bytes))
}

/// Moves `size` bytes from A's stack to B's, with a progress bar; both ends' reports and
/// the time it took.
fn transfer(a: &End, b: &End, size: u64) -> io::Result<(TransferReport, TransferReport, Duration)> {
    let listener = b.net.tcp_listen(SocketAddr::from((B_V4, PORT)))?;
    let received = Arc::new(AtomicU64::new(0));
    let counted = received.clone();
    let receiver = std::thread::Builder::new().name("demo-receiver".into()).spawn(move || {
        let (mut stream, _) = listener.accept()?;
        transfer::receive(&mut stream, &counted)
    })?;
    let mut stream = a.net.tcp_connect_timeout(SocketAddr::from((B_V4, PORT)), Duration::from_secs(10))?;
    let started = Instant::now();
    let sent_bytes = Arc::new(AtomicU64::new(0));
    let sender = {
        let sent_bytes = sent_bytes.clone();
        std::thread::Builder::new().name("demo-sender".into()).spawn(move || {
            let report = transfer::send(&mut stream, size, 0x5eed, &sent_bytes);
            (report, stream)
        })?
    };
    let mut bar = ProgressBar::new(size);
    while !sender.is_finished() || !receiver.is_finished() {
        bar.update(received.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(50));
    }
    bar.finish(received.load(Ordering::Relaxed));
    let elapsed = started.elapsed();
    let (sent, _stream) = sender.join().map_err(|_| io::Error::other("the sender panicked"))?;
    let received = receiver.join().map_err(|_| io::Error::other("the receiver panicked"))??;
    Ok((sent?, received, elapsed))
}
