//! A SOCKS5 proxy (RFC 1928) into the tunnel: CONNECT and UDP ASSOCIATE, IPv4, IPv6 and
//! domain names (resolved through the tunnel's DNS), with optional username/password
//! authentication (RFC 1929).
//!
//! Everything a client sends is checked before it is acted on; a malformed or refused request
//! gets the protocol's error reply and the connection is closed.

use super::spec::{Host, Target};
use super::splice::{splice, ForwardStats};
use super::{spawn_small, Context};
use crate::net::UdpSocket as TunnelSocket;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a client may take over its greeting and request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 1;
const CMD_UDP_ASSOCIATE: u8 = 3;
const ATYP_V4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_V6: u8 = 4;

/// RFC 1928 reply codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reply {
    /// Succeeded.
    Ok = 0,
    /// General failure.
    Failure = 1,
    /// Network unreachable.
    NetworkUnreachable = 3,
    /// Host unreachable (or its name did not resolve).
    HostUnreachable = 4,
    /// Connection refused.
    Refused = 5,
    /// Command not supported.
    CommandNotSupported = 7,
    /// Address type not supported.
    AddressTypeNotSupported = 8,
}

impl Reply {
    fn for_error(e: &io::Error) -> Reply {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Reply::Refused,
            io::ErrorKind::HostUnreachable | io::ErrorKind::TimedOut | io::ErrorKind::NotFound => {
                Reply::HostUnreachable
            }
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::AddrNotAvailable => Reply::NetworkUnreachable,
            _ => Reply::Failure,
        }
    }
}

/// A username and password every client must present.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: zeroize::Zeroizing<String>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

impl Credentials {
    /// Whether `user`/`password` match, in time that does not depend on where they differ.
    pub fn matches(&self, user: &[u8], password: &[u8]) -> bool {
        let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0;
        same(user, self.user.as_bytes()) & same(password, self.password.as_bytes())
    }
}

/// Starts the proxy on `listen`; returns the address bound.
pub fn start(
    listen: SocketAddr,
    context: Context,
    stats: Arc<ForwardStats>,
    auth: Option<Credentials>,
) -> io::Result<SocketAddr> {
    super::serve_proxy(listen, "SOCKS5", "braid-socks", context, stats, auth, serve)
}

fn protocol_error(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("SOCKS5: {what}"))
}

fn read_u8(s: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_bytes(s: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; len];
    s.read_exact(&mut v)?;
    Ok(v)
}

/// Negotiates the method (and authenticates); Ok once the client may send its request.
pub fn greet(client: &mut (impl Read + Write), auth: Option<&Credentials>) -> io::Result<()> {
    if read_u8(client)? != VERSION {
        return Err(protocol_error("not version 5"));
    }
    let count = read_u8(client)?;
    let methods = read_bytes(client, usize::from(count))?;
    let wanted = if auth.is_some() { USER_PASS } else { NO_AUTH };
    if !methods.contains(&wanted) {
        client.write_all(&[VERSION, NO_ACCEPTABLE])?;
        return Err(protocol_error("no acceptable authentication method"));
    }
    client.write_all(&[VERSION, wanted])?;
    if let Some(auth) = auth {
        // RFC 1929: version 1, user, password.
        if read_u8(client)? != 1 {
            return Err(protocol_error("bad authentication version"));
        }
        let ulen = read_u8(client)?;
        let user = read_bytes(client, usize::from(ulen))?;
        let plen = read_u8(client)?;
        let password = zeroize::Zeroizing::new(read_bytes(client, usize::from(plen))?);
        if !auth.matches(&user, &password) {
            client.write_all(&[1, 1])?;
            return Err(protocol_error("wrong user name or password"));
        }
        client.write_all(&[1, 0])?;
    }
    Ok(())
}

/// A request: the command and where it goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// CONNECT, BIND or UDP ASSOCIATE.
    pub command: u8,
    /// The destination (for UDP ASSOCIATE: where the client will send from, usually zeros).
    pub target: Target,
}

