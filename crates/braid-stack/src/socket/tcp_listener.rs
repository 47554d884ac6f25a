//! A listening TCP port: its backlog, its accept queue, and the bookkeeping that bounds a SYN flood.

use core::net::SocketAddr;
use std::collections::VecDeque;

use crate::tcp::TcpConfig;

use super::slab::SlotKey;

/// What a listener has seen, for monitoring SYN floods and accept-queue pressure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// SYNs that created a connection.
    pub syns_accepted: u64,
    /// SYNs dropped because the backlog was full of established, unaccepted connections.
    pub syns_dropped: u64,
    /// Half-open connections (SYN-RECEIVED) evicted to make room for a newer SYN.
    pub half_open_evicted: u64,
    /// Connections handed to the user by `accept`.
    pub accepted: u64,
}

/// A TCP listener bound to a local address and port.
///
/// Every connection it creates counts against its backlog from the SYN until the user accepts it.
/// When the backlog is full, the oldest half-open connection is evicted for the new SYN (so a SYN
/// flood cannot lock legitimate clients out until the half-open ones time out); when all of it is
/// established and unaccepted, the SYN is dropped and the peer retries. Either way the memory a
/// listener can hold is `backlog` connections.
#[derive(Debug)]
pub struct TcpListener {
    pub(crate) local: SocketAddr,
    pub(crate) backlog: usize,
    pub(crate) config: TcpConfig,
    /// Connections counted against the backlog (half-open, or established and unaccepted).
    pub(crate) queued: usize,
    /// Established connections waiting for `accept`, oldest first (capacity `backlog`).
    pub(crate) accept_queue: VecDeque<SlotKey>,
    /// Connections created from SYNs, oldest first; entries that completed or died are skipped
    /// lazily and compacted away when the ring fills (capacity 2 × `backlog`).
    pub(crate) half_open: VecDeque<SlotKey>,
    pub(crate) stats: ListenerStats,
}

impl TcpListener {
    pub(crate) fn new(local: SocketAddr, backlog: usize, config: TcpConfig) -> Self {
        let backlog = backlog.max(1);
        TcpListener {
            local,
            backlog,
            config,
            queued: 0,
            accept_queue: VecDeque::with_capacity(backlog),
            half_open: VecDeque::with_capacity(2 * backlog),
            stats: ListenerStats::default(),
        }
    }

    /// The bound address; an unspecified IP listens on every address of the interface.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Most connections that may wait between SYN and `accept`.
    pub fn backlog(&self) -> usize {
        self.backlog
    }

    /// Connections currently counted against the backlog.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Established connections ready for `accept`.
    pub fn ready(&self) -> usize {
        self.accept_queue.len()
    }

    /// The configuration accepted connections are created with (the MSS is clamped to the MTU).
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> ListenerStats {
        self.stats
    }

    /// True when a SYN to `local` belongs to this listener.
    pub(crate) fn accepts(&self, local: SocketAddr) -> bool {
        self.local.port() == local.port() && (self.local.ip().is_unspecified() || self.local.ip() == local.ip())
    }
}
