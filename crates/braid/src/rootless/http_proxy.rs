//! An HTTP CONNECT proxy into the tunnel (what browsers and `curl --proxy` speak), with the
//! same optional username/password as the SOCKS5 proxy (`Proxy-Authorization: Basic`).
//! Only CONNECT is served: other methods get `405`.

use super::socks5::Credentials;
use super::spec::{Host, Target};
use super::splice::{splice, ForwardStats};
use super::Context;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The longest request head accepted.
const MAX_HEAD: usize = 8192;
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the proxy on `listen`; returns the address bound.
pub fn start(
    listen: SocketAddr,
    context: Context,
    stats: Arc<ForwardStats>,
    auth: Option<Credentials>,
) -> io::Result<SocketAddr> {
    super::serve_proxy(listen, "HTTP CONNECT", "braid-http", context, stats, auth, serve)
}

/// What a request head asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// `CONNECT target`, with the credentials it carried (user, password).
    Connect(Target, Option<(Vec<u8>, Vec<u8>)>),
    /// Another method: answered 405.
    OtherMethod,
    /// Not an HTTP/1 request head.
    Malformed,
}

/// Parses a request head (up to and without the blank line).
pub fn parse_head(head: &[u8]) -> Head {
    let Ok(text) = core::str::from_utf8(head) else { return Head::Malformed };
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) = (first.next(), first.next(), first.next(), first.next())
    else {
        return Head::Malformed;
    };
    if !version.starts_with("HTTP/1.") {
        return Head::Malformed;
    }
    if method != "CONNECT" {
        return Head::OtherMethod;
    }
    let Some(target) = parse_authority(target) else { return Head::Malformed };
    let mut credentials = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.trim().eq_ignore_ascii_case("proxy-authorization") {
            let value = value.trim();
            if let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) {
                if let Some(decoded) = base64_decode(encoded.trim()) {
                    if let Some(colon) = decoded.iter().position(|&b| b == b':') {
                        credentials = Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()));
                    }
                }
            }
        }
    }
    Head::Connect(target, credentials)
}

/// `host:port` or `[v6]:port`.
fn parse_authority(text: &str) -> Option<Target> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        (Host::Ip(host.parse().ok()?), port)
    } else {
        let (host, port) = text.rsplit_once(':')?;
        match host.parse() {
            Ok(ip) => (Host::Ip(ip), port),
            Err(_) if super::resolver::is_host_name(host) => (Host::Name(host.to_ascii_lowercase()), port),
            Err(_) => return None,
        }
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    Some(Target { host, port })
}

/// Standard base64 (with or without padding); `None` if it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn serve(
    mut client: TcpStream,
    context: &Context,
    stats: &Arc<ForwardStats>,
    auth: Option<&Credentials>,
) -> io::Result<()> {
    client.set_read_timeout(Some(HEAD_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            client.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n")?;
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the request head ended"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (target, credentials) = match parse_head(&buf[..end]) {
        Head::Connect(target, credentials) => (target, credentials),
        Head::OtherMethod => {
            client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
        Head::Malformed => {
            client.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")?;
            return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed request head"));
        }
    };
    if let Some(auth) = auth {
        let ok = credentials.as_ref().is_some_and(|(u, p)| auth.matches(u, p));
        if !ok {
            client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"braid\"\r\nConnection: close\r\n\r\n",
            )?;
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "proxy authentication failed"));
        }
    }
    let tunnel = match context.connect(&target) {
        Ok(t) => t,
        Err(e) => {
            let status = match e.kind() {
                io::ErrorKind::TimedOut => "504 Gateway Timeout",
                _ => "502 Bad Gateway",
            };
            client.write_all(format!("HTTP/1.1 {status}\r\nConnection: close\r\n\r\n").as_bytes())?;
            return Err(io::Error::new(e.kind(), format!("CONNECT {target}: {e}")));
        }
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    // Bytes the client sent after its head (a TLS hello, say) go first.
    let early = &buf[end + 4..];
    if !early.is_empty() {
        (&tunnel).write_all(early)?;
        stats.bytes_out.fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    client.set_read_timeout(None)?;
    splice(client, tunnel, stats, &context.connections);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let h = parse_head(b"CONNECT web.internal:443 HTTP/1.1\r\nHost: web.internal:443");
        assert_eq!(h, Head::Connect(Target { host: Host::Name("web.internal".into()), port: 443 }, None));
        let h = parse_head(b"CONNECT [fd00:19::2]:80 HTTP/1.0\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0");
        let Head::Connect(target, Some((user, password))) = h else { panic!("{h:?}") };
        assert_eq!(target.to_string(), "[fd00:19::2]:80");
        assert_eq!((user.as_slice(), password.as_slice()), (&b"alice"[..], &b"s3cret"[..]));
        assert_eq!(parse_head(b"GET / HTTP/1.1"), Head::OtherMethod);
        for bad in
            [&b"CONNECT x HTTP/1.1"[..], b"CONNECT a:0 HTTP/1.1", b"CONNECT a:80 SPDY/3", b"\xff\xfe", b"CONNECT a:80"]
        {
            assert_eq!(parse_head(bad), Head::Malformed, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("YWxpY2U6czNjcmV0").unwrap(), b"alice:s3cret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
    }
}
