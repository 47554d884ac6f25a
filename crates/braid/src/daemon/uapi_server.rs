//! Serving the UAPI socket: one thread accepts, one short-lived thread serves each client.
//!
//! A client is served with blocking reads and writes on its own thread, so a slow or stuck
//! client holds only that thread: the data path never waits for it, and a client that stops
//! reading its replies stops the daemon from reading its requests (the reply waits in the
//! socket buffer, not in memory). Each request runs against the device under its lock, like
//! any other data-path call; the listen port and firewall mark change through the engine.

use crate::uapi::{EngineHost, HostExtras, UapiSession};
use braid_engine::{EngineHandle, UdpUnderlay};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroize;

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
/// Clients served at once; more are turned away (closed at once) until one finishes.
const MAX_CLIENTS: usize = 32;
/// A client silent this long mid-conversation is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A client that does not take a reply within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Reply bytes prepared for a client before they are written out.
const REPLY_CHUNK: usize = 64 * 1024;

/// The running UAPI server; [`UapiServer::stop`] ends it.
pub struct UapiServer {
    waker: Waker,
    thread: JoinHandle<()>,
}

impl UapiServer {
    /// Serves `listener` for the engine behind `engine`.
    pub fn spawn(listener: UnixListener, engine: EngineHandle<UdpUnderlay>) -> io::Result<UapiServer> {
        Self::spawn_with(listener, engine, None)
    }

    /// As [`UapiServer::spawn`], with more facts for `braid show` from `extras`.
    pub fn spawn_with(
        listener: UnixListener,
        engine: EngineHandle<UdpUnderlay>,
        extras: Option<HostExtras>,
    ) -> io::Result<UapiServer> {
        listener.set_nonblocking(true)?;
        let mut poll = Poll::new()?;
        poll.registry().register(&mut SourceFd(&listener.as_raw_fd()), LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), STOP)?;
        let thread = std::thread::Builder::new().name("braid-uapi".into()).spawn(move || {
            let clients = Arc::new(AtomicUsize::new(0));
            let mut events = Events::with_capacity(8);
            loop {
                if let Err(e) = poll.poll(&mut events, None) {
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    tracing::warn!(error = %e, "UAPI poll failed");
                    return;
                }
                if events.iter().any(|e| e.token() == STOP) {
                    return;
                }
                accept_all(&listener, &engine, &clients, extras.as_ref());
            }
        })?;
        Ok(UapiServer { waker, thread })
    }

    /// Stops accepting; clients being served finish on their own.
    pub fn stop(self) {
        let _ = self.waker.wake();
        let _ = self.thread.join();
    }
}

fn accept_all(
    listener: &UnixListener,
    engine: &EngineHandle<UdpUnderlay>,
    clients: &Arc<AtomicUsize>,
    extras: Option<&HostExtras>,
) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "UAPI accept failed");
                return;
            }
        };
        if !super::uapi_socket::client_allowed(&stream) {
            tracing::warn!("a UAPI client of another user was turned away");
            continue;
        }
        if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!("too many UAPI clients at once: one turned away");
            continue;
        }
        let (engine, counter, extras) = (engine.clone(), clients.clone(), extras.cloned());
        let spawned = std::thread::Builder::new().name("braid-uapi-client".into()).spawn(move || {
            if let Err(e) = serve_client(stream, &engine, extras.as_ref()) {
                tracing::debug!(error = %e, "UAPI client ended");
            }
            counter.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            tracing::warn!("cannot start a thread for a UAPI client");
            // The closure (and its counter decrement) never ran.
            clients.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn serve_client(
    mut stream: UnixStream,
    engine: &EngineHandle<UdpUnderlay>,
    extras: Option<&HostExtras>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut session = UapiSession::new();
    let mut buf = [0u8; 16384];
    let mut host = EngineHost::new(engine).with_extras(extras);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            let reply = session.finish();
            return stream.write_all(&reply);
        }
        // The replies go out at most REPLY_CHUNK at a time, each before the next requests
        // are read: a client that never reads blocks only its own thread (and is dropped after
        // WRITE_TIMEOUT), the daemon holds at most a chunk for it, and the device is locked
        // for at most a chunk's worth of work at a time.
        let mut done = 0;
        while done < n && !session.is_closed() {
            let (used, mut reply) =
                engine.with_device(|device, now| session.feed_some(&buf[done..n], now, device, &mut host, REPLY_CHUNK));
            done += used;
            let written = stream.write_all(&reply);
            // A `get` reply holds the private key.
            reply.zeroize();
            if let Err(e) = written {
                buf[..n].zeroize();
                return Err(e);
            }
        }
        buf[..n].zeroize();
        if session.is_closed() {
            return Ok(());
        }
    }
}
