//! The TCP endpoint: four-tuple → generation-checked slot key → connection, plus the listeners.
//!
//! This is the bookkeeping around [`Connection`]s that no single connection can do: finding the
//! connection a segment belongs to, creating connections for listeners within their backlog,
//! choosing ephemeral ports and initial sequence numbers, moving established connections to the
//! accept queue, and freeing slots when a connection is over and nobody holds its handle.

use core::cell::Cell;
use core::net::{IpAddr, SocketAddr};
use core::ops::RangeInclusive;
use std::collections::HashMap;

use braid_wire::tcp::TcpRepr;

use crate::tcp::{Connection, IsnGenerator, Segment, Signals, State, TcpConfig};
use crate::time::Instant;

use super::keyed_hash::KeyedState;
use super::ports::EphemeralPorts;
use super::slab::{Slab, SlotKey};
use super::tcp_listener::TcpListener;
use super::tcp_stream::{FourTuple, TcpStream};
use super::{BindError, ConnectError};

/// The peer MSS assumed for IPv6 when its SYN carries none (RFC 8200's 1280-byte minimum MTU
/// minus 60 bytes of headers), instead of IPv4's 536.
const IPV6_DEFAULT_REMOTE_MSS: u16 = 1220;

/// What became of a SYN offered to a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SynOutcome {
    /// A connection was created in SYN-RECEIVED (after evicting an older half-open one if
    /// `evicted`).
    Created { key: SlotKey, evicted: bool },
    /// The backlog is full of established connections the user has not accepted: dropped.
    BacklogFull,
    /// The four-tuple is already in use (a retransmitted SYN races an existing connection).
    Duplicate,
    /// Not a connection request.
    NotASyn,
}

/// Every TCP connection and listener of a socket set.
#[derive(Debug)]
pub(crate) struct TcpEndpoint {
    pub(crate) streams: Slab<TcpStream>,
    pub(crate) listeners: Slab<TcpListener>,
    tuples: HashMap<FourTuple, SlotKey, KeyedState>,
    /// The last tuple found, so a bulk flow's segments skip the keyed hash; cleared whenever the
    /// map changes.
    recent: Cell<Option<(FourTuple, SlotKey)>>,
    /// RSTs owed by connections that are already gone (aborted, or unaccepted when their listener
    /// closed); the interface sends them on its next poll.
    pub(crate) pending_resets: Vec<(FourTuple, Segment)>,
    isn: IsnGenerator,
    ports: EphemeralPorts,
}

impl TcpEndpoint {
    pub(crate) fn new(isn_key: [u8; 16], map_key: [u8; 16], port_key: [u8; 16], ports: RangeInclusive<u16>) -> Self {
        TcpEndpoint {
            streams: Slab::new(),
            listeners: Slab::new(),
            tuples: HashMap::with_hasher(KeyedState::new(map_key)),
            recent: Cell::new(None),
            pending_resets: Vec::new(),
            isn: IsnGenerator::new(isn_key),
            ports: EphemeralPorts::new(port_key, ports),
        }
    }

    /// The connection a segment from `remote` to `local` belongs to.
    pub(crate) fn lookup(&self, tuple: &FourTuple) -> Option<SlotKey> {
        let key = match self.recent.get() {
            Some((recent, key)) if recent == *tuple => key,
            _ => {
                let key = *self.tuples.get(tuple)?;
                self.recent.set(Some((*tuple, key)));
                key
            }
        };
        self.streams.contains(key).then_some(key)
    }

    /// The listener for a SYN to `local`: one bound to exactly that address first, else a wildcard.
    pub(crate) fn listener_for(&self, local: SocketAddr) -> Option<SlotKey> {
        let mut wildcard = None;
        for (key, listener) in self.listeners.iter() {
            if listener.accepts(local) {
                if !listener.local.ip().is_unspecified() {
                    return Some(key);
                }
                wildcard = Some(key);
            }
        }
        wildcard
    }

    fn map_insert(&mut self, tuple: FourTuple, key: SlotKey) {
        self.recent.set(None);
        self.tuples.insert(tuple, key);
    }

    /// Removes `tuple` from the map if it still names `key`.
    fn map_remove(&mut self, tuple: FourTuple, key: SlotKey) {
        if self.tuples.get(&tuple) == Some(&key) {
            self.recent.set(None);
            self.tuples.remove(&tuple);
        }
    }

