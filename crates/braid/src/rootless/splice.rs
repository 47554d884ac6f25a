//! Joining a local connection and a tunnel connection: bytes copied both ways, each half
//! closed when its source ends (a FIN is passed on as a FIN), counted per forward; and the
//! registry of open connections that a shutdown closes gracefully.

use crate::net::TcpStream as TunnelStream;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream as LocalStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes read at once from either side.
const CHUNK: usize = 16 * 1024;
/// Stack of a copying thread: it needs little beyond its heap buffer.
pub const COPY_THREAD_STACK: usize = 128 * 1024;
/// Connections open at once, over every forward and proxy of one tunnel (about 60 KiB of
/// memory each, and two threads): more are refused at once, so memory stays bounded whatever
/// clients do.
pub const MAX_OPEN_CONNECTIONS: usize = 4096;

/// Counters of one forward (or proxy), for `braid show` and the logs.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Connections (or UDP clients) accepted since start.
    pub accepted: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections that failed before any byte moved (unreachable, refused, DNS).
    pub failed: AtomicU64,
    /// Bytes from the local side into the tunnel.
    pub bytes_out: AtomicU64,
    /// Bytes from the tunnel to the local side.
    pub bytes_in: AtomicU64,
}

impl ForwardStats {
    /// A snapshot: (accepted, open, failed, bytes out, bytes in).
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.open.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
        )
    }
}

/// The open connections of every forward, so that a shutdown can end them with a FIN
/// rather than leave them to a reset.
#[derive(Default)]
pub struct Connections {
    open: Mutex<Vec<Arc<Joined>>>,
    closing: AtomicBool,
}

/// One local connection and its tunnel connection.
pub struct Joined {
    local: LocalStream,
    tunnel: TunnelStream,
}

impl Connections {
    /// Ends every open connection: the local side is shut down both ways (its reader and
    /// writer threads return), the tunnel side gets its FIN after the data already queued.
    /// New connections are refused from now on.
    pub fn close_all(&self) {
        self.closing.store(true, Ordering::Release);
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(PoisonError::into_inner));
        for joined in open {
            let _ = joined.local.shutdown(Shutdown::Both);
            let _ = joined.tunnel.shutdown(Shutdown::Write);
        }
    }

    /// Whether [`close_all`](Self::close_all) was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Whether a new connection may be opened now (not closing, under
    /// [`MAX_OPEN_CONNECTIONS`]); checked before the tunnel side is connected.
    pub fn has_room(&self) -> bool {
        !self.is_closing() && self.open.lock().unwrap_or_else(PoisonError::into_inner).len() < MAX_OPEN_CONNECTIONS
    }

    fn add(&self, joined: &Arc<Joined>) -> bool {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_closing() || open.len() >= MAX_OPEN_CONNECTIONS {
            return false;
        }
        open.push(joined.clone());
        true
    }

    fn remove(&self, joined: &Arc<Joined>) {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).retain(|j| !Arc::ptr_eq(j, joined));
    }
}

/// Copies between `local` and `tunnel` until both directions ended, on two threads (this one
/// and one more); counts into `stats` (`outbound`: local → tunnel is `bytes_out`).
pub fn splice(local: LocalStream, tunnel: TunnelStream, stats: &Arc<ForwardStats>, connections: &Arc<Connections>) {
    let _ = local.set_nodelay(true);
    let Ok(local_reader) = local.try_clone() else { return };
    let joined = Arc::new(Joined { local, tunnel });
    if !connections.add(&joined) {
        let _ = joined.local.shutdown(Shutdown::Both);
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    stats.open.fetch_add(1, Ordering::Relaxed);
    let inbound = {
        let (joined, stats) = (joined.clone(), stats.clone());
        std::thread::Builder::new().name("braid-splice".into()).stack_size(COPY_THREAD_STACK).spawn(move || {
            // Tunnel → local.
            let copied = copy(&mut &joined.tunnel, &mut &joined.local, &stats.bytes_in);
            let _ = joined.local.shutdown(Shutdown::Write);
            copied
        })
    };
    // Local → tunnel, on this thread.
    let mut reader = local_reader;
    let _ = copy(&mut reader, &mut &joined.tunnel, &stats.bytes_out);
    let _ = joined.tunnel.shutdown(Shutdown::Write);
    match inbound {
        Ok(thread) => {
            let _ = thread.join();
        }
        Err(_) => {
            // No second thread: end the connection instead of leaving it half served.
            let _ = joined.local.shutdown(Shutdown::Both);
        }
    }
    connections.remove(&joined);
    stats.open.fetch_sub(1, Ordering::Relaxed);
}

/// Copies until end of input or an error; returns the bytes copied.
fn copy(from: &mut impl Read, to: &mut impl Write, counter: &AtomicU64) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
