//! `braid show [INTERFACE] [--json]`: what `wg show` prints, from the same UAPI `get`.

use super::uapi_client;
use crate::keys::{key_from_hex, key_to_base64};
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One peer as `get` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PeerState {
    /// Base64 public key.
    pub public_key: String,
    /// Whether a pre-shared key is set (its value is never shown).
    pub has_preshared_key: bool,
    /// `ip:port`.
    pub endpoint: Option<String>,
    /// Prefixes, as `addr/len`.
    pub allowed_ips: Vec<String>,
    /// Unix time of the last handshake.
    pub last_handshake: Option<Duration>,
    /// Bytes received (UDP payload).
    pub rx_bytes: u64,
    /// Bytes sent (UDP payload).
    pub tx_bytes: u64,
    /// Seconds; 0 when off.
    pub persistent_keepalive: u64,
    /// Keys `wg` does not know (braid's extras), shown verbatim.
    pub extra: Vec<(String, String)>,
}

/// The interface as `get` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    /// The interface name.
    pub name: String,
    /// Base64 public key, when a private key is set.
    pub public_key: Option<String>,
    /// The UDP port.
    pub listen_port: u16,
    /// The firewall mark (0 = off).
    pub fwmark: u32,
    /// The peers, in the daemon's order.
    pub peers: Vec<PeerState>,
    /// Keys `wg` does not know (braid's extras), shown verbatim.
    pub extra: Vec<(String, String)>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed get reply: {what}"))
}

/// Builds the state from the lines of a `get` reply.
pub fn parse_get(name: &str, lines: &[(String, String)]) -> io::Result<InterfaceState> {
    let mut state = InterfaceState { name: name.to_owned(), ..Default::default() };
    // The current peer's index in `state.peers`. braid's extended get lists a peer a second
    // time (its extras after the standard block): the same key continues the same peer.
    let mut current: Option<usize> = None;
    for (key, value) in lines {
        let num = || value.parse::<u64>().map_err(|_| bad(key));
        if key == "public_key" {
            let k = key_to_base64(&key_from_hex(value).map_err(|_| bad("public_key"))?);
            current = Some(match state.peers.iter().position(|p| p.public_key == k) {
                Some(i) => i,
                None => {
                    state.peers.push(PeerState { public_key: k, ..Default::default() });
                    state.peers.len() - 1
                }
            });
            continue;
        }
        if key.starts_with("braid_device_") {
            state.extra.push((key.clone(), value.clone()));
            continue;
        }
        let peer = current.and_then(|i| state.peers.get_mut(i));
        match (key.as_str(), peer) {
            ("private_key", None) => {
                let k = key_from_hex(value).map_err(|_| bad("private_key"))?;
                state.public_key = Some(key_to_base64(&crate::keys::pubkey(&crate::keys::SecretKey::new(k))));
            }
            ("listen_port", None) => state.listen_port = u16::try_from(num()?).map_err(|_| bad(key))?,
            ("fwmark", None) => state.fwmark = u32::try_from(num()?).map_err(|_| bad(key))?,
            ("preshared_key", Some(p)) => p.has_preshared_key = value.bytes().any(|b| b != b'0'),
            ("endpoint", Some(p)) => p.endpoint = Some(value.clone()),
            ("allowed_ip", Some(p)) => p.allowed_ips.push(value.clone()),
            ("last_handshake_time_sec", Some(p)) => {
                let secs = num()?;
                if secs != 0 {
                    p.last_handshake = Some(Duration::from_secs(secs) + p.last_handshake.unwrap_or_default());
                }
            }
            ("last_handshake_time_nsec", Some(p)) => {
                if let Some(t) = p.last_handshake.as_mut() {
                    *t += Duration::from_nanos(num()?);
                }
            }
            ("rx_bytes", Some(p)) => p.rx_bytes = num()?,
            ("tx_bytes", Some(p)) => p.tx_bytes = num()?,
            ("persistent_keepalive_interval", Some(p)) => p.persistent_keepalive = num()?,
            ("protocol_version", Some(_)) => {}
            (_, Some(p)) => p.extra.push((key.clone(), value.clone())),
            (_, None) => state.extra.push((key.clone(), value.clone())),
        }
    }
    Ok(state)
}

