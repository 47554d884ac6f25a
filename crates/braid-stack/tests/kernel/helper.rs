//! The kernel's side of a transfer, run inside the namespace as a child process
//! (`ip netns exec NS <this test binary> --helper ...`): std::net over the kernel's TCP.
//!
//! Both directions run at once: a writer thread sends `bytes` of the kernel pattern and then
//! shuts down its write side; the main thread reads until end of stream, checking every byte
//! against the stack's pattern. It prints `ready` once listening (server) and `ok <bytes>
//! <checksum>` at the end; any failure exits 1 with a message.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::common::{check_pattern, fill_pattern};
use crate::{KERNEL_STREAM, STACK_STREAM};

/// `--helper serve <addr> <bytes>` or `--helper connect <addr> <bytes>`.
pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("kernel helper: {e}");
            1
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    if let [role, addr] = args {
        if role == "closed" {
            return closed_port(addr);
        }
    }
    let [role, addr, bytes] = args else { return Err(format!("bad arguments {args:?}")) };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let bytes: u64 = bytes.parse().map_err(|e| format!("{bytes}: {e}"))?;
    let stream = match role.as_str() {
        "serve" => {
            let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            println!("ready");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            listener.accept().map_err(|e| format!("accept: {e}"))?.0
        }
        "connect" => {
            TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect {addr}: {e}"))?
        }
        other => return Err(format!("unknown role {other}")),
    };
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < bytes {
            let n = (bytes - sent).min(buf.len() as u64) as usize;
            fill_pattern(KERNEL_STREAM, sent, &mut buf[..n]);
            writer.write_all(&buf[..n]).map_err(|e| format!("write at {sent}: {e}"))?;
            sent += n as u64;
        }
        writer.shutdown(Shutdown::Write).map_err(|e| format!("shutdown: {e}"))
    });
    let mut reader = stream;
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    let mut checksum = Fnv::default();
    loop {
        let n = reader.read(&mut buf).map_err(|e| format!("read at {received}: {e}"))?;
        if n == 0 {
            break;
        }
        check_pattern(STACK_STREAM, received, &buf[..n]).map_err(|at| format!("wrong byte at offset {at}"))?;
        checksum.update(&buf[..n]);
        received += n as u64;
    }
    sender.join().map_err(|_| "writer panicked".to_string())??;
    if received != bytes {
        return Err(format!("received {received} bytes, expected {bytes}"));
    }
    Ok(format!("ok {received} {:016x}", checksum.0))
}

/// `--helper closed <addr>`: TCP and UDP to a port the stack has no socket on must be refused
/// at once: the stack's RST makes `connect` fail, and its ICMP port unreachable makes the next
/// `recv` on a connected UDP socket fail, both with "connection refused".
fn closed_port(addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => return Err(format!("TCP connect to closed {addr}: {other:?}")),
    }
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|e| format!("{e}"))?;
    let udp = std::net::UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    udp.connect(addr).map_err(|e| e.to_string())?;
    udp.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    udp.send(b"anyone?").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 16];
    match udp.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok("ok refused".into()),
        other => Err(format!("UDP to closed {addr}: {other:?}")),
    }
}

/// FNV-1a 64: the checksum both sides report over what they received.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &byte in data {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
