//! Names resolved through the tunnel: a small DNS client (RFC 1035) that asks the server the
//! config's `DNS =` names, over UDP through the tunnel's stack, so a name of the network behind
//! the peer resolves as it would there, and nothing leaks to the local resolver.
//!
//! Replies are input from the network: every length and offset is checked, compression
//! pointers may only point backwards, and a reply that does not answer our question (id,
//! name, type) is ignored.

use crate::net::NetStack;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::io;
use std::time::{Duration, Instant};

/// How long one query waits for its answer before it is sent again.
const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);
/// Attempts per server and question.
const ATTEMPTS: u32 = 3;
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// True for a name DNS can carry: 1–253 bytes, dot-separated labels of 1–63 letters, digits,
/// `-` or `_`, not starting or ending with `-`; an optional final dot.
pub fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// Why a name did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The config names no DNS server.
    #[error("cannot resolve `{0}`: the config has no `DNS =` server")]
    NoServer(String),
    /// Not a name DNS can carry.
    #[error("`{0}` is not a host name")]
    BadName(String),
    /// The server said the name does not exist, or has no address of the families we use.
    #[error("`{0}` has no address (the tunnel's DNS server says)")]
    NotFound(String),
    /// No server answered.
    #[error("no answer from the DNS server(s) {servers} for `{name}` through the tunnel")]
    NoAnswer {
        /// The name.
        name: String,
        /// The servers asked.
        servers: String,
    },
    /// The stack refused the query.
    #[error("cannot query DNS through the tunnel: {0}")]
    Io(#[from] io::Error),
}

/// Resolves names through the tunnel's DNS servers.
#[derive(Clone, Debug)]
pub struct Resolver {
    servers: Vec<IpAddr>,
    /// Which families the stack has addresses of: only those are asked for.
    v4: bool,
    v6: bool,
}

impl Resolver {
    /// A resolver asking `servers` (in order), for addresses of the families the stack's
    /// `addresses` have.
    pub fn new(servers: Vec<IpAddr>, addresses: &[IpAddr]) -> Resolver {
        Resolver { servers, v4: addresses.iter().any(IpAddr::is_ipv4), v6: addresses.iter().any(IpAddr::is_ipv6) }
    }

    /// The addresses of `name`: IPv4 first when the stack has IPv4, then IPv6.
    pub fn resolve(&self, net: &NetStack, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        if !is_host_name(name) {
            return Err(ResolveError::BadName(name.to_owned()));
        }
        if self.servers.is_empty() {
            return Err(ResolveError::NoServer(name.to_owned()));
        }
        let mut types = Vec::new();
        if self.v4 {
            types.push(TYPE_A);
        }
        if self.v6 {
            types.push(TYPE_AAAA);
        }
        let mut found = Vec::new();
        let mut answered = false;
        for qtype in types {
            if let Some(addresses) = self.query_any(net, name, qtype)? {
                answered = true;
                found.extend(addresses);
            }
            if !found.is_empty() {
                break;
            }
        }
        if found.is_empty() {
            return Err(if answered {
                ResolveError::NotFound(name.to_owned())
            } else {
                let servers = self.servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                ResolveError::NoAnswer { name: name.to_owned(), servers }
            });
        }
        Ok(found)
    }

    /// Asks each server in turn; `Some` once one answered (maybe with no address).
    fn query_any(&self, net: &NetStack, name: &str, qtype: u16) -> Result<Option<Vec<IpAddr>>, ResolveError> {
        let mut id_source = [0u8; 2];
        for server in &self.servers {
            let local = match server {
                IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            };
            let socket = net.udp_bind(local)?;
            let to = SocketAddr::new(*server, 53);
            for _ in 0..ATTEMPTS {
                getrandom(&mut id_source);
                let id = u16::from_be_bytes(id_source);
                let query = encode_query(id, name, qtype);
                socket.send_to(&query, to)?;
                let deadline = Instant::now() + QUERY_TIMEOUT;
                let mut buf = [0u8; 1500];
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    let (n, from) = match socket.recv_from_timeout(&mut buf, left) {
                        Ok(got) => got,
                        Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.into()),
                    };
                    if from != to {
                        continue;
                    }
                    if let Some(answer) = parse_reply(&buf[..n], id, name, qtype) {
                        return Ok(Some(answer));
                    }
                }
            }
        }
        Ok(None)
    }
}

fn getrandom(out: &mut [u8]) {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    rand_chacha::ChaCha20Rng::from_os_rng().fill_bytes(out);
}

/// A standard query for `name` (recursion desired).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

