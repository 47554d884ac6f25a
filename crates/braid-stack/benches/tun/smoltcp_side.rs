//! The same bulk transfer with smoltcp 0.12 on the same TUN link.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use crate::link::{SmolTun, TunLink};
use crate::{Direction, BUFFER, IDLE_CAP};

/// Like [`crate::braid_side::transfer`], from local port `port`.
pub fn transfer(
    link: &mut TunLink,
    local: IpAddr,
    port: u16,
    kernel: SocketAddr,
    direction: Direction,
    bytes: u64,
    limit: Duration,
) -> Result<Duration, String> {
    let mut device = SmolTun::new(link);
    let clock = std::time::Instant::now();
    let now = || smoltcp::time::Instant::from_micros(clock.elapsed().as_micros() as i64);
    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = 0x5eed;
    let mut iface = Interface::new(config, &mut device, now());
    let (IpAddr::V4(local), IpAddr::V4(kernel_ip)) = (local, kernel.ip()) else {
        return Err("the smoltcp build here is IPv4-only".into());
    };
    let local = IpAddress::from(local);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(local, 24));
    });
    let socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; BUFFER]), tcp::SocketBuffer::new(vec![0; BUFFER]));
    let mut sockets = SocketSet::new(vec![]);
    let handle = sockets.add(socket);
    let remote = (IpAddress::from(kernel_ip), kernel.port());
    sockets.get_mut::<tcp::Socket>(handle).connect(iface.context(), remote, port).map_err(|e| e.to_string())?;
    let data = vec![0x5au8; BUFFER];
    let mut sink = vec![0u8; BUFFER];
    let (mut sent, mut received, mut shut) = (0u64, 0u64, false);
    loop {
        iface.poll(now(), &mut device, &mut sockets);
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if direction == Direction::Upload {
            while sent < bytes && socket.can_send() {
                let n = socket
                    .send_slice(&data[..(bytes - sent).min(BUFFER as u64) as usize])
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                sent += n as u64;
            }
            if sent == bytes && !shut {
                socket.close();
                shut = true;
            }
        }
        while socket.can_recv() {
            received += socket.recv_slice(&mut sink).map_err(|e| e.to_string())? as u64;
        }
        // Past the handshake, `may_recv` turns false once the kernel's FIN has arrived.
        let connected = socket.state() != tcp::State::SynSent && socket.state() != tcp::State::Closed;
        if connected && !socket.may_recv() && !socket.can_recv() {
            let expected = if direction == Direction::Download { bytes } else { 0 };
            if received != expected {
                return Err(format!("received {received} bytes, expected {expected} (state {})", socket.state()));
            }
            return Ok(clock.elapsed());
        }
        if clock.elapsed() > limit {
            return Err(format!("not finished in {limit:?} (sent {sent}, received {received})"));
        }
        iface.poll(now(), &mut device, &mut sockets);
        let delay = iface
            .poll_delay(now(), &sockets)
            .map_or(IDLE_CAP, |d| Duration::from_micros(d.total_micros()))
            .min(IDLE_CAP);
        if !delay.is_zero() {
            device.link.wait(delay);
        }
    }
}
