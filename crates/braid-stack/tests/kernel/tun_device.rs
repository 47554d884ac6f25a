//! A [`IpLink`] over a Linux TUN file descriptor, and a wall clock for the stack.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::time::Duration;

use braid_io::Tun;
use braid_stack::link::{IpLink, TransmitError};
use braid_stack::time::Instant;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

/// The TUN device the stack runs over, with a poller to sleep until it is readable.
pub struct TunDevice {
    tun: Tun,
    mtu: usize,
    poll: Poll,
    events: Events,
    /// Packets the kernel refused (`EAGAIN`/`ENOBUFS`).
    pub tx_refused: u64,
}

impl TunDevice {
    pub fn new(tun: Tun, mtu: usize) -> std::io::Result<TunDevice> {
        let poll = Poll::new()?;
        poll.registry().register(&mut SourceFd(&tun.as_raw_fd()), Token(0), Interest::READABLE)?;
        Ok(TunDevice { tun, mtu, poll, events: Events::with_capacity(4), tx_refused: 0 })
    }

    /// Sleeps until the kernel has a packet for us or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) {
        let _ = self.poll.poll(&mut self.events, Some(timeout));
    }
}

impl IpLink for TunDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        loop {
            match self.tun.recv(buf) {
                Ok(len) => return Some(len),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }

    fn can_transmit(&mut self, _now: Instant) -> bool {
        true
    }

    fn transmit(&mut self, _now: Instant, packet: &[u8]) -> Result<(), TransmitError> {
        match self.tun.send(packet) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.tx_refused += 1;
                Err(TransmitError::Full)
            }
            Err(_) => {
                self.tx_refused += 1;
                Err(TransmitError::Failed)
            }
        }
    }
}

/// Maps the wall clock onto the stack's nanosecond instants.
pub struct Clock(std::time::Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(std::time::Instant::now())
    }

    pub fn now(&self) -> Instant {
        Instant::from_duration(self.0.elapsed())
    }
}
