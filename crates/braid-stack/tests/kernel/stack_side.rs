//! The stack's side of the kernel interop: an interface over the TUN device, driven with the
//! wall clock, running a ping or a bidirectional TCP transfer against a child process in the
//! namespace.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Stdio};
use std::time::Duration;

use braid_stack::iface::{Interface, InterfaceConfig};
use braid_stack::socket::{SocketSet, TcpStreamHandle};
use braid_stack::tcp::{RecvError, TcpConfig};

use super::helper::Fnv;
use super::setup::Namespace;
use super::tun_device::{Clock, TunDevice};
use crate::common::{check_pattern, fill_pattern};
use crate::{KERNEL_STREAM, STACK_STREAM};

/// One stack instance on the TUN device.
pub struct Stack {
    pub iface: Interface,
    pub sockets: SocketSet,
    pub device: TunDevice,
    pub clock: Clock,
}

impl Stack {
    pub fn new(device: TunDevice, addresses: [IpAddr; 2]) -> Stack {
        let iface = Interface::new(InterfaceConfig::new(addresses), &device);
        // A fixed secret is fine for a test; an embedder draws it from its CSPRNG.
        Stack { iface, sockets: SocketSet::new(*b"braid-stack kernel interop test!"), device, clock: Clock::start() }
    }

    /// One round: poll, then sleep until the next timer or an incoming packet (at most `cap`).
    pub fn turn(&mut self, cap: Duration) {
        let now = self.clock.now();
        self.iface.poll(now, &mut self.device, &mut self.sockets);
        let delay = self.iface.poll_delay(self.clock.now(), &self.sockets).unwrap_or(cap).min(cap);
        if !delay.is_zero() {
            self.device.wait(delay);
        }
    }

    /// Polls for `duration` (to let the kernel's ping or handshake finish).
    pub fn run_for(&mut self, duration: Duration) {
        let until = std::time::Instant::now() + duration;
        while std::time::Instant::now() < until {
            self.turn(Duration::from_millis(5));
        }
    }
}

/// Which end opens the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The stack connects to a kernel listener.
    StackClient,
    /// The kernel connects to a stack listener.
    StackServer,
}

/// What a transfer achieved.
#[derive(Debug)]
pub struct TransferReport {
    pub elapsed: Duration,
    /// When the stack had read the kernel's last byte.
    pub received_at: Duration,
    /// When the kernel had acknowledged the stack's last byte.
    pub acked_at: Duration,
    pub retransmitted: u64,
    /// The stack's retransmission timeouts and fast-retransmit episodes.
    pub timeouts: u64,
    pub fast_retransmits: u64,
    pub kernel_line: String,
}

/// Waits for a child while polling the stack; kills it at the deadline.
fn finish_child(stack: &mut Stack, child: &mut Child, deadline: std::time::Instant) -> Result<String, String> {
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut out = String::new();
            if let Some(stdout) = child.stdout.take() {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    out = line;
                }
            }
            if !status.success() {
                return Err(format!("kernel side failed ({status}); see its stderr above"));
            }
            return Ok(out);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("kernel side did not finish in time".into());
        }
        stack.turn(Duration::from_millis(2));
    }
}

