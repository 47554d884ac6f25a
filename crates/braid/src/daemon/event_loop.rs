//! The daemon's event loop: one `poll`, the device in the middle.
//!
//! TUN and UDP readiness, UAPI connections, signals and the device's next timer deadline all
//! wake the same `mio::Poll`. The loop owns the first TUN queue, the UDP sockets, the timers
//! and UAPI; on a multi-queue interface each further queue has a [`Lane`] thread sharing the
//! device (see [`Shared`]), which wakes this loop when it moved a timer earlier.

use crate::uapi::{Errno, UapiHost, UapiSession};
use braid_io::udp::Family;
use braid_io::{Tun, UdpSockets};
use braid_proto::Device;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use super::data_path::{crypto_pool, DataPath, Drained};
use super::lane::Lane;
use super::shared::Shared;
use super::uapi_socket::ControlSocket;

const TUN: Token = Token(0);
const UDP4: Token = Token(1);
const UDP6: Token = Token(2);
const UAPI: Token = Token(3);
const SIGNAL: Token = Token(4);
const WAKE: Token = Token(5);
const FIRST_CONN: usize = 16;

/// How often the loop checks things nobody signals: MTU changes, the socket file.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// SIGINT or SIGTERM.
    Signal,
    /// The control socket file was removed.
    SocketRemoved,
    /// The TUN interface was deleted (`ip link delete`, as `wg-quick down` does).
    InterfaceRemoved,
}

/// The sockets a UAPI `set` may rebind or re-mark.
pub struct Sockets {
    pub udp: Arc<UdpSockets>,
    pub fwmark: u32,
}

struct Host<'a> {
    sockets: &'a mut Sockets,
    shared: &'a Shared,
    registry: &'a Registry,
    tun: braid_io::tun::TunOffloads,
    queues: usize,
    /// TUN reads of each queue, comma-separated, the event loop's first.
    reads_per_queue: String,
    data: super::data_path::DataPathStats,
}

impl UapiHost for Host<'_> {
    fn listen_port(&self) -> u16 {
        self.sockets.udp.port()
    }

    fn set_listen_port(&mut self, port: u16) -> Result<(), Errno> {
        if port != 0 && port == self.sockets.udp.port() {
            return Ok(());
        }
        let fresh = Arc::new(UdpSockets::bind(port, self.sockets.fwmark).map_err(|_| Errno::EADDRINUSE)?);
        deregister_udp(self.registry, &self.sockets.udp);
        self.sockets.udp = fresh.clone();
        self.shared.set_udp(fresh);
        register_udp(self.registry, &self.sockets.udp).map_err(|e| Errno::from(&e))?;
        tracing::info!(port = self.sockets.udp.port(), "listening");
        Ok(())
    }

    fn fwmark(&self) -> u32 {
        self.sockets.fwmark
    }

    fn extras(&self) -> Vec<(String, String)> {
        let udp = self.sockets.udp.offloads();
        let on = |b: bool| if b { "on" } else { "off" };
        vec![
            ("tun_vnet_hdr".into(), on(self.tun.vnet_hdr).into()),
            ("tun_tso".into(), on(self.tun.tso).into()),
            ("tun_uso".into(), on(self.tun.uso).into()),
            ("tun_queues".into(), self.queues.to_string()),
            ("tun_reads_per_queue".into(), self.reads_per_queue.clone()),
            ("udp_gso".into(), on(udp.gso).into()),
            ("udp_gro".into(), on(udp.gro).into()),
            ("tun_reads".into(), self.data.tun_reads.to_string()),
            ("tun_packets_read".into(), self.data.tun_packets.to_string()),
            ("udp_sends".into(), self.data.udp_sends.to_string()),
            ("udp_receives".into(), self.data.udp_recvs.to_string()),
            ("udp_datagrams_received".into(), self.data.udp_datagrams.to_string()),
            ("tun_writes".into(), self.data.tun_writes.to_string()),
        ]
    }

    fn set_fwmark(&mut self, mark: u32) -> Result<(), Errno> {
        self.sockets.udp.set_fwmark(mark).map_err(|e| Errno::from(&e))?;
        self.sockets.fwmark = mark;
        Ok(())
    }
}

fn register_udp(registry: &Registry, udp: &UdpSockets) -> io::Result<()> {
    registry.register(&mut SourceFd(&udp.v4.as_raw_fd()), UDP4, Interest::READABLE)?;
    if let Some(v6) = &udp.v6 {
        registry.register(&mut SourceFd(&v6.as_raw_fd()), UDP6, Interest::READABLE)?;
    }
    Ok(())
}

fn deregister_udp(registry: &Registry, udp: &UdpSockets) {
    let _ = registry.deregister(&mut SourceFd(&udp.v4.as_raw_fd()));
    if let Some(v6) = &udp.v6 {
        let _ = registry.deregister(&mut SourceFd(&v6.as_raw_fd()));
    }
}

