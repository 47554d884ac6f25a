//! A checksum-verified TCP transfer between two namespaces.
//!
//! The sender writes a deterministic byte stream (a function of a seed and the offset); the
//! receiver regenerates the stream and compares every byte, reporting the first mismatch, the
//! count and an FNV-1a hash. Both ends are this very test binary re-executed inside a namespace
//! (`ip netns exec NS <test exe> --exact <helper test>` with the role in an environment
//! variable), so no extra tool or `unsafe` setns is needed. Run without that variable, the helper
//! test checks the sender/receiver pair over loopback instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::names::Scratch;
use super::namespace::Netns;

/// Environment variable carrying the helper's role: `recv ADDR BYTES SEED` or `send ADDR BYTES SEED`.
const ROLE_ENV: &str = "BRAID_NETNS_TCP_ROLE";
/// The full libtest name of [`tcp_transfer_helper`] in every test binary that includes `netns`.
const HELPER_TEST: &str = "netns::tcp_transfer::tcp_transfer_helper";
/// Marker at the start of a helper's result line.
const RESULT: &str = "BRAID_TCP_RESULT";
/// Chunk size for reads and writes.
const CHUNK: usize = 64 * 1024;
/// Bounds on each phase of a transfer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The 8 stream bytes of block `block` for `seed` (splitmix64).
fn block_bytes(seed: u64, block: u64) -> [u8; 8] {
    let mut z = seed.wrapping_add(block.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()
}

/// Fills `buf` with the stream bytes for `seed` starting at stream offset `offset`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut done = 0;
    while done < buf.len() {
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&block_bytes(seed, pos / 8)[start..start + n]);
        done += n;
        pos += n as u64;
    }
}

/// FNV-1a over a byte stream, fed in pieces.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Fnv {
    /// The FNV-1a 64-bit offset basis.
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    /// Folds `bytes` in.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The hash of the whole stream of `len` bytes for `seed`.
pub fn stream_hash(seed: u64, len: u64) -> u64 {
    let mut fnv = Fnv::new();
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0;
    while offset < len {
        let n = CHUNK.min((len - offset) as usize);
        fill(seed, offset, &mut buf[..n]);
        fnv.update(&buf[..n]);
        offset += n as u64;
    }
    fnv.0
}

/// What the receiver saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes read before EOF.
    pub bytes: u64,
    /// Offset of the first byte that differed from the expected stream.
    pub first_mismatch: Option<u64>,
    /// FNV-1a of what was read.
    pub hash: u64,
}

/// Whether an accept error only means "try again".
fn retryable(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted)
}

/// `read`, retried when a signal interrupts it (a timeout still ends it).
fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    for _ in 0..1000 {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "read interrupted 1000 times"))
}

/// Sends `len` stream bytes for `seed` to `addr` (connect retried until a deadline), then waits
/// for the receiver to close.
pub fn send(addr: SocketAddr, len: u64, seed: u64) -> std::io::Result<u64> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut stream = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    };
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0;
    while offset < len {
        let n = CHUNK.min((len - offset) as usize);
        fill(seed, offset, &mut buf[..n]);
        stream.write_all(&buf[..n])?;
        offset += n as u64;
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    // The receiver closes after reading everything; wait for that EOF.
    let mut sink = [0u8; 64];
    while read_retrying(&mut stream, &mut sink)? > 0 {}
    Ok(offset)
}

/// Accepts one connection on `listener` (bounded wait) and checks everything it delivers.
pub fn receive(listener: TcpListener, seed: u64) -> std::io::Result<Received> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if retryable(&e) && Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut got = vec![0u8; CHUNK];
    let mut want = vec![0u8; CHUNK];
    let mut fnv = Fnv::new();
    let mut bytes = 0u64;
    let mut first_mismatch = None;
    loop {
        let n = read_retrying(&mut stream, &mut got)?;
        if n == 0 {
            break;
        }
        fill(seed, bytes, &mut want[..n]);
        if first_mismatch.is_none() {
            if let Some(i) = got[..n].iter().zip(&want[..n]).position(|(a, b)| a != b) {
                first_mismatch = Some(bytes + i as u64);
            }
        }
        fnv.update(&got[..n]);
        bytes += n as u64;
    }
    Ok(Received { bytes, first_mismatch, hash: fnv.0 })
}

/// Runs a role given as `recv ADDR BYTES SEED` / `send ADDR BYTES SEED`; prints one result line.
fn run_role(role: &str) {
    let parts: Vec<&str> = role.split_whitespace().collect();
    let [kind, addr, len, seed] = parts[..] else { panic!("bad {ROLE_ENV}: {role}") };
    let addr: SocketAddr = addr.parse().expect("role address");
    let len: u64 = len.parse().expect("role length (unused by the receiver, which reads to EOF)");
    let seed: u64 = seed.parse().expect("role seed");
    match kind {
        "recv" => {
            let listener = TcpListener::bind(addr).expect("bind receiver");
            println!("{RESULT} listening");
            let r = receive(listener, seed).expect("receive");
            let mismatch = r.first_mismatch.map_or("none".to_string(), |m| m.to_string());
            println!("{RESULT} received={} mismatch={mismatch} hash={:016x}", r.bytes, r.hash);
        }
        "send" => {
            let sent = send(addr, len, seed).expect("send");
            println!("{RESULT} sent={sent}");
        }
        other => panic!("unknown role {other}"),
    }
}