/// Moves `bytes` each way between the stack and the kernel's TCP at once, checking every byte on
/// both sides and comparing the kernel's checksum with the expected one.
pub fn transfer(
    stack: &mut Stack,
    ns: &Namespace,
    role: Role,
    kernel: IpAddr,
    bytes: u64,
    limit: Duration,
) -> Result<TransferReport, String> {
    const PORT: u16 = 5201;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_str().ok_or("non-UTF-8 test path")?;
    let tcp = TcpConfig { send_buffer_size: 1 << 20, recv_buffer_size: 1 << 20, ..TcpConfig::default() };
    let start = std::time::Instant::now();
    let deadline = start + limit;
    let kernel_addr = SocketAddr::new(kernel, PORT);
    let local_ip = stack.iface.config().source_for(kernel).ok_or("no stack address of that family")?;
    let (mut child, handle) = match role {
        Role::StackClient => {
            let mut child = ns
                .command(exe)
                .args(["--helper", "serve", &kernel_addr.to_string(), &bytes.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("spawn kernel server: {e}"))?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut ready = String::new();
            let mut reader = BufReader::new(stdout);
            reader.read_line(&mut ready).map_err(|e| e.to_string())?;
            if ready.trim() != "ready" {
                let _ = child.kill();
                return Err(format!("kernel server did not start: {ready:?}"));
            }
            child.stdout = Some(reader.into_inner());
            let now = stack.clock.now();
            let handle = stack
                .iface
                .tcp_connect(&mut stack.sockets, now, kernel_addr, tcp)
                .map_err(|e| format!("connect: {e}"))?;
            (child, handle)
        }
        Role::StackServer => {
            let listener = stack
                .sockets
                .tcp_listen(SocketAddr::new(local_ip, PORT), 4, tcp)
                .map_err(|e| format!("listen: {e}"))?;
            let target = SocketAddr::new(local_ip, PORT);
            let mut child = ns
                .command(exe)
                .args(["--helper", "connect", &target.to_string(), &bytes.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("spawn kernel client: {e}"))?;
            let handle = loop {
                if let Some(handle) = stack.sockets.tcp_accept(listener) {
                    break handle;
                }
                if std::time::Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                    let _ = child.kill();
                    return Err("the kernel never connected".into());
                }
                stack.turn(Duration::from_millis(5));
            };
            stack.sockets.tcp_unlisten(listener);
            (child, handle)
        }
    };
    let result = pump(stack, handle, bytes, deadline);
    let stats = stack.sockets.tcp_stream(handle).map(|s| *s.connection().stats()).unwrap_or_default();
    stack.sockets.tcp_release(handle);
    let (elapsed, received_at, acked_at) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let line = finish_child(stack, &mut child, deadline)?;
    // The kernel reports what it received; it must be exactly our pattern.
    let mut expected = Fnv::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    while offset < bytes {
        let n = (bytes - offset).min(buf.len() as u64) as usize;
        fill_pattern(STACK_STREAM, offset, &mut buf[..n]);
        expected.update(&buf[..n]);
        offset += n as u64;
    }
    let want = format!("ok {bytes} {:016x}", expected.0);
    if line != want {
        return Err(format!("kernel reported {line:?}, expected {want:?}"));
    }
    Ok(TransferReport {
        elapsed,
        received_at,
        acked_at,
        retransmitted: stats.retransmitted_segments,
        timeouts: stats.timeouts,
        fast_retransmits: stats.fast_retransmits,
        kernel_line: line,
    })
}

/// Runs the stack's half of the transfer on an open connection until both directions are done.
fn pump(
    stack: &mut Stack,
    handle: TcpStreamHandle,
    bytes: u64,
    deadline: std::time::Instant,
) -> Result<(Duration, Duration, Duration), String> {
    let start = std::time::Instant::now();
    let (mut received_at, mut acked_at) = (None, None);
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut received, mut closed, mut finished) = (0u64, 0u64, false, false);
    while !(finished && closed && stack.sockets.tcp_stream(handle).is_some_and(|s| s.send_queue() == 0)) {
        if std::time::Instant::now() > deadline {
            return Err(format!("stalled: sent {sent}, received {received} of {bytes}"));
        }
        stack.turn(Duration::from_millis(5));
        let stream = stack.sockets.tcp_stream(handle).ok_or("the stream vanished")?;
        if closed && stream.send_queue() == 0 {
            acked_at.get_or_insert(start.elapsed());
        }
        if let Some(e) = stream.error() {
            return Err(format!("connection failed: {e} (sent {sent}, received {received})"));
        }
        while sent < bytes && stream.send_capacity() > 0 {
            let n = (bytes - sent).min(buf.len() as u64).min(stream.send_capacity() as u64) as usize;
            fill_pattern(STACK_STREAM, sent, &mut buf[..n]);
            let taken = stream.send(&buf[..n]).map_err(|e| format!("send: {e}"))?;
            sent += taken as u64;
            if taken < n {
                break;
            }
        }
        // Closing in SYN-SENT would abandon the connection (RFC 9293 CLOSE): wait for the handshake.
        if sent == bytes && !closed && stream.is_established() {
            stream.close();
            closed = true;
        }
        loop {
            match stream.recv(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    check_pattern(KERNEL_STREAM, received, &buf[..n])
                        .map_err(|at| format!("stack read a wrong byte at offset {at}"))?;
                    received += n as u64;
                }
                Err(RecvError::Finished) => {
                    if received != bytes {
                        return Err(format!("end of stream after {received} of {bytes} bytes"));
                    }
                    finished = true;
                    received_at.get_or_insert(start.elapsed());
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "recv: {e} in state {} (sent {sent}, received {received}, closed {closed})",
                        stream.state()
                    ))
                }
            }
        }
    }
    let elapsed = start.elapsed();
    Ok((elapsed, received_at.unwrap_or(elapsed), acked_at.unwrap_or(elapsed)))
}