struct Connection {
    stream: UnixStream,
    session: UapiSession,
    pending: Vec<u8>,
}

/// Everything the running interface owns.
pub struct EventLoop {
    shared: Arc<Shared>,
    /// The first queue, read by this loop.
    tun: Arc<Tun>,
    /// Every queue, the first included: decrypted packets are written on their flow's.
    queues: Vec<Arc<Tun>>,
    sockets: Sockets,
    control: ControlSocket,
    signals: UnixStream,
    poll: Poll,
    conns: HashMap<usize, Connection>,
    next_conn: usize,
    /// Sources whose last drain stopped at the batch limit: [TUN, UDP4, UDP6].
    pending: [bool; 3],
    data: DataPath,
    /// One thread per further TUN queue.
    lanes: Vec<Lane>,
}

/// Wall-clock time for handshake timestamps.
pub fn unix_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

impl EventLoop {
    /// Registers everything with a new poller and starts a lane for every queue after the
    /// first. `origin` is the instant the device's time counts from.
    pub fn new(
        device: Device,
        queues: Vec<Tun>,
        sockets: Sockets,
        control: ControlSocket,
        signals: UnixStream,
        origin: std::time::Instant,
    ) -> io::Result<EventLoop> {
        let queues: Vec<Arc<Tun>> = queues.into_iter().map(Arc::new).collect();
        let Some(tun) = queues.first().cloned() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no TUN queue"));
        };
        let offloads = tun.offloads();
        let pool = crypto_pool().map(Arc::new);
        let data = DataPath::new(offloads.vnet_hdr, offloads.uso, pool.clone());
        let poll = Poll::new()?;
        let registry = poll.registry();
        registry.register(&mut SourceFd(&tun.as_raw_fd()), TUN, Interest::READABLE)?;
        register_udp(registry, &sockets.udp)?;
        registry.register(&mut SourceFd(&control.listener.as_raw_fd()), UAPI, Interest::READABLE)?;
        signals.set_nonblocking(true)?;
        registry.register(&mut SourceFd(&signals.as_raw_fd()), SIGNAL, Interest::READABLE)?;
        let waker = Waker::new(registry, WAKE)?;
        let shared = Arc::new(Shared::new(device, sockets.udp.clone(), waker, origin, queues.len() > 1));
        let mut lanes = Vec::with_capacity(queues.len());
        // BRAID_PIN_CPUS=1 gives the loop and every lane a CPU of its own.
        // (The loop's thread is pinned last: threads inherit the CPU mask of their creator.)
        let pin = std::env::var("BRAID_PIN_CPUS").is_ok_and(|v| v == "1");
        for (i, queue) in queues.iter().enumerate().skip(1) {
            let lane_data = DataPath::new(offloads.vnet_hdr, offloads.uso, pool.clone());
            lanes.push(Lane::spawn(i, queue.clone(), shared.clone(), lane_data, pin)?);
        }
        if pin {
            super::lane::pin_thread(0);
        }
        Ok(EventLoop {
            shared,
            tun,
            queues,
            sockets,
            control,
            signals,
            poll,
            conns: HashMap::new(),
            next_conn: FIRST_CONN,
            pending: [false; 3],
            data,
            lanes,
        })
    }

    /// Stops the lanes and waits for them (again on drop; a second call finds none).
    fn stop_lanes(&mut self) {
        self.shared.request_stop();
        for lane in self.lanes.drain(..) {
            lane.stop();
        }
    }

    /// Runs until a signal arrives or the control socket disappears; the lanes have stopped
    /// when it returns.
    pub fn run(&mut self) -> io::Result<Exit> {
        let result = self.run_loop();
        self.stop_lanes();
        result
    }

    /// TUN reads of each queue, comma-separated, the event loop's first (lanes that have not
    /// read yet count 0).
    fn reads_per_queue(&self) -> String {
        let mut reads = vec![0u64; self.queues.len()];
        reads[0] = self.data.stats.tun_reads;
        for (i, n) in self.shared.lane_reads().into_iter().enumerate().skip(1) {
            if let Some(slot) = reads.get_mut(i) {
                *slot = n;
            }
        }
        reads.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
    }

    fn run_loop(&mut self) -> io::Result<Exit> {
        let mut events = Events::with_capacity(64);
        let mut next_housekeeping = std::time::Instant::now();
        loop {
            let mut timeout = next_housekeeping.saturating_duration_since(std::time::Instant::now());
            {
                // Deadline read and published under the device lock (see `Shared`).
                let device = self.shared.device();
                let deadline = device.next_deadline();
                if let Some(deadline) = deadline {
                    timeout = timeout.min(deadline.saturating_duration_since(self.shared.now()));
                }
                if self.pending.iter().any(|&p| p) {
                    timeout = Duration::ZERO;
                }
                self.shared.loop_sleeps_until(&device, deadline);
            }
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut ready = self.pending;
            for event in events.iter() {
                match event.token() {
                    TUN => ready[0] = true,
                    UDP4 => ready[1] = true,
                    UDP6 => ready[2] = true,
                    UAPI => self.accept_uapi(),
                    WAKE => {}
                    SIGNAL => {
                        let mut b = [0u8; 16];
                        let _ = self.signals.read(&mut b);
                        return Ok(Exit::Signal);
                    }
                    Token(t) => self.serve_uapi(t),
                }
            }
            if ready[0] {
                match self.drain_tun() {
                    Drained::Gone => return Ok(Exit::InterfaceRemoved),
                    d => self.pending[0] = d == Drained::More,
                }
            }
            for (slot, v6) in [(1, false), (2, true)] {
                if ready[slot] {
                    self.pending[slot] = self.drain_udp(v6) == Drained::More;
                }
            }
            let now = self.shared.now();
            let due = {
                let mut device = self.shared.device();
                let due = device.next_deadline().is_some_and(|d| d <= now);
                if due {
                    device.poll_timers(now);
                }
                due
            };
            if due {
                self.flush();
            }
            if std::time::Instant::now() >= next_housekeeping {
                next_housekeeping = std::time::Instant::now() + HOUSEKEEPING;
                if !self.control.still_present() {
                    return Ok(Exit::SocketRemoved);
                }
                match self.tun.mtu() {
                    Ok(mtu) => {
                        let mut device = self.shared.device();
                        if mtu != device.mtu() && device.set_mtu(mtu).is_ok() {
                            tracing::info!(mtu, "interface MTU changed");
                        }
                    }
                    Err(e) if e.raw_os_error() == Some(19) => return Ok(Exit::InterfaceRemoved), // ENODEV
                    Err(_) => {}
                }
            }
        }
    }

    /// Sends everything the device has queued.
    fn flush(&mut self) {
        let now = self.shared.now();
        self.data.flush_device(now, &self.shared, &self.sockets.udp);
    }

    fn drain_tun(&mut self) -> Drained {
        let now = self.shared.now();
        self.data.drain_tun(now, &self.tun, &self.shared, &self.sockets.udp)
    }

    fn drain_udp(&mut self, v6: bool) -> Drained {
        if v6 && self.sockets.udp.v6.is_none() {
            return Drained::Empty;
        }
        let family = if v6 { Family::V6 } else { Family::V4 };
        let now = self.shared.now();
        self.data.drain_udp(now, family, &self.queues, &self.shared, &self.sockets.udp)
    }

    fn accept_uapi(&mut self) {
        loop {
            match self.control.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let token = self.next_conn;
                    self.next_conn += 1;
                    let fd = stream.as_raw_fd();
                    if self
                        .poll
                        .registry()
                        .register(&mut SourceFd(&fd), Token(token), Interest::READABLE | Interest::WRITABLE)
                        .is_ok()
                    {
                        self.conns
                            .insert(token, Connection { stream, session: UapiSession::new(), pending: Vec::new() });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "UAPI accept failed");
                    break;
                }
            }
        }
    }

    fn serve_uapi(&mut self, token: usize) {
        let reads_per_queue = self.reads_per_queue();
        let Some(conn) = self.conns.get_mut(&token) else { return };
        let mut closed = false;
        let mut buf = [0u8; 16384];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    let reply = conn.session.finish();
                    conn.pending.extend_from_slice(&reply);
                    closed = true;
                    break;
                }
                Ok(n) => {
                    let now = self.shared.now();
                    let mut host = Host {
                        sockets: &mut self.sockets,
                        shared: &self.shared,
                        registry: self.poll.registry(),
                        tun: self.tun.offloads(),
                        queues: self.queues.len(),
                        reads_per_queue: reads_per_queue.clone(),
                        data: self.data.stats.plus(&self.shared.lane_stats_total()),
                    };
                    let mut device: std::sync::MutexGuard<'_, Device> = self.shared.device();
                    let reply = conn.session.feed(&buf[..n], now, &mut device, &mut host);
                    conn.pending.extend_from_slice(&reply);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        // Write what we can; the rest waits for the next writable event.
        while !conn.pending.is_empty() {
            match conn.stream.write(&conn.pending) {
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed || (conn.session.is_closed() && conn.pending.is_empty()) {
            if let Some(conn) = self.conns.remove(&token) {
                let _ = self.poll.registry().deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
            }
        }
        // A `set` may have queued handshakes (new endpoint + keepalive).
        self.flush();
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.stop_lanes();
    }
}