    /// Connections in the map (live four-tuples, TIME-WAIT included).
    pub(crate) fn connection_count(&self) -> usize {
        self.tuples.len()
    }

    pub(crate) fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        config: TcpConfig,
    ) -> Result<SlotKey, BindError> {
        if local.port() == 0 {
            return Err(BindError::InvalidPort);
        }
        let overlaps = self.listeners.iter().any(|(_, l)| {
            l.local.port() == local.port()
                && (l.local.ip() == local.ip() || l.local.ip().is_unspecified() || local.ip().is_unspecified())
        });
        if overlaps {
            return Err(BindError::AddrInUse(local));
        }
        Ok(self.listeners.insert(TcpListener::new(local, backlog, config)))
    }

    /// Closes a listener: connections it created that the user has not accepted are reset.
    pub(crate) fn unlisten(&mut self, key: SlotKey) -> bool {
        if self.listeners.remove(key).is_none() {
            return false;
        }
        let orphans: Vec<SlotKey> =
            self.streams.iter().filter(|(_, s)| s.listener == Some(key)).map(|(stream, _)| stream).collect();
        for stream_key in orphans {
            if let Some(mut stream) = self.free(stream_key) {
                if let Some(rst) = stream.conn.abort() {
                    self.pending_resets.push((stream.tuple, rst));
                }
            }
        }
        true
    }

    /// The configuration a connection on `tuple` actually gets. The MSS follows the link: the
    /// MTU-derived `mss_limit`, unless the user changed `config.mss` from its default, in which
    /// case that value caps it (a smaller MSS for a tunnel inside the tunnel, say).
    fn tcp_config_for(config: &TcpConfig, tuple: &FourTuple, mss_limit: u16) -> TcpConfig {
        let mut config = *config;
        config.mss = if config.mss == TcpConfig::default().mss { mss_limit } else { config.mss.min(mss_limit) };
        if tuple.remote.is_ipv6() {
            config.default_remote_mss = config.default_remote_mss.max(IPV6_DEFAULT_REMOTE_MSS);
        }
        config
    }

    /// Active open from `local` (port 0: an ephemeral port) to `remote`.
    pub(crate) fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        config: &TcpConfig,
        mss_limit: u16,
    ) -> Result<SlotKey, ConnectError> {
        let unusable = |ip: IpAddr| ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip);
        if remote.port() == 0 || unusable(remote.ip()) || unusable(local.ip()) || local.is_ipv4() != remote.is_ipv4() {
            return Err(ConnectError::Unaddressable(remote));
        }
        let port = if local.port() != 0 {
            let tuple = FourTuple { local, remote };
            if self.tuples.contains_key(&tuple) {
                return Err(ConnectError::AddrInUse(local));
            }
            local.port()
        } else {
            let (tuples, listeners) = (&self.tuples, &self.listeners);
            self.ports
                .pick(local.ip(), remote, |port| {
                    let tuple = FourTuple { local: SocketAddr::new(local.ip(), port), remote };
                    !tuples.contains_key(&tuple) && !listeners.iter().any(|(_, l)| l.local.port() == port)
                })
                .ok_or(ConnectError::NoEphemeralPort)?
        };
        let tuple = FourTuple { local: SocketAddr::new(local.ip(), port), remote };
        let config = Self::tcp_config_for(config, &tuple, mss_limit);
        let initial = self.isn.generate(now, tuple.local, tuple.remote);
        let conn = Connection::connect(now, &config, port, remote.port(), initial);
        let key = self.streams.insert(TcpStream::new(conn, tuple, None));
        self.map_insert(tuple, key);
        Ok(key)
    }

    /// A SYN arrived for `listener_key` on `tuple`.
    pub(crate) fn accept_syn(
        &mut self,
        now: Instant,
        listener_key: SlotKey,
        tuple: FourTuple,
        syn: &TcpRepr<'_>,
        mss_limit: u16,
    ) -> SynOutcome {
        if self.tuples.contains_key(&tuple) {
            return SynOutcome::Duplicate;
        }
        let Some(listener) = self.listeners.get(listener_key) else { return SynOutcome::NotASyn };
        let config = Self::tcp_config_for(&listener.config, &tuple, mss_limit);
        let mut evicted = false;
        if listener.queued >= listener.backlog {
            if !self.evict_half_open(listener_key) {
                if let Some(listener) = self.listeners.get_mut(listener_key) {
                    listener.stats.syns_dropped += 1;
                }
                return SynOutcome::BacklogFull;
            }
            evicted = true;
        }
        let initial = self.isn.generate(now, tuple.local, tuple.remote);
        let Ok(conn) = Connection::accept_syn(now, &config, syn, initial) else { return SynOutcome::NotASyn };
        let key = self.streams.insert(TcpStream::new(conn, tuple, Some(listener_key)));
        self.map_insert(tuple, key);
        let streams = &self.streams;
        if let Some(listener) = self.listeners.get_mut(listener_key) {
            listener.queued += 1;
            listener.stats.syns_accepted += 1;
            if listener.half_open.len() == listener.half_open.capacity() {
                listener.half_open.retain(|&k| streams.get(k).is_some_and(|s| s.conn.state() == State::SynReceived));
            }
            listener.half_open.push_back(key);
        }
        SynOutcome::Created { key, evicted }
    }

    /// Drops the listener's oldest connection still in SYN-RECEIVED, silently (as a full SYN
    /// queue does); false if it has none.
    fn evict_half_open(&mut self, listener_key: SlotKey) -> bool {
        loop {
            let Some(listener) = self.listeners.get_mut(listener_key) else { return false };
            let Some(candidate) = listener.half_open.pop_front() else { return false };
            let half_open = self
                .streams
                .get(candidate)
                .is_some_and(|s| s.listener == Some(listener_key) && s.conn.state() == State::SynReceived);
            if half_open {
                listener.stats.half_open_evicted += 1;
                self.free(candidate);
                return true;
            }
        }
    }

    /// The user takes the oldest established connection from a listener's accept queue.
    pub(crate) fn accept(&mut self, listener_key: SlotKey) -> Option<SlotKey> {
        let listener = self.listeners.get_mut(listener_key)?;
        while let Some(key) = listener.accept_queue.pop_front() {
            let Some(stream) = self.streams.get_mut(key) else { continue };
            stream.listener = None;
            stream.queued_for_accept = false;
            listener.queued = listener.queued.saturating_sub(1);
            listener.stats.accepted += 1;
            return Some(key);
        }
        None
    }

    /// Acts on what a connection's input or timeout asked for (everything but transmitting).
    pub(crate) fn after_signals(&mut self, key: SlotKey, sig: &Signals) {
        let Some(stream) = self.streams.get_mut(key) else { return };
        if sig.established && !stream.queued_for_accept {
            if let Some(listener) = stream.listener.and_then(|l| self.listeners.get_mut(l)) {
                stream.queued_for_accept = true;
                listener.accept_queue.push_back(key);
            }
        }
        if sig.delete || stream.conn.is_closed() {
            let (tuple, unowned) = (stream.tuple, stream.orphaned || stream.listener.is_some());
            self.map_remove(tuple, key);
            if unowned {
                self.free(key);
            }
        }
    }

    /// Removes a stream from every structure: its tuple, its listener's backlog, its slot.
    pub(crate) fn free(&mut self, key: SlotKey) -> Option<TcpStream> {
        let stream = self.streams.remove(key)?;
        self.map_remove(stream.tuple, key);
        if let Some(listener) = stream.listener.and_then(|l| self.listeners.get_mut(l)) {
            listener.queued = listener.queued.saturating_sub(1);
            if stream.queued_for_accept {
                listener.accept_queue.retain(|&k| k != key);
            }
        }
        Some(stream)
    }

    /// The user lets go of a connection: it closes gracefully in the background and its slot is
    /// freed once it is CLOSED (after TIME-WAIT, if it gets there).
    pub(crate) fn release(&mut self, key: SlotKey) -> bool {
        let Some(stream) = self.streams.get_mut(key) else { return false };
        stream.conn.close();
        stream.orphaned = true;
        self.reap(key);
        true
    }

    /// The user resets a connection: the slot is freed now and the RST queued for the interface.
    pub(crate) fn abort(&mut self, key: SlotKey) -> bool {
        let Some(mut stream) = self.free(key) else { return false };
        if let Some(rst) = stream.conn.abort() {
            self.pending_resets.push((stream.tuple, rst));
        }
        true
    }

    /// Frees the slot of an orphaned connection once it is CLOSED.
    pub(crate) fn reap(&mut self, key: SlotKey) {
        if self.streams.get(key).is_some_and(|s| s.orphaned && s.conn.is_closed()) {
            self.free(key);
        }
    }
}

/// True for the IPv4 limited broadcast address (subnet broadcasts are unknown to the stack).
fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(a) if a.is_broadcast())
}
