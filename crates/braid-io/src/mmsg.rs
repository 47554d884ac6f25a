//! `recvmmsg` and `sendmmsg`: several messages — each possibly a GRO run or a GSO batch, each
//! with its own addresses — in one system call. GSO and GRO batch one flow; these batch across
//! flows and peers.
//!
//! The control messages are the ones [`crate::pktinfo`] encodes and decodes; this module only
//! lays out the `mmsghdr` arrays, with buffers owned by [`RecvBatch`] (reused across calls)
//! or borrowed from the caller for the duration of one send.

#![allow(unsafe_code)]

use crate::pktinfo::{self, Arrival, RECV_CONTROL_LEN, SEND_CONTROL_MAX};
use socket2::{SockAddr, SockAddrStorage};
use std::io;
use std::mem::zeroed;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;

/// Control-buffer storage with the alignment `cmsghdr` needs.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Control<const N: usize>([u8; N]);

/// One message of a `recvmmsg`: `len` bytes in its buffer from `from`, with what its control
/// messages said.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Message {
    pub len: usize,
    pub from: SocketAddr,
    pub arrival: Arrival,
}

/// Buffers for receiving up to `capacity` messages per call, allocated once; a receive
/// allocates nothing.
pub struct RecvBatch {
    data: Vec<Vec<u8>>,
    control: Vec<Control<RECV_CONTROL_LEN>>,
    /// Where the kernel writes each sender's address (socket2's storage: any family fits).
    addrs: Vec<SockAddrStorage>,
    /// The syscall's arrays; their pointers are rewritten before every call.
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    pub(crate) messages: Vec<Message>,
}

impl core::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecvBatch").field("capacity", &self.data.len()).finish_non_exhaustive()
    }
}

// SAFETY: the raw pointers inside `iovs` and `hdrs` are scratch: every call rebuilds them to
// point into this batch's own heap buffers (or the caller's, for that call only) before the
// kernel sees them, and nothing dereferences them between calls. Moving the batch to another
// thread moves no pointed-to memory and leaves no other owner.
unsafe impl Send for RecvBatch {}
// SAFETY: as for `RecvBatch`: `send_many` rebuilds every iovec and header from `items` and the
// caller's buffer on each call; stale pointers from a previous call are never read.
unsafe impl Send for SendBatch {}

impl RecvBatch {
    /// Room for `capacity` messages of up to `size` bytes each (64 KiB for GRO runs).
    pub fn new(capacity: usize, size: usize) -> RecvBatch {
        let capacity = capacity.max(1);
        RecvBatch {
            data: (0..capacity).map(|_| vec![0; size]).collect(),
            control: vec![Control([0; RECV_CONTROL_LEN]); capacity],
            addrs: (0..capacity).map(|_| SockAddrStorage::zeroed()).collect(),
            iovs: vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; capacity],
            // SAFETY: mmsghdr is plain data; zero is a valid value.
            hdrs: (0..capacity).map(|_| unsafe { zeroed() }).collect(),
            messages: Vec::with_capacity(capacity),
        }
    }

    /// Messages received by the last call.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when the last call received nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The buffer of message `i` (its first `len` bytes are the message).
    pub(crate) fn buffer_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.data[i]
    }
}

/// Receives up to the batch's capacity of messages in one call (at least one, or an error:
/// `WouldBlock` when none is waiting).
pub(crate) fn recv_many(socket: &UdpSocket, batch: &mut RecvBatch) -> io::Result<usize> {
    let n = batch.data.len();
    let RecvBatch { data, control, addrs, iovs, hdrs, .. } = batch;
    for i in 0..n {
        iovs[i] = libc::iovec { iov_base: data[i].as_mut_ptr().cast(), iov_len: data[i].len() };
        let hdr = &mut hdrs[i];
        hdr.msg_len = 0;
        hdr.msg_hdr.msg_namelen = addrs[i].size_of();
        hdr.msg_hdr.msg_name = (&mut addrs[i] as *mut SockAddrStorage).cast();
        hdr.msg_hdr.msg_iov = &mut iovs[i];
        hdr.msg_hdr.msg_iovlen = 1;
        hdr.msg_hdr.msg_control = control[i].0.as_mut_ptr().cast();
        hdr.msg_hdr.msg_controllen = RECV_CONTROL_LEN as _;
        hdr.msg_hdr.msg_flags = 0;
    }
    // SAFETY: every pointer in `hdrs` was just set to buffers owned by `batch` (data, control,
    // addrs, iovs), alive and unmoved for the call; the kernel writes within the lengths given.
    let rc =
        unsafe { libc::recvmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    batch.messages.clear();
    for (i, hdr) in batch.hdrs.iter().enumerate().take(rc as usize) {
        let len = (hdr.msg_len as usize).min(batch.data[i].len());
        // `msg_controllen` is a `size_t` with glibc and a `socklen_t` with musl.
        #[allow(clippy::unnecessary_cast)]
        let control_len = (hdr.msg_hdr.msg_controllen as usize).min(RECV_CONTROL_LEN);
        let arrival = pktinfo::decode(&batch.control[i].0[..control_len]);
        let storage = std::mem::replace(&mut batch.addrs[i], SockAddrStorage::zeroed());
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into this storage
        // (zeroed before the call, so a short write leaves no uninitialised bytes).
        let from = unsafe { SockAddr::new(storage, hdr.msg_hdr.msg_namelen) }
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address"))?;
        batch.messages.push(Message { len, from, arrival });
    }
    Ok(batch.messages.len())
}

/// One message of a [`SendBatch`]: a range of the caller's buffer (a GSO batch when `segment`
/// is set), its destination and optional source address.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub range: Range<usize>,
    pub to: SocketAddr,
    pub source: Option<IpAddr>,
    pub segment: Option<u16>,
}

