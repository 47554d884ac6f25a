//! The one TUN device every run shares, seen as a braid-stack [`IpLink`] and as a smoltcp
//! `phy::Device`, so both stacks pay for exactly the same driver (`braid_io::Tun`, one `read` or
//! `write` system call per packet).

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::time::Duration;

use braid_io::Tun;
use braid_stack::link::{IpLink, TransmitError};
use braid_stack::time::Instant;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

/// A non-blocking TUN descriptor with a poller to sleep until the kernel has a packet for us.
pub struct TunLink {
    tun: Tun,
    mtu: usize,
    poll: Poll,
    events: Events,
    /// Packets read from and written to the descriptor (for the verbose report).
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl TunLink {
    pub fn new(tun: Tun, mtu: usize) -> std::io::Result<TunLink> {
        let poll = Poll::new()?;
        poll.registry().register(&mut SourceFd(&tun.as_raw_fd()), Token(0), Interest::READABLE)?;
        Ok(TunLink { tun, mtu, poll, events: Events::with_capacity(4), rx_packets: 0, tx_packets: 0 })
    }

    /// Follows a change of the link's MTU (made on the kernel's side with `ip link`).
    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = mtu;
    }

    /// The link MTU the stacks are told.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Sleeps until the TUN device is readable or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) {
        let _ = self.poll.poll(&mut self.events, Some(timeout));
    }

    /// Discards whatever the kernel left queued (retransmitted FINs of an earlier run).
    pub fn drain(&mut self) {
        let mut buf = vec![0u8; self.mtu];
        while self.tun.recv(&mut buf).is_ok() {}
    }

    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            match self.tun.recv(buf) {
                Ok(len) => {
                    self.rx_packets += 1;
                    return Some(len);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }
}

impl IpLink for TunLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.recv(buf)
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        true
    }

    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        match self.tun.send(packet) {
            Ok(_) => {
                self.tx_packets += 1;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Err(TransmitError::Full),
            Err(_) => Err(TransmitError::Failed),
        }
    }
}

/// smoltcp's view of the same link: one receive and one transmit buffer, allocated once.
pub struct SmolTun<'a> {
    pub link: &'a mut TunLink,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl<'a> SmolTun<'a> {
    pub fn new(link: &'a mut TunLink) -> SmolTun<'a> {
        let mtu = link.mtu;
        SmolTun { link, rx: vec![0; mtu], tx: vec![0; mtu] }
    }
}

pub struct SmolRx<'a>(&'a [u8]);

pub struct SmolTx<'a> {
    link: &'a mut TunLink,
    buf: &'a mut Vec<u8>,
}

impl smoltcp::phy::RxToken for SmolRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl smoltcp::phy::TxToken for SmolTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.buf.resize(len, 0);
        let result = f(&mut self.buf[..len]);
        // A refused packet is lost like on any link; TCP retransmits it.
        if self.link.tun.send(&self.buf[..len]).is_ok() {
            self.link.tx_packets += 1;
        }
        result
    }
}

impl smoltcp::phy::Device for SmolTun<'_> {
    type RxToken<'a>
        = SmolRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = SmolTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(SmolRx<'_>, SmolTx<'_>)> {
        let SmolTun { link, rx, tx } = self;
        let len = link.recv(rx)?;
        Some((SmolRx(&rx[..len]), SmolTx { link, buf: tx }))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<SmolTx<'_>> {
        Some(SmolTx { link: &mut *self.link, buf: &mut self.tx })
    }

    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = smoltcp::phy::Medium::Ip;
        caps.max_transmission_unit = self.link.mtu;
        caps
    }
}