/// The kernel pings the stack (`count` echo requests); the stack must answer every one.
pub fn kernel_pings_stack(stack: &mut Stack, ns: &Namespace, target: IpAddr, count: u32) -> Result<(), String> {
    let before = stack.iface.counters().icmp_echo_replies_sent;
    let mut child = ns
        .command("ping")
        .args(["-c", &count.to_string(), "-i", "0.2", "-W", "2", &target.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn ping: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let summary = finish_child(stack, &mut child, deadline).map_err(|e| format!("ping {target}: {e}"))?;
    let answered = stack.iface.counters().icmp_echo_replies_sent - before;
    if answered < u64::from(count) {
        return Err(format!("the stack answered {answered} of {count} pings ({summary})"));
    }
    Ok(())
}

/// The stack pings the kernel through an echo socket; every reply must come back intact.
pub fn stack_pings_kernel(stack: &mut Stack, target: IpAddr, count: u16) -> Result<(), String> {
    use braid_stack::socket::IcmpConfig;
    let ident = 0xb5ac;
    let handle = stack.sockets.icmp_bind(ident, IcmpConfig::default()).map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut answered = 0u16;
    let mut buf = [0u8; 64];
    for seq_no in 0..count {
        let payload = [seq_no as u8; 32];
        let socket = stack.sockets.icmp(handle).ok_or("echo socket vanished")?;
        socket.send_echo(target, seq_no, &payload).map_err(|e| e.to_string())?;
        loop {
            if std::time::Instant::now() > deadline {
                stack.sockets.icmp_close(handle);
                return Err(format!("{target} answered {answered} of {count} pings"));
            }
            stack.turn(Duration::from_millis(5));
            let socket = stack.sockets.icmp(handle).ok_or("echo socket vanished")?;
            if let Some(reply) = socket.recv_reply(&mut buf) {
                if reply.from != target || reply.seq_no != seq_no || buf[..reply.len] != payload {
                    stack.sockets.icmp_close(handle);
                    return Err(format!("unexpected reply {reply:?} from {target}"));
                }
                answered += 1;
                break;
            }
        }
    }
    stack.sockets.icmp_close(handle);
    Ok(())
}

/// The kernel tries TCP and UDP on a port the stack has no socket on; both must be refused (the
/// stack's RST and ICMP port unreachable are accepted by the kernel: checksums, quote, addresses).
pub fn kernel_hits_closed_port(stack: &mut Stack, ns: &Namespace, target: IpAddr) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let addr = SocketAddr::new(target, 9);
    let mut child = ns
        .command(exe.to_str().ok_or("non-UTF-8 test path")?)
        .args(["--helper", "closed", &addr.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let line = finish_child(stack, &mut child, deadline)?;
    if line != "ok refused" {
        return Err(format!("closed port {addr}: kernel said {line:?}"));
    }
    Ok(())
}
