//! The forward specifications of `braid forward`, as ssh writes them:
//! `-L [bind:]port:host:port`, `-U [bind:]port:host:port`, `-R port:host:port`. IPv6 addresses
//! go in brackets (`[::1]:8080:[fd00::2]:80`); the far host may be a name, resolved when a
//! connection needs it.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A host to reach: an address, or a name to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name (resolved through the tunnel's DNS server for the tunnel side, by the
    /// system for the local side).
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A host and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// One forward: where it listens and where it leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardSpec {
    /// Where to listen: a local address for `-L`/`-U`; for `-R`, a port on the tunnel's own
    /// addresses (the address part is unspecified: all of them).
    pub listen: SocketAddr,
    /// Where each connection (or datagram) goes: through the tunnel for `-L`/`-U`, to this
    /// host for `-R`.
    pub target: Target,
}

impl fmt::Display for ForwardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.listen, self.target)
    }
}

/// Why a forward specification was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{spec}`: {problem} (expected {expected})")]
pub struct SpecError {
    spec: String,
    problem: String,
    expected: &'static str,
}

const LOCAL_FORM: &str = "[bind:]port:host:port";
const REMOTE_FORM: &str = "port:host:port";

/// Parses `-L`/`-U`'s `[bind:]port:host:port`; the bind address defaults to 127.0.0.1.
pub fn parse_local(spec: &str) -> Result<ForwardSpec, SpecError> {
    let fail = |problem: String| SpecError { spec: spec.to_owned(), problem, expected: LOCAL_FORM };
    let parts = split(spec).map_err(fail)?;
    let (bind, port, host, target_port) = match parts.as_slice() {
        [port, host, target_port] => (IpAddr::V4(Ipv4Addr::LOCALHOST), *port, *host, *target_port),
        [bind, port, host, target_port] => {
            let bind = bind.parse::<IpAddr>().map_err(|_| fail(format!("`{bind}` is not an IP address to bind")))?;
            (bind, *port, *host, *target_port)
        }
        _ => return Err(fail(format!("{} fields", parts.len()))),
    };
    Ok(ForwardSpec {
        listen: SocketAddr::new(bind, parse_port(port).map_err(fail)?),
        target: Target { host: parse_host(host).map_err(fail)?, port: nonzero_port(target_port).map_err(fail)? },
    })
}

/// Parses `-R`'s `port:host:port`: a port on the tunnel's addresses, and a host to reach from
/// here.
pub fn parse_remote(spec: &str) -> Result<ForwardSpec, SpecError> {
    let fail = |problem: String| SpecError { spec: spec.to_owned(), problem, expected: REMOTE_FORM };
    let parts = split(spec).map_err(fail)?;
    let [port, host, target_port] = parts.as_slice() else {
        return Err(fail(format!("{} fields", parts.len())));
    };
    Ok(ForwardSpec {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), nonzero_port(port).map_err(fail)?),
        target: Target { host: parse_host(host).map_err(fail)?, port: nonzero_port(target_port).map_err(fail)? },
    })
}

/// Splits on `:` outside brackets; bracketed fields lose their brackets.
fn split(spec: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut rest = spec;
    loop {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').ok_or("an unclosed `[`")?;
            parts.push(&inner[..end]);
            rest = &inner[end + 1..];
            if rest.is_empty() {
                return Ok(parts);
            }
            rest = rest.strip_prefix(':').ok_or("`]` not followed by `:`")?;
        } else if let Some(at) = rest.find(':') {
            parts.push(&rest[..at]);
            rest = &rest[at + 1..];
        } else {
            parts.push(rest);
            return Ok(parts);
        }
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>().map_err(|_| format!("`{text}` is not a port (0-65535)"))
}

fn nonzero_port(text: &str) -> Result<u16, String> {
    match parse_port(text)? {
        0 => Err("port 0 cannot be reached".to_owned()),
        port => Ok(port),
    }
}

fn parse_host(text: &str) -> Result<Host, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if super::resolver::is_host_name(text) {
        return Ok(Host::Name(text.to_ascii_lowercase()));
    }
    Err(format!("`{text}` is neither an IP address nor a host name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn local_forms() {
        let f = parse_local("8080:198.19.0.2:80").unwrap();
        assert_eq!(f.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(f.target, Target { host: Host::Ip(ip("198.19.0.2")), port: 80 });
        let f = parse_local("0.0.0.0:0:web.internal:443").unwrap();
        assert_eq!(f.listen, "0.0.0.0:0".parse().unwrap(), "port 0: any free port");
        assert_eq!(f.target.host, Host::Name("web.internal".into()));
        let f = parse_local("[::1]:8080:[fd00:19::2]:80").unwrap();
        assert_eq!(f.listen, "[::1]:8080".parse().unwrap());
        assert_eq!(f.target, Target { host: Host::Ip(ip("fd00:19::2")), port: 80 });
        assert_eq!(f.to_string(), "[::1]:8080 -> [fd00:19::2]:80");
    }

    #[test]
    fn remote_form() {
        let f = parse_remote("8000:127.0.0.1:80").unwrap();
        assert_eq!(f.listen.port(), 8000);
        assert_eq!(f.target, Target { host: Host::Ip(ip("127.0.0.1")), port: 80 });
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("8080", "1 fields"),
            ("8080:host", "2 fields"),
            ("a:b:c:d:e", "5 fields"),
            ("70000:h:80", "not a port"),
            ("8080:h:0", "port 0"),
            ("8080:h:x", "not a port"),
            ("nothere:8080:h:80", "not an IP address to bind"),
            ("8080:bad_name!:80", "neither an IP address nor a host name"),
            ("[::1:8080:h:80", "unclosed"),
            ("[::1]8080:h:80", "not followed"),
            ("", "1 fields"),
        ] {
            let e = parse_local(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
        }
        assert!(parse_remote("1:2:3:4").unwrap_err().to_string().contains("port:host:port"));
        assert!(parse_remote("0:h:80").is_err());
    }
}
