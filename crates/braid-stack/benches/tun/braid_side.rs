//! One bulk transfer between braid-stack on the TUN link and the kernel.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use braid_stack::iface::{Interface, InterfaceConfig};
use braid_stack::socket::SocketSet;
use braid_stack::tcp::{RecvError, Shutdown, TcpConfig};
use braid_stack::time::Instant;

use crate::link::TunLink;
use crate::{Direction, BUFFER, IDLE_CAP};

/// Connects from `local` to the kernel listening on `kernel`, moves `bytes` in `direction`, and
/// returns the time from connect to the kernel's FIN (upload: it read everything and closed;
/// download: the stack read everything up to the FIN).
pub fn transfer(
    link: &mut TunLink,
    local: IpAddr,
    kernel: SocketAddr,
    direction: Direction,
    bytes: u64,
    limit: Duration,
) -> Result<Duration, String> {
    let mut iface = Interface::new(InterfaceConfig::new([local]), &*link);
    let mut sockets = SocketSet::new(*b"braid-stack TUN benchmark secret");
    let tcp = TcpConfig { send_buffer_size: BUFFER, recv_buffer_size: BUFFER, ..TcpConfig::default() };
    let clock = std::time::Instant::now();
    let now = || Instant::from_duration(clock.elapsed());
    let handle = iface.tcp_connect(&mut sockets, now(), kernel, tcp).map_err(|e| format!("connect: {e}"))?;
    let data = vec![0x5au8; BUFFER];
    let mut sink = vec![0u8; BUFFER];
    let (mut sent, mut received, mut shut) = (0u64, 0u64, false);
    loop {
        iface.poll(now(), link, &mut sockets);
        let stream = sockets.tcp_stream(handle).ok_or("stream vanished")?;
        if direction == Direction::Upload {
            while sent < bytes {
                let n = stream.send(&data[..(bytes - sent).min(BUFFER as u64) as usize]).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                sent += n as u64;
            }
            if sent == bytes && !shut {
                stream.shutdown(Shutdown::Write);
                shut = true;
            }
        }
        loop {
            match stream.recv(&mut sink) {
                Ok(0) => break,
                Ok(n) => received += n as u64,
                Err(RecvError::Finished) => {
                    let expected = if direction == Direction::Download { bytes } else { 0 };
                    if received != expected {
                        return Err(format!("received {received} bytes, expected {expected}"));
                    }
                    return Ok(clock.elapsed());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if clock.elapsed() > limit {
            return Err(format!("not finished in {limit:?} (sent {sent}, received {received})"));
        }
        iface.poll(now(), link, &mut sockets);
        let delay = iface.poll_delay(now(), &sockets).unwrap_or(IDLE_CAP).min(IDLE_CAP);
        if !delay.is_zero() {
            link.wait(delay);
        }
    }
}