/// Reads a request; an unsupported address type is answered here.
pub fn read_request(client: &mut (impl Read + Write)) -> io::Result<Request> {
    let head = read_bytes(client, 3)?;
    if head[0] != VERSION {
        return Err(protocol_error("request not version 5"));
    }
    let host = match read_u8(client)? {
        ATYP_V4 => {
            let a = read_bytes(client, 4)?;
            Host::Ip(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        }
        ATYP_V6 => {
            let mut o = [0u8; 16];
            client.read_exact(&mut o)?;
            Host::Ip(IpAddr::V6(Ipv6Addr::from(o)))
        }
        ATYP_NAME => {
            let len = read_u8(client)?;
            let name = read_bytes(client, usize::from(len))?;
            let name = String::from_utf8(name).map_err(|_| protocol_error("a name that is not text"))?;
            match name.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) if super::resolver::is_host_name(&name) => Host::Name(name.to_ascii_lowercase()),
                Err(_) => {
                    send_reply(client, Reply::HostUnreachable, None)?;
                    return Err(protocol_error("not a host name"));
                }
            }
        }
        _ => {
            send_reply(client, Reply::AddressTypeNotSupported, None)?;
            return Err(protocol_error("unknown address type"));
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    Ok(Request { command: head[1], target: Target { host, port: u16::from_be_bytes(port) } })
}

/// Writes a reply with the bound address (zeros when there is none).
pub fn send_reply(client: &mut impl Write, reply: Reply, bound: Option<SocketAddr>) -> io::Result<()> {
    let mut out = vec![VERSION, reply as u8, 0];
    push_address(&mut out, bound.unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))));
    client.write_all(&out)
}