/// The re-executed end of a namespace transfer; without a role it checks the pair over loopback.
#[test]
fn tcp_transfer_helper() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        run_role(&role);
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let len = 3 * CHUNK as u64 + 12345;
    let receiver = thread::spawn(move || receive(listener, 99).unwrap());
    assert_eq!(send(addr, len, 99).unwrap(), len);
    let got = receiver.join().unwrap();
    assert_eq!(got, Received { bytes: len, first_mismatch: None, hash: stream_hash(99, len) });

    // Filling at an unaligned offset continues the same stream.
    let (mut whole, mut parts) = ([0u8; 40], [0u8; 40]);
    fill(5, 3, &mut whole);
    fill(5, 3, &mut parts[..11]);
    fill(5, 14, &mut parts[11..]);
    assert_eq!(whole, parts);

    // A receiver expecting another seed must notice at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = thread::spawn(move || receive(listener, 100).unwrap());
    send(addr, 1000, 99).unwrap();
    let got = receiver.join().unwrap();
    assert_eq!(got.bytes, 1000);
    assert!(got.first_mismatch.is_some_and(|m| m < 8), "{got:?}");
}

/// Result of a namespace transfer.
#[derive(Debug)]
pub struct TransferReport {
    /// What the receiver saw.
    pub received: Received,
    /// The hash the receiver should have computed.
    pub expected_hash: u64,
    /// Wall time of the sender.
    pub elapsed: Duration,
}

impl TransferReport {
    /// Throughput in Mbit/s (for reports only).
    pub fn mbit_per_sec(&self) -> f64 {
        self.received.bytes as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
    }
}

fn result_line(log: &str) -> Option<&str> {
    log.lines().filter_map(|l| l.find(RESULT).map(|i| &l[i + RESULT.len()..])).map(str::trim).next_back()
}

/// Sends `len` bytes from namespace `from` to a receiver bound at `to_addr` in namespace `to`,
/// both ends being this test binary re-executed. Panics (with both logs) unless both ends finish.
pub fn transfer(
    from: &Netns,
    to: &Netns,
    to_addr: SocketAddr,
    len: u64,
    seed: u64,
    scratch: &Scratch,
) -> TransferReport {
    let exe = std::env::current_exe().expect("current test executable");
    let exe = exe.to_string_lossy().to_string();
    let helper = ["--exact", HELPER_TEST, "--nocapture", "--test-threads=1"];
    let recv_role = format!("recv {to_addr} 0 {seed}");
    let mut args = vec![exe.as_str()];
    args.extend_from_slice(&helper);
    let log = scratch.path().join(format!("tcp-recv-{}-{}.log", to.name(), to_addr.port()));
    let mut receiver = to.spawn("tcp receiver", &args, &[(ROLE_ENV, &recv_role)], log);

    let send_role = format!("send {to_addr} {len} {seed}");
    let started = Instant::now();
    let sender = from.exec_env(&args, &[(ROLE_ENV, &send_role)], CONNECT_TIMEOUT + IO_TIMEOUT * 2);
    let elapsed = started.elapsed();
    let status = receiver.wait_timeout(IO_TIMEOUT);
    let recv_log = receiver.log();
    assert!(
        sender.success() && status.is_some_and(|s| s.success()),
        "transfer failed; sender: {}\n--- receiver ({status:?}) ---\n{recv_log}",
        sender.describe()
    );
    let line = result_line(&recv_log).unwrap_or_else(|| panic!("no receiver result in:\n{recv_log}"));
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {name} in receiver result {line}"))
            .to_string()
    };
    let mismatch = field("mismatch");
    let received = Received {
        bytes: field("received").parse().expect("received count"),
        first_mismatch: if mismatch == "none" { None } else { Some(mismatch.parse().expect("mismatch offset")) },
        hash: u64::from_str_radix(&field("hash"), 16).expect("hash"),
    };
    TransferReport { received, expected_hash: stream_hash(seed, len), elapsed }
}

/// Moves `len` bytes A→B over the tunnel's IPv4 (port 6001) and B→A over its IPv6 (port 6002)
/// and asserts each stream arrived whole and unchanged; returns each direction's label and
/// report.
#[allow(dead_code)] // not every test binary moves data both ways
pub fn assert_intact_both_ways(pair: &super::Pair, len: u64) -> Vec<(&'static str, TransferReport)> {
    let to_b: SocketAddr = format!("{}:6001", pair.b.tunnel_v4).parse().expect("tunnel address");
    let to_a: SocketAddr = format!("[{}]:6002", pair.a.tunnel_v6).parse().expect("tunnel address");
    let mut reports = Vec::new();
    for (dir, from, to, addr, seed) in
        [("A->B v4", &pair.a.ns, &pair.b.ns, to_b, 1), ("B->A v6", &pair.b.ns, &pair.a.ns, to_a, 2)]
    {
        let report = transfer(from, to, addr, len, seed, &pair.scratch);
        assert_eq!(report.received.first_mismatch, None, "{dir}: corrupted stream {report:?}");
        assert_eq!(report.received.bytes, len, "{dir}: short stream {report:?}");
        assert_eq!(report.received.hash, report.expected_hash, "{dir}: hash {report:?}");
        reports.push((dir, report));
    }
    reports
}