/// Messages to send with [`crate::udp::UdpSockets::send_many`], and the syscall's arrays,
/// reused from batch to batch so sending allocates nothing once warmed up.
pub struct SendBatch {
    pub(crate) items: Vec<Item>,
    addrs: Vec<SockAddr>,
    controls: Vec<Control<SEND_CONTROL_MAX>>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl core::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SendBatch").field("messages", &self.items.len()).finish_non_exhaustive()
    }
}

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch::new()
    }
}

impl SendBatch {
    /// An empty batch.
    pub fn new() -> SendBatch {
        SendBatch { items: Vec::new(), addrs: Vec::new(), controls: Vec::new(), iovs: Vec::new(), hdrs: Vec::new() }
    }

    /// Adds a message: `range` of the buffer later given to `send_many`, to `to`, from
    /// `source` if given, cut into `segment`-byte datagrams if given.
    pub fn push(&mut self, range: Range<usize>, to: SocketAddr, source: Option<IpAddr>, segment: Option<u16>) {
        self.items.push(Item { range, to, source, segment });
    }

    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the batch holds no message.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

/// Sends the batch's messages from `start` on in one call; returns how many the kernel took
/// (the rest, if any, failed at the first one not taken: the caller retries it alone to learn
/// why). Every message range must lie within `buf`.
pub(crate) fn send_many(socket: &UdpSocket, buf: &[u8], batch: &mut SendBatch, start: usize) -> io::Result<usize> {
    let SendBatch { items, addrs, controls, iovs, hdrs } = batch;
    let items = items.get(start..).unwrap_or_default();
    let n = items.len();
    if n == 0 {
        return Ok(0);
    }
    if items.iter().any(|m| m.range.end > buf.len() || m.range.start > m.range.end) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "message outside the buffer"));
    }
    addrs.clear();
    iovs.clear();
    if controls.len() < n {
        controls.resize(n, Control([0; SEND_CONTROL_MAX]));
    }
    // SAFETY: mmsghdr is plain data; zero is a valid starting value.
    hdrs.resize_with(n.max(hdrs.len()), || unsafe { zeroed() });
    for m in items {
        addrs.push(SockAddr::from(m.to));
        let bytes = &buf[m.range.clone()];
        iovs.push(libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() });
    }
    for (i, m) in items.iter().enumerate() {
        let control_len = pktinfo::encode_send_control(m.range.len(), m.source, m.segment, &mut controls[i].0);
        // SAFETY: as above, zero is a valid mmsghdr; start each message from a clean header.
        hdrs[i] = unsafe { zeroed() };
        let hdr = &mut hdrs[i].msg_hdr;
        // The kernel only reads the address of a send.
        hdr.msg_name = addrs[i].as_ptr().cast_mut().cast();
        hdr.msg_namelen = addrs[i].len();
        hdr.msg_iov = &mut iovs[i];
        hdr.msg_iovlen = 1;
        if control_len > 0 {
            hdr.msg_control = controls[i].0.as_mut_ptr().cast();
            hdr.msg_controllen = control_len as _;
        }
    }
    // SAFETY: every pointer in the first `n` headers refers to `buf` (ranges checked above) or
    // to the batch's own arrays, alive and unmoved for the call; the kernel only reads them.
    let rc = unsafe { libc::sendmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as usize)
}