fn push_address(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(a) => {
            out.push(ATYP_V4);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(ATYP_V6);
            out.extend_from_slice(&a.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn serve(
    mut client: TcpStream,
    context: &Context,
    stats: &Arc<ForwardStats>,
    auth: Option<&Credentials>,
) -> io::Result<()> {
    client.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    client.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    greet(&mut client, auth)?;
    let request = read_request(&mut client)?;
    match request.command {
        CMD_CONNECT => match context.connect(&request.target) {
            Ok(tunnel) => {
                send_reply(&mut client, Reply::Ok, Some(tunnel.local_addr()))?;
                client.set_read_timeout(None)?;
                client.set_write_timeout(None)?;
                splice(client, tunnel, stats, &context.connections);
                Ok(())
            }
            Err(e) => {
                send_reply(&mut client, Reply::for_error(&e), None)?;
                Err(io::Error::new(e.kind(), format!("CONNECT {}: {e}", request.target)))
            }
        },
        CMD_UDP_ASSOCIATE => associate(client, context, stats),
        _ => {
            send_reply(&mut client, Reply::CommandNotSupported, None)?;
            Err(protocol_error("command not supported"))
        }
    }
}

/// UDP ASSOCIATE: a local UDP relay for this client, alive as long as its TCP connection.
fn associate(mut client: TcpStream, context: &Context, stats: &Arc<ForwardStats>) -> io::Result<()> {
    let client_ip = client.peer_addr()?.ip();
    let relay = Arc::new(UdpSocket::bind(SocketAddr::new(client.local_addr()?.ip(), 0))?);
    send_reply(&mut client, Reply::Ok, Some(relay.local_addr()?))?;
    relay.set_read_timeout(Some(Duration::from_millis(500)))?;
    let done = Arc::new(AtomicBool::new(false));
    let association = Arc::new(Association {
        context: context.clone(),
        relay: relay.clone(),
        client_ip,
        client_udp: Mutex::new(None),
        sockets: Mutex::new([None, None]),
        done: done.clone(),
        stats: stats.clone(),
    });
    stats.open.fetch_add(1, Ordering::Relaxed);
    let outbound = {
        let association = association.clone();
        std::thread::Builder::new()
            .name("braid-socks-udp".into())
            .stack_size(super::splice::COPY_THREAD_STACK)
            .spawn(move || association.client_to_tunnel())
    };
    // The association ends when the client closes its TCP connection (or the proxy stops).
    client.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut byte = [0u8; 64];
    loop {
        match client.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if context.connections.is_closing() {
            break;
        }
    }
    done.store(true, Ordering::Release);
    if let Ok(thread) = outbound {
        let _ = thread.join();
    }
    stats.open.fetch_sub(1, Ordering::Relaxed);
    Ok(())
}

struct Association {
    context: Context,
    relay: Arc<UdpSocket>,
    client_ip: IpAddr,
    /// Where the client sends from (learned from its first datagram).
    client_udp: Mutex<Option<SocketAddr>>,
    /// The tunnel sockets, IPv4 and IPv6, opened when first needed.
    sockets: Mutex<[Option<Arc<TunnelSocket>>; 2]>,
    done: Arc<AtomicBool>,
    stats: Arc<ForwardStats>,
}

impl Association {
    fn client_to_tunnel(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_535];
        while !self.done.load(Ordering::Acquire) {
            let Ok((n, from)) = self.relay.recv_from(&mut buf) else { continue };
            if from.ip() != self.client_ip {
                continue; // only the client that asked may use its relay
            }
            *self.client_udp.lock().unwrap_or_else(PoisonError::into_inner) = Some(from);
            let Some((target, payload)) = parse_udp_header(&buf[..n]) else { continue };
            let Ok(ips) = self.context.resolve(&target.host) else { continue };
            let Some(&ip) = ips.first() else { continue };
            let Some(socket) = self.socket_for(ip) else { continue };
            if socket.send_to(payload, SocketAddr::new(ip, target.port)).is_ok() {
                self.stats.bytes_out.fetch_add(payload.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// The tunnel socket of `ip`'s family, and its answering thread, opened on first use.
    fn socket_for(self: &Arc<Self>, ip: IpAddr) -> Option<Arc<TunnelSocket>> {
        let family = usize::from(ip.is_ipv6());
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = &sockets[family] {
            return Some(s.clone());
        }
        let any: IpAddr = if ip.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
        let socket = Arc::new(self.context.net.udp_bind(SocketAddr::new(any, 0)).ok()?);
        sockets[family] = Some(socket.clone());
        let (me, answers) = (self.clone(), socket.clone());
        let _ = spawn_small("braid-socks-udp", move || me.tunnel_to_client(&answers));
        Some(socket)
    }

    fn tunnel_to_client(&self, socket: &TunnelSocket) {
        let mut buf = vec![0u8; 65_535];
        let mut out = Vec::with_capacity(65_535 + 22);
        while !self.done.load(Ordering::Acquire) {
            let Ok((n, from)) = socket.recv_from_timeout(&mut buf, Duration::from_millis(500)) else { continue };
            let Some(client) = *self.client_udp.lock().unwrap_or_else(PoisonError::into_inner) else { continue };
            out.clear();
            out.extend_from_slice(&[0, 0, 0]);
            push_address(&mut out, from);
            out.extend_from_slice(&buf[..n]);
            if self.relay.send_to(&out, client).is_ok() {
                self.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// A client's UDP datagram: `RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA`. Fragments (FRAG ≠ 0)
/// are not supported and dropped, as most servers do.
pub fn parse_udp_header(datagram: &[u8]) -> Option<(Target, &[u8])> {
    let (&[0, 0, 0, atyp], rest) = datagram.split_first_chunk::<4>()? else { return None };
    let (host, rest) = match atyp {
        ATYP_V4 => {
            let (a, rest) = rest.split_first_chunk::<4>()?;
            (Host::Ip(IpAddr::V4(Ipv4Addr::from(*a))), rest)
        }
        ATYP_V6 => {
            let (a, rest) = rest.split_first_chunk::<16>()?;
            (Host::Ip(IpAddr::V6(Ipv6Addr::from(*a))), rest)
        }
        ATYP_NAME => {
            let (&len, rest) = rest.split_first()?;
            let name = core::str::from_utf8(rest.get(..usize::from(len))?).ok()?;
            if !super::resolver::is_host_name(name) {
                return None;
            }
            (Host::Name(name.to_ascii_lowercase()), &rest[usize::from(len)..])
        }
        _ => return None,
    };
    let (port, data) = rest.split_first_chunk::<2>()?;
    Some((Target { host, port: u16::from_be_bytes(*port) }, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A client's bytes in, the proxy's bytes out.
    struct Wire {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Wire {
        fn new(input: &[u8]) -> Wire {
            Wire { input: Cursor::new(input.to_vec()), output: Vec::new() }
        }
    }

    impl Read for Wire {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Wire {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn creds() -> Credentials {
        Credentials { user: "alice".into(), password: zeroize::Zeroizing::new("s3cret".into()) }
    }

    #[test]
    fn methods_and_authentication() {
        let mut w = Wire::new(&[5, 2, 0, 2]);
        greet(&mut w, None).unwrap();
        assert_eq!(w.output, [5, 0]);
        let mut w = Wire::new(&[5, 1, 2]);
        assert!(greet(&mut w, None).is_err());
        assert_eq!(w.output, [5, 0xff], "user/password offered, none configured: refused");
        let mut w = Wire::new(&[5, 1, 0]);
        assert!(greet(&mut w, Some(&creds())).is_err());
        assert_eq!(w.output, [5, 0xff], "authentication configured, the client offers none");
        let mut w = Wire::new(&[5, 1, 2, 1, 5, b'a', b'l', b'i', b'c', b'e', 6, b's', b'3', b'c', b'r', b'e', b't']);
        greet(&mut w, Some(&creds())).unwrap();
        assert_eq!(w.output, [5, 2, 1, 0]);
        let mut w = Wire::new(&[5, 1, 2, 1, 5, b'a', b'l', b'i', b'c', b'e', 6, b's', b'3', b'c', b'r', b'e', b'T']);
        assert!(greet(&mut w, Some(&creds())).is_err());
        assert_eq!(w.output, [5, 2, 1, 1]);
        assert!(greet(&mut Wire::new(&[4, 1, 0]), None).is_err(), "SOCKS4");
    }

    #[test]
    fn requests_of_every_address_type() {
        let r = read_request(&mut Wire::new(&[5, 1, 0, 1, 198, 19, 0, 2, 0, 80])).unwrap();
        assert_eq!(
            r,
            Request { command: 1, target: Target { host: Host::Ip("198.19.0.2".parse().unwrap()), port: 80 } }
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&"fd00:19::2".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[1, 187]);
        assert_eq!(read_request(&mut Wire::new(&v6)).unwrap().target.port, 443);
        let mut name = vec![5, 1, 0, 3, 12];
        name.extend_from_slice(b"Web.Internal");
        name.extend_from_slice(&[0, 80]);
        assert_eq!(read_request(&mut Wire::new(&name)).unwrap().target.host, Host::Name("web.internal".into()));
        let mut w = Wire::new(&[5, 1, 0, 9, 0, 0]);
        assert!(read_request(&mut w).is_err());
        assert_eq!(w.output[1], Reply::AddressTypeNotSupported as u8);
        let mut bad = vec![5, 1, 0, 3, 4];
        bad.extend_from_slice(b"a b!");
        bad.extend_from_slice(&[0, 80]);
        let mut w = Wire::new(&bad);
        assert!(read_request(&mut w).is_err());
        assert_eq!(w.output[1], Reply::HostUnreachable as u8);
        // Every truncation is an error, never a panic.
        for len in 0..v6.len() {
            assert!(read_request(&mut Wire::new(&v6[..len])).is_err());
        }
    }

    #[test]
    fn udp_headers() {
        let mut d = vec![0, 0, 0, 1, 198, 19, 0, 2, 0, 53];
        d.extend_from_slice(b"query");
        let (target, data) = parse_udp_header(&d).unwrap();
        assert_eq!(target.to_string(), "198.19.0.2:53");
        assert_eq!(data, b"query");
        let mut fragment = d.clone();
        fragment[2] = 1;
        assert!(parse_udp_header(&fragment).is_none(), "fragments are dropped");
        for len in 0..10 {
            assert!(parse_udp_header(&d[..len]).is_none());
        }
        let mut named = vec![0, 0, 0, 3, 3, b'd', b'n', b's', 0, 53];
        named.extend_from_slice(b"x");
        assert_eq!(parse_udp_header(&named).unwrap().0.host, Host::Name("dns".into()));
        named[4] = 200;
        assert!(parse_udp_header(&named).is_none());
    }
}