/// The addresses in a reply to our query (`id`, `name`, `qtype`), or `None` if it is not one
/// (or is malformed). A reply with an error code other than "no such name" is not an answer.
pub fn parse_reply(msg: &[u8], id: u16, name: &str, qtype: u16) -> Option<Vec<IpAddr>> {
    let header = msg.get(..12)?;
    if u16::from_be_bytes([header[0], header[1]]) != id || header[2] & 0x80 == 0 {
        return None;
    }
    let rcode = header[3] & 0x0f;
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    if qdcount != 1 {
        return None;
    }
    let mut at = 12;
    let (qname, next) = read_name(msg, at)?;
    at = next;
    let question = msg.get(at..at + 4)?;
    at += 4;
    let want = name.trim_end_matches('.');
    if !qname.eq_ignore_ascii_case(want) || u16::from_be_bytes([question[0], question[1]]) != qtype {
        return None;
    }
    match rcode {
        0 => {}
        3 => return Some(Vec::new()),
        _ => return None,
    }
    let mut found = Vec::new();
    for _ in 0..ancount {
        let (_, next) = read_name(msg, at)?;
        at = next;
        let fixed = msg.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        at += 10;
        let data = msg.get(at..at + len)?;
        at += len;
        if class != CLASS_IN || rtype != qtype {
            continue; // a CNAME on the way; its target's records follow
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => found.push(IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3]))),
            (TYPE_AAAA, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(data);
                found.push(IpAddr::V6(Ipv6Addr::from(octets)));
            }
            _ => return None,
        }
    }
    Some(found)
}

/// Reads a (possibly compressed) name at `at`; returns it dotted and the offset after it in
/// the message. Pointers must point strictly backwards, so every loop ends.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut limit = at;
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => {
                return Some((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, *msg.get(at + 1)?]));
                if target >= limit {
                    return None;
                }
                end.get_or_insert(at + 2);
                limit = target;
                at = target;
            }
            l if l & 0xc0 == 0 => {
                let label = msg.get(at + 1..at + 1 + usize::from(l))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(core::str::from_utf8(label).ok()?);
                if name.len() > 255 {
                    return None;
                }
                at += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a server writes it: the question echoed, then answers pointing back at it.
    fn reply(id: u16, name: &str, qtype: u16, rcode: u8, answers: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = encode_query(id, name, qtype);
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (rtype, data) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&CLASS_IN.to_be_bytes());
            m.extend_from_slice(&60u32.to_be_bytes());
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    #[test]
    fn names() {
        for good in ["web", "web.internal", "a-b.c_d.example.", "x1.y2"] {
            assert!(is_host_name(good), "{good}");
        }
        for bad in ["", ".", "a..b", "-a.b", "a-.b", "a b", "ä.b", &"a".repeat(64), &"a.".repeat(130)] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_reply_to_our_question_gives_its_addresses() {
        let m = reply(7, "web.internal", TYPE_A, 0, &[(TYPE_A, &[198, 19, 0, 2]), (TYPE_A, &[198, 19, 0, 3])]);
        let got = parse_reply(&m, 7, "web.internal", TYPE_A).unwrap();
        assert_eq!(got, vec![IpAddr::from([198, 19, 0, 2]), IpAddr::from([198, 19, 0, 3])]);
        let v6 = [0xfdu8, 0, 0, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let m = reply(8, "web.internal", TYPE_AAAA, 0, &[(5, b"\x03cdn\xc0\x0c"), (TYPE_AAAA, &v6)]);
        assert_eq!(parse_reply(&m, 8, "WEB.internal", TYPE_AAAA).unwrap(), vec![IpAddr::from(v6)], "a CNAME skipped");
        assert_eq!(parse_reply(&reply(9, "nx.internal", TYPE_A, 3, &[]), 9, "nx.internal", TYPE_A), Some(vec![]));
    }

    #[test]
    fn replies_to_other_questions_and_malformed_ones_are_ignored() {
        let m = reply(7, "web.internal", TYPE_A, 0, &[(TYPE_A, &[198, 19, 0, 2])]);
        assert_eq!(parse_reply(&m, 8, "web.internal", TYPE_A), None, "another id");
        assert_eq!(parse_reply(&m, 7, "other.internal", TYPE_A), None, "another name");
        assert_eq!(parse_reply(&m, 7, "web.internal", TYPE_AAAA), None, "another type");
        assert_eq!(parse_reply(&reply(7, "web.internal", TYPE_A, 2, &[]), 7, "web.internal", TYPE_A), None);
        let query = encode_query(7, "web.internal", TYPE_A);
        assert_eq!(parse_reply(&query, 7, "web.internal", TYPE_A), None, "a query, not a reply");
        // Every truncation, and a pointer loop, fail cleanly.
        for len in 0..m.len() {
            assert_eq!(parse_reply(&m[..len], 7, "web.internal", TYPE_A), None, "cut at {len}");
        }
        let mut looped = m.clone();
        let at = looped.len() - 16;
        looped[at..at + 2].copy_from_slice(&[0xc0, (at as u8)]);
        assert_eq!(parse_reply(&looped, 7, "web.internal", TYPE_A), None);
        let wrong_len = reply(7, "web.internal", TYPE_A, 0, &[(TYPE_A, &[1, 2, 3])]);
        assert_eq!(parse_reply(&wrong_len, 7, "web.internal", TYPE_A), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let base = reply(7, "web.internal", TYPE_A, 0, &[(TYPE_A, &[198, 19, 0, 2])]);
        for _ in 0..20_000 {
            let mut m = base.clone();
            let flips = 1 + rng.next_u32() as usize % 4;
            for _ in 0..flips {
                let i = rng.next_u32() as usize % m.len();
                m[i] = rng.next_u32() as u8;
            }
            let _ = parse_reply(&m, 7, "web.internal", TYPE_A);
        }
    }
}