/// Asks a running daemon for its state.
pub fn query(interface: &str) -> io::Result<InterfaceState> {
    // braid's extended get first; a daemon that doesn't know it (wireguard-go) answers with an
    // error and closes, and then the standard get on a new connection does.
    let reply = match uapi_client::request(interface, "get=braid\n\n") {
        Ok(r) if r.errno == 0 => r,
        _ => uapi_client::request(interface, "get=1\n\n")?,
    };
    if reply.errno != 0 {
        return Err(io::Error::other(format!("get failed: errno={}", reply.errno)));
    }
    parse_get(interface, &reply.lines)
}

/// `1.50 MiB` style byte counts, as `wg show` prints them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

/// `1 minute, 5 seconds ago`, as `wg show` prints ages.
pub fn human_age(since: Duration, now: Duration) -> String {
    let secs = now.as_secs().saturating_sub(since.as_secs());
    if secs == 0 {
        return "Now".to_owned();
    }
    let parts = [(secs / 86400, "day"), (secs / 3600 % 24, "hour"), (secs / 60 % 60, "minute"), (secs % 60, "second")];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!("{} ago", words.join(", "))
}

/// `braid_drops_replay` → `drops replay`.
fn label(key: &str) -> String {
    let key = key.strip_prefix("braid_device_").or_else(|| key.strip_prefix("braid_")).unwrap_or(key);
    key.replace('_', " ")
}

/// The `wg show` text for one interface, with braid's extras at the end of each block.
pub fn render_text(state: &InterfaceState, now: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "interface: {}", state.name);
    if let Some(pk) = &state.public_key {
        let _ = writeln!(out, "  public key: {pk}\n  private key: (hidden)");
    }
    if state.listen_port != 0 {
        let _ = writeln!(out, "  listening port: {}", state.listen_port);
    }
    if state.fwmark != 0 {
        let _ = writeln!(out, "  fwmark: 0x{:x}", state.fwmark);
    }
    for (k, v) in &state.extra {
        let _ = writeln!(out, "  {}: {v}", label(k));
    }
    for p in &state.peers {
        let _ = writeln!(out, "\npeer: {}", p.public_key);
        if p.has_preshared_key {
            let _ = writeln!(out, "  preshared key: (hidden)");
        }
        if let Some(e) = &p.endpoint {
            let _ = writeln!(out, "  endpoint: {e}");
        }
        let ips = if p.allowed_ips.is_empty() { "(none)".to_owned() } else { p.allowed_ips.join(", ") };
        let _ = writeln!(out, "  allowed ips: {ips}");
        if let Some(t) = p.last_handshake {
            let _ = writeln!(out, "  latest handshake: {}", human_age(t, now));
        }
        if p.rx_bytes != 0 || p.tx_bytes != 0 {
            let _ = writeln!(out, "  transfer: {} received, {} sent", human_bytes(p.rx_bytes), human_bytes(p.tx_bytes));
        }
        if p.persistent_keepalive != 0 {
            let _ = writeln!(out, "  persistent keepalive: every {} seconds", p.persistent_keepalive);
        }
        for (k, v) in &p.extra {
            let _ = writeln!(out, "  {}: {v}", label(k));
        }
    }
    out
}

/// The same information as JSON (for scripts and monitoring).
pub fn render_json(state: &InterfaceState) -> serde_json::Value {
    let peers: Vec<serde_json::Value> = state
        .peers
        .iter()
        .map(|p| {
            let mut v = serde_json::json!({
                "public_key": p.public_key,
                "preshared_key": p.has_preshared_key,
                "endpoint": p.endpoint,
                "allowed_ips": p.allowed_ips,
                "latest_handshake": p.last_handshake.map(|d| d.as_secs()),
                "rx_bytes": p.rx_bytes,
                "tx_bytes": p.tx_bytes,
                "persistent_keepalive": p.persistent_keepalive,
            });
            for (k, val) in &p.extra {
                v[k] = serde_json::Value::String(val.clone());
            }
            v
        })
        .collect();
    let mut v = serde_json::json!({
        "interface": state.name,
        "public_key": state.public_key,
        "listen_port": state.listen_port,
        "fwmark": state.fwmark,
        "peers": peers,
    });
    for (k, val) in &state.extra {
        v[k] = serde_json::Value::String(val.clone());
    }
    v
}

