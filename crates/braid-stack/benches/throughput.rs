//! Bulk TCP throughput of braid-stack, side by side with smoltcp doing the same work in the same
//! run, and the ratio between them.
//!
//! Each stack runs one interface over its own in-memory self-loop device (what one interface
//! transmits, it receives next), with a TCP listener and a client connection on it: the client
//! writes `BRAID_BENCH_MB` (default 256) megabytes from a user buffer as fast as the send buffer
//! takes them and the server reads them into a user buffer. All work happens in one thread, so
//! the time is the CPU cost of both ends of a connection: segmentation, checksums (computed and
//! verified by both stacks: the smoltcp device here does not waive them, unlike its stock
//! `Loopback`), ACK processing and copies. Same MTU, 256 KiB socket buffers, and the wall clock as
//! the stacks' time for both. Runs alternate between the stacks; each cell is the median of 9
//! runs and, in brackets, the best one (on a shared machine the best run is the closest to the
//! stack's own cost; the medians move with other load).
//!
//! Two kinds of device, each for both stacks: a copying one (braid-stack: only `transmit` and
//! `receive`, which copy a packet out of and into the interface's buffers, like a TUN
//! descriptor; smoltcp: its tokens copy through a scratch buffer the same way) and a zero-copy
//! one (braid-stack: `transmit_swap`/`receive_swap` exchange buffers; smoltcp: the tokens lend
//! the queued buffers themselves). Each stack is compared with the other on the same kind.
//!
//! `cargo bench -p braid-stack --bench throughput`

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use braid_stack::iface::{Interface, InterfaceConfig};
use braid_stack::link::{IpLink, PacketQueue, TransmitError};
use braid_stack::socket::SocketSet;
use braid_stack::tcp::TcpConfig;
use braid_stack::time::Instant;

const BUFFER: usize = 256 * 1024;
const RUNS: usize = 9;

/// braid-stack's device: a bounded queue looping back into itself.
///
/// With `swapping`, it also implements the zero-copy calls ([`IpLink::transmit_swap`] and
/// [`IpLink::receive_swap`]: packets move by exchanging equal-sized buffers with the interface);
/// without, only the copying ones, as a TUN descriptor does.
struct SelfLoop {
    queue: PacketQueue,
    swapping: bool,
}

impl IpLink for SelfLoop {
    fn mtu(&self) -> usize {
        self.queue.mtu()
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.queue.pop_into(buf).flatten()
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        !self.queue.is_full()
    }

    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        self.queue.push(packet)
    }

    fn receive_swap(&mut self, now: Instant, buf: &mut Box<[u8]>) -> Option<usize> {
        if !self.swapping {
            return self.receive(now, buf);
        }
        self.queue.pop_swap(buf).flatten()
    }

    fn transmit_swap(&mut self, now: Instant, buf: &mut Box<[u8]>, len: usize) -> Result<(), TransmitError> {
        if !self.swapping {
            return self.transmit(now, buf.get(..len).ok_or(TransmitError::Failed)?);
        }
        self.queue.push_swap(buf, len)
    }
}

/// Moves `bytes` through braid-stack (over a copying or a swapping device); returns the time taken.
fn braid(mtu: usize, bytes: u64, swapping: bool) -> Duration {
    let mut device = SelfLoop { queue: PacketQueue::new(1024, mtu), swapping };
    let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let mut iface = Interface::new(InterfaceConfig::new([addr]), &device);
    let mut sockets = SocketSet::new([9; 32]);
    let tcp = TcpConfig { send_buffer_size: BUFFER, recv_buffer_size: BUFFER, ..TcpConfig::default() };
    let listener = sockets.tcp_listen(SocketAddr::new(addr, 5000), 1, tcp).unwrap();
    let clock = std::time::Instant::now();
    let now = || Instant::from_duration(clock.elapsed());
    let client = iface.tcp_connect(&mut sockets, now(), SocketAddr::new(addr, 5000), tcp).unwrap();
    let data = vec![0x5au8; BUFFER];
    let mut sink = vec![0u8; BUFFER];
    let (mut server, mut sent, mut received) = (None, 0u64, 0u64);
    while received < bytes {
        iface.poll(now(), &mut device, &mut sockets);
        if server.is_none() {
            server = sockets.tcp_accept(listener);
        }
        let stream = sockets.tcp_stream(client).unwrap();
        while sent < bytes {
            let n = stream.send(&data[..(bytes - sent).min(BUFFER as u64) as usize]).unwrap();
            if n == 0 {
                break;
            }
            sent += n as u64;
        }
        if let Some(server) = server {
            let stream = sockets.tcp_stream(server).unwrap();
            loop {
                match stream.recv(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n as u64,
                }
            }
        }
    }
    clock.elapsed()
}

