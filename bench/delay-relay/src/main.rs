//! `delay-relay LISTEN UPSTREAM DELAY_MS`: relays UDP between one client (whoever sends to
//! LISTEN) and UPSTREAM, holding each datagram DELAY_MS in each direction, so a tunnel through
//! it has 2 × DELAY_MS more round trip. Order is kept (a FIFO per direction); nothing is
//! dropped unless a socket buffer overflows. For benchmarks: this machine has no netem.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One direction: datagrams waiting for their time, and the thread that sends them.
struct Line {
    queue: Mutex<VecDeque<(Instant, Vec<u8>)>>,
    ready: Condvar,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, upstream, delay_ms] = args.as_slice() else {
        eprintln!("usage: delay-relay LISTEN UPSTREAM DELAY_MS");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN: ip:port");
    let upstream: SocketAddr = upstream.parse().expect("UPSTREAM: ip:port");
    let delay = Duration::from_millis(delay_ms.parse().expect("DELAY_MS: a number"));
    let front = Arc::new(bind(listen).expect("bind LISTEN"));
    let unspecified: SocketAddr = if upstream.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
    let back = Arc::new(bind(unspecified).expect("bind the upstream side"));
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let to_upstream = spawn_line(back.clone(), move || Some(upstream));
    let to_client = spawn_line(front.clone(), {
        let client = client.clone();
        move || *client.lock().unwrap()
    });
    println!("delay-relay {} -> {upstream}, {} ms each way", front.local_addr().unwrap(), delay.as_millis());
    {
        let (back, to_client) = (back.clone(), to_client.clone());
        std::thread::spawn(move || pump(&back, &to_client, delay, |_| {}));
    }
    pump(&front, &to_upstream, delay, |from| *client.lock().unwrap() = Some(from));
}

/// A UDP socket with large buffers: the relay holds a path's delay, it must not be its
/// bottleneck too (a burst a sender writes at once must not overflow the default 208 KiB).
fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
    let _ = socket.set_recv_buffer_size(RELAY_BUFFER);
    let _ = socket.set_send_buffer_size(RELAY_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Socket buffers asked for (the kernel caps them at net.core.rmem_max / wmem_max).
const RELAY_BUFFER: usize = 16 << 20;

/// Receives on `socket` forever, queueing each datagram for `delay` later.
fn pump(socket: &UdpSocket, line: &Line, delay: Duration, mut seen: impl FnMut(SocketAddr)) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
        seen(from);
        let mut queue = line.queue.lock().unwrap();
        queue.push_back((Instant::now() + delay, buf[..n].to_vec()));
        if queue.len() == 1 {
            line.ready.notify_one();
        }
    }
}

/// The sender of one direction: waits for each datagram's time and sends it on `socket`.
fn spawn_line(socket: Arc<UdpSocket>, to: impl Fn() -> Option<SocketAddr> + Send + 'static) -> Arc<Line> {
    let line = Arc::new(Line { queue: Mutex::new(VecDeque::new()), ready: Condvar::new() });
    let sender = line.clone();
    std::thread::spawn(move || loop {
        let mut queue = sender.queue.lock().unwrap();
        while queue.is_empty() {
            queue = sender.ready.wait(queue).unwrap();
        }
        let due = queue.front().map(|(t, _)| *t).unwrap();
        let now = Instant::now();
        if due > now {
            drop(queue);
            std::thread::sleep(due - now);
            continue;
        }
        let (_, datagram) = queue.pop_front().unwrap();
        drop(queue);
        if let Some(to) = to() {
            let _ = socket.send_to(&datagram, to);
        }
    });
    line
}