/// Interfaces with a control socket (live or stale).
pub fn list_interfaces() -> Vec<String> {
    let mut names: Vec<String> = crate::daemon::uapi_socket::socket_dirs()
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".sock")).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs `braid show`.
pub fn run(interface: Option<&str>, json: bool) -> io::Result<String> {
    let names = match interface {
        Some(i) => vec![i.to_owned()],
        None => list_interfaces(),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut states = Vec::new();
    for name in &names {
        match query(name) {
            Ok(s) => states.push(s),
            Err(e) if interface.is_some() => return Err(e),
            Err(_) => {} // a stale socket among many: skip it, as wg does
        }
    }
    if json {
        let v: Vec<serde_json::Value> = states.iter().map(render_json).collect();
        return Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n");
    }
    Ok(states.iter().map(|s| render_text(s, now)).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(String, String)> {
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    #[test]
    fn parses_and_renders_a_get_reply_like_wg_show() {
        let reply = "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n\
listen_port=51820\n\
public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n\
preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n\
protocol_version=1\n\
endpoint=198.18.0.2:51820\n\
last_handshake_time_sec=1700000000\n\
last_handshake_time_nsec=5\n\
tx_bytes=1536\n\
rx_bytes=2097152\n\
persistent_keepalive_interval=25\n\
allowed_ip=198.19.0.2/32\n\
allowed_ip=fd00::2/128\n";
        let s = parse_get("wg0", &lines(reply)).unwrap();
        assert_eq!(s.listen_port, 51820);
        assert_eq!(s.peers.len(), 1);
        let p = &s.peers[0];
        assert!(!p.has_preshared_key, "all-zero psk means none");
        assert_eq!(p.last_handshake, Some(Duration::new(1_700_000_000, 5)));
        let text = render_text(&s, Duration::from_secs(1_700_000_065));
        assert!(text.contains("listening port: 51820"), "{text}");
        assert!(text.contains("allowed ips: 198.19.0.2/32, fd00::2/128"), "{text}");
        assert!(text.contains("latest handshake: 1 minute, 5 seconds ago"), "{text}");
        assert!(text.contains("transfer: 2.00 MiB received, 1.50 KiB sent"), "{text}");
        assert!(text.contains("persistent keepalive: every 25 seconds"), "{text}");
        assert!(!text.contains("e84b5a6d"), "never print the private key");
        let json = render_json(&s);
        assert_eq!(json["peers"][0]["rx_bytes"], 2097152);
    }

    #[test]
    fn braid_extras_join_their_peer_and_read_plainly() {
        let reply = "listen_port=1\n\
public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n\
rx_bytes=5\n\
braid_device_drops_replay=3\n\
public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n\
braid_sessions=2\n";
        let s = parse_get("wg0", &lines(reply)).unwrap();
        assert_eq!(s.peers.len(), 1, "the second block continues the first peer");
        assert_eq!(s.peers[0].rx_bytes, 5);
        assert_eq!(s.peers[0].extra, vec![("braid_sessions".to_owned(), "2".to_owned())]);
        let text = render_text(&s, Duration::ZERO);
        assert!(text.contains("  sessions: 2"), "{text}");
        assert_eq!(s.extra, vec![("braid_device_drops_replay".to_owned(), "3".to_owned())]);
        assert!(text.contains("  drops replay: 3"), "{text}");
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(parse_get("x", &lines("public_key=zz\n")).is_err());
        assert!(parse_get("x", &lines("listen_port=99999\n")).is_err());
    }

    #[test]
    fn ages_and_sizes_read_like_wg() {
        assert_eq!(human_age(Duration::from_secs(10), Duration::from_secs(10)), "Now");
        assert_eq!(human_age(Duration::ZERO, Duration::from_secs(90061)), "1 day, 1 hour, 1 minute, 1 second ago");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
    }
}