/// smoltcp's device for the same job: a self-loop with the same MTU, checksums left on, and
/// recycled buffers so neither side allocates per packet.
///
/// With `copying`, the device also copies each packet once on the way in and once on the way out
/// through a scratch buffer, as a device with braid's caller-buffer contract must (transmit takes
/// a finished packet, receive fills the caller's buffer): the two columns separate the cost of
/// that contract from the cost of the stack.
struct SmolLoop {
    queue: VecDeque<Vec<u8>>,
    spare: RefCell<Vec<Vec<u8>>>,
    scratch: RefCell<Vec<u8>>,
    copying: bool,
    mtu: usize,
}

struct SmolRx<'a> {
    buffer: Vec<u8>,
    spare: &'a RefCell<Vec<Vec<u8>>>,
    scratch: Option<&'a RefCell<Vec<u8>>>,
}

struct SmolTx<'a> {
    queue: &'a mut VecDeque<Vec<u8>>,
    spare: &'a RefCell<Vec<Vec<u8>>>,
    scratch: Option<&'a RefCell<Vec<u8>>>,
}

impl smoltcp::phy::RxToken for SmolRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = match self.scratch {
            Some(scratch) => {
                let mut scratch = scratch.borrow_mut();
                scratch.clear();
                scratch.extend_from_slice(&self.buffer);
                f(&scratch)
            }
            None => f(&self.buffer),
        };
        self.spare.borrow_mut().push(self.buffer);
        result
    }
}

impl smoltcp::phy::TxToken for SmolTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buffer = self.spare.borrow_mut().pop().unwrap_or_default();
        buffer.resize(len, 0);
        let result = match self.scratch {
            Some(scratch) => {
                let mut scratch = scratch.borrow_mut();
                scratch.resize(len, 0);
                let result = f(&mut scratch);
                buffer.copy_from_slice(&scratch);
                result
            }
            None => f(&mut buffer),
        };
        self.queue.push_back(buffer);
        result
    }
}

impl smoltcp::phy::Device for SmolLoop {
    type RxToken<'a> = SmolRx<'a>;
    type TxToken<'a> = SmolTx<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(SmolRx<'_>, SmolTx<'_>)> {
        let buffer = self.queue.pop_front()?;
        let (spare, scratch) = (&self.spare, self.copying.then_some(&self.scratch));
        Some((SmolRx { buffer, spare, scratch }, SmolTx { queue: &mut self.queue, spare, scratch }))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<SmolTx<'_>> {
        let scratch = self.copying.then_some(&self.scratch);
        (self.queue.len() < 1024).then_some(SmolTx { queue: &mut self.queue, spare: &self.spare, scratch })
    }

    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = smoltcp::phy::Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// Moves `bytes` through smoltcp (over a copying device or not); returns the time taken.
