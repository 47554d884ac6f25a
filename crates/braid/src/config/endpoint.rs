//! A peer's `Endpoint` as written in a config file: a host (an IP address or a DNS name,
//! kept unresolved) and a port. Resolution is a separate, explicit step, so parsing a file
//! never blocks on DNS and tests never touch the network.

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use std::io;
use std::net::ToSocketAddrs;

/// `host:port`, `[v6]:port` or `name:port`, unresolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EndpointSpec {
    /// An IP address or a host name, without the brackets of an IPv6 literal.
    pub host: String,
    /// The UDP port.
    pub port: u16,
}

impl EndpointSpec {
    /// The address without DNS, when the host is an IP literal.
    pub fn literal(&self) -> Option<SocketAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, self.port))
    }

    /// The address to use: the literal, or the first address the system resolver returns
    /// for the name (as `wg` takes the first `getaddrinfo` result). Blocks on DNS for names.
    pub fn resolve(&self) -> io::Result<SocketAddr> {
        if let Some(addr) = self.literal() {
            return Ok(addr);
        }
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name has no addresses"))
    }
}

impl fmt::Display for EndpointSpec {
    /// Back in config-file form, IPv6 literals in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// Parses `host:port` or `[v6]:port` (a zone like `[fe80::1%eth0]:51820` is kept for the
/// resolver). An IPv6 address must be in brackets: `fd00::1:51820` is ambiguous.
pub(crate) fn parse_endpoint_spec(text: &str) -> Result<EndpointSpec, String> {
    let bad = || format!("expected host:port or [IPv6]:port, found `{text}`");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = after.strip_prefix(':').ok_or_else(bad)?;
        let address = host.split('%').next().unwrap_or_default();
        if !host.contains(':') || address.parse::<core::net::Ipv6Addr>().is_err() {
            return Err(format!("`{host}` in brackets is not an IPv6 address"));
        }
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        if host.contains(':') {
            return Err(format!("an IPv6 endpoint must be written [address]:port, found `{text}`"));
        }
        if !is_host_name(host) {
            return Err(format!("`{host}` is neither an IP address nor a host name"));
        }
        (host, port)
    };
    let port = crate::uapi::parse_decimal(port, u64::from(u16::MAX))
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("`{port}` is not a port number (0-65535)"))?;
    Ok(EndpointSpec { host: host.to_owned(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str, port: u16) -> EndpointSpec {
        EndpointSpec { host: host.to_owned(), port }
    }

    #[test]
    fn parses_the_forms_wg_accepts() {
        assert_eq!(parse_endpoint_spec("192.0.2.1:51820"), Ok(spec("192.0.2.1", 51820)));
        assert_eq!(parse_endpoint_spec("[2001:db8::1]:51820"), Ok(spec("2001:db8::1", 51820)));
        assert_eq!(parse_endpoint_spec("[fe80::1%eth0]:51820"), Ok(spec("fe80::1%eth0", 51820)));
        assert_eq!(parse_endpoint_spec("vpn.example.com:443"), Ok(spec("vpn.example.com", 443)));
    }

    #[test]
    fn rejects_malformed_endpoints() {
        for bad in [
            "",
            "192.0.2.1",
            "192.0.2.1:",
            "192.0.2.1:65536",
            "192.0.2.1:+1",
            ":51820",
            "2001:db8::1:51820",
            "[2001:db8::1]",
            "[2001:db8::1]51820",
            "[2001:db8::1:51820",
            "[192.0.2.1]:51820",
            "[]:1",
            "bad host:1",
            "a/b:1",
        ] {
            assert!(parse_endpoint_spec(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literals_resolve_without_dns() {
        assert_eq!(spec("192.0.2.1", 5).literal(), Some("192.0.2.1:5".parse().unwrap()));
        assert_eq!(spec("2001:db8::1", 5).resolve().unwrap(), "[2001:db8::1]:5".parse().unwrap());
        assert_eq!(spec("vpn.example.com", 5).literal(), None);
        // "localhost" resolves from /etc/hosts, not the network.
        assert!(spec("localhost", 5).resolve().unwrap().ip().is_loopback());
    }

    #[test]
    fn displays_in_config_form() {
        assert_eq!(spec("2001:db8::1", 5).to_string(), "[2001:db8::1]:5");
        assert_eq!(spec("vpn.example.com", 5).to_string(), "vpn.example.com:5");
    }
}