fn smoltcp(mtu: usize, bytes: u64, copying: bool) -> Duration {
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::socket::tcp;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

    let mut device = SmolLoop {
        queue: VecDeque::new(),
        spare: RefCell::new(Vec::new()),
        scratch: RefCell::new(Vec::new()),
        copying,
        mtu,
    };
    let clock = std::time::Instant::now();
    let now = || smoltcp::time::Instant::from_micros(clock.elapsed().as_micros() as i64);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now());
    iface.update_ip_addrs(|addrs| addrs.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 8)).unwrap());
    let socket = || tcp::Socket::new(tcp::SocketBuffer::new(vec![0; BUFFER]), tcp::SocketBuffer::new(vec![0; BUFFER]));
    let mut sockets = SocketSet::new(vec![]);
    let server = sockets.add(socket());
    let client = sockets.add(socket());
    sockets.get_mut::<tcp::Socket>(server).listen(5000).unwrap();
    sockets.get_mut::<tcp::Socket>(client).connect(iface.context(), (IpAddress::v4(10, 0, 0, 1), 5000), 49152).unwrap();
    let data = vec![0x5au8; BUFFER];
    let mut sink = vec![0u8; BUFFER];
    let (mut sent, mut received) = (0u64, 0u64);
    while received < bytes {
        iface.poll(now(), &mut device, &mut sockets);
        let socket = sockets.get_mut::<tcp::Socket>(client);
        while sent < bytes && socket.can_send() {
            let n = socket.send_slice(&data[..(bytes - sent).min(BUFFER as u64) as usize]).unwrap();
            if n == 0 {
                break;
            }
            sent += n as u64;
        }
        let socket = sockets.get_mut::<tcp::Socket>(server);
        while socket.can_recv() {
            received += socket.recv_slice(&mut sink).unwrap() as u64;
        }
    }
    clock.elapsed()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

fn gbps(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

fn main() {
    let mb: u64 = std::env::var("BRAID_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    let bytes = mb * 1_000_000;
    // BRAID_BENCH_ONLY=braid|smoltcp runs one stack alone (for a profiler).
    let only = std::env::var("BRAID_BENCH_ONLY").unwrap_or_default();
    let verbose = std::env::var("BRAID_BENCH_VERBOSE").is_ok();
    println!("bulk TCP over a self-loop device, {mb} MB per run, median [best] of {RUNS} runs (one thread, both ends)");
    println!("| MTU | device | braid-stack | smoltcp 0.12 | braid / smoltcp |\n|---|---|---|---|---|");
    for mtu in [1500usize, 9000] {
        // Warm up (page faults, caches), then alternate the four so load changes hit all alike.
        braid(mtu, bytes / 10, false);
        smoltcp(mtu, bytes / 10, true);
        // braid copying, smoltcp copying, braid zero-copy, smoltcp zero-copy.
        let mut runs: [Vec<Duration>; 4] = Default::default();
        let skip = Duration::from_secs(1);
        for _ in 0..RUNS {
            runs[0].push(if only == "smoltcp" { skip } else { braid(mtu, bytes, false) });
            runs[1].push(if only == "braid" { skip } else { smoltcp(mtu, bytes, true) });
            runs[2].push(if only == "smoltcp" { skip } else { braid(mtu, bytes, true) });
            runs[3].push(if only == "braid" { skip } else { smoltcp(mtu, bytes, false) });
        }
        let names = ["braid copying", "smoltcp copying", "braid zero-copy", "smoltcp zero-copy"];
        if verbose {
            for (name, runs) in names.iter().zip(&runs) {
                let rates: Vec<String> = runs.iter().map(|d| format!("{:.1}", gbps(bytes, *d))).collect();
                eprintln!("MTU {mtu} {name}: {}", rates.join(" "));
            }
        }
        let best = runs.clone().map(|r| gbps(bytes, r.iter().copied().min().unwrap_or(skip)));
        let median = runs.map(|r| gbps(bytes, median(r)));
        for (row, device) in ["copying", "zero-copy"].into_iter().enumerate() {
            let (b, s) = (2 * row, 2 * row + 1);
            println!(
                "| {mtu} | {device} | {:.1} [{:.1}] Gbit/s | {:.1} [{:.1}] Gbit/s | {:.2}× [{:.2}×] |",
                median[b],
                best[b],
                median[s],
                best[s],
                median[b] / median[s],
                best[b] / best[s]
            );
        }
    }
}
