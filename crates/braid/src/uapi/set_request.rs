//! A UAPI `set` request, parsed and validated as a whole before anything is applied.
//!
//! Parsing is purely syntactic: it checks every key and value (hex keys, numbers, ports,
//! endpoints, prefixes) and records the operations in order. Whether a peer exists, or is the
//! device's own key, is decided when the request is applied, against the device as it is then
//! (see [`SetRequest::apply`]).

use super::values::{parse_endpoint, parse_prefix, parse_u16, parse_u32};
use super::Errno;
use crate::keys::{key_from_hex, SecretKey};
use braid_proto::crypto::PublicKey;
use core::net::{IpAddr, SocketAddr};

/// A device-wide operation, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceOp {
    /// `private_key=<hex>`; `None` for the all-zero key, which clears it.
    PrivateKey(Option<SecretKey>),
    /// `listen_port=N`.
    ListenPort(u16),
    /// `fwmark=N`.
    Fwmark(u32),
    /// `replace_peers=true`: remove every peer before the peer sections are applied.
    ReplacePeers,
}

/// An operation on the peer of the enclosing [`PeerSection`], in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerOp {
    /// `update_only=true`: if this section created the peer, undo that; lines that follow
    /// are then ignored.
    UpdateOnly,
    /// `remove=true`: remove the peer; lines that follow are ignored.
    Remove,
    /// `preshared_key=<hex>`; `None` for the all-zero key, which clears it.
    PresharedKey(Option<SecretKey>),
    /// `endpoint=ip:port`.
    Endpoint(SocketAddr),
    /// `persistent_keepalive_interval=N` in seconds (0 disables).
    PersistentKeepalive(u16),
    /// `replace_allowed_ips=true`: drop the peer's allowed IPs before the ones that follow.
    ReplaceAllowedIps,
    /// `allowed_ip=prefix`.
    AddAllowedIp(IpAddr, u8),
    /// `allowed_ip=-prefix`: remove that one prefix from the peer.
    RemoveAllowedIp(IpAddr, u8),
}

/// The lines from one `public_key=` to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSection {
    /// The peer the section is about (created unless `update_only` follows).
    pub public_key: PublicKey,
    /// What to do to it.
    pub ops: Vec<PeerOp>,
}

/// A complete, validated `set` request: nothing in it can fail to parse any more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetRequest {
    /// Lines before the first `public_key=`.
    pub device: Vec<DeviceOp>,
    /// One entry per `public_key=` line.
    pub peers: Vec<PeerSection>,
}

/// Builds a [`SetRequest`] line by line as the lines arrive, remembering only the first
/// error (the rest of the request is still read, so the connection stays in step).
#[derive(Debug, Default)]
pub struct SetRequestParser {
    request: SetRequest,
    error: Option<Errno>,
}

impl SetRequestParser {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line (without its `\n`; a trailing `\r` is dropped as Go's line scanner
    /// drops it). Must not be the blank line that ends the request.
    pub fn push_line(&mut self, line: &str) {
        if self.error.is_some() {
            return;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Err(errno) = self.parse_line(line) {
            self.error = Some(errno);
        }
    }

    /// Marks the request as invalid (a line that is not even text) unless it already is.
    pub fn reject(&mut self, errno: Errno) {
        self.error.get_or_insert(errno);
    }

    /// The request, or the first error in it.
    pub fn finish(self) -> Result<SetRequest, Errno> {
        match self.error {
            Some(errno) => Err(errno),
            None => Ok(self.request),
        }
    }

    fn parse_line(&mut self, line: &str) -> Result<(), Errno> {
        let (key, value) = line.split_once('=').ok_or(Errno::EPROTO)?;
        if key == "public_key" {
            let public_key = PublicKey(key_from_hex(value).map_err(|_| Errno::EINVAL)?);
            self.request.peers.push(PeerSection { public_key, ops: Vec::new() });
            return Ok(());
        }
        match self.request.peers.last_mut() {
            None => {
                let op = parse_device_line(key, value)?;
                self.request.device.push(op);
            }
            Some(section) => {
                if let Some(op) = parse_peer_line(key, value)? {
                    section.ops.push(op);
                }
            }
        }
        Ok(())
    }
}

fn expect_true(value: &str) -> Result<(), Errno> {
    if value == "true" {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// A hex key where all zeros means "none".
fn maybe_zero_key(value: &str) -> Result<Option<SecretKey>, Errno> {
    let key = SecretKey::new(key_from_hex(value).map_err(|_| Errno::EINVAL)?);
    Ok((!key.is_zero()).then_some(key))
}

fn parse_device_line(key: &str, value: &str) -> Result<DeviceOp, Errno> {
    Ok(match key {
        "private_key" => DeviceOp::PrivateKey(maybe_zero_key(value)?),
        "listen_port" => DeviceOp::ListenPort(parse_u16(value).ok_or(Errno::EINVAL)?),
        "fwmark" => DeviceOp::Fwmark(parse_u32(value).ok_or(Errno::EINVAL)?),
        "replace_peers" => {
            expect_true(value)?;
            DeviceOp::ReplacePeers
        }
        _ => return Err(Errno::EINVAL),
    })
}

/// `Ok(None)` for a valid line that changes nothing (`protocol_version=1`).
fn parse_peer_line(key: &str, value: &str) -> Result<Option<PeerOp>, Errno> {
    Ok(Some(match key {
        "update_only" => {
            expect_true(value)?;
            PeerOp::UpdateOnly
        }
        "remove" => {
            expect_true(value)?;
            PeerOp::Remove
        }
        "preshared_key" => PeerOp::PresharedKey(maybe_zero_key(value)?),
        "endpoint" => PeerOp::Endpoint(parse_endpoint(value).ok_or(Errno::EINVAL)?),
        "persistent_keepalive_interval" => PeerOp::PersistentKeepalive(parse_u16(value).ok_or(Errno::EINVAL)?),
        "replace_allowed_ips" => {
            expect_true(value)?;
            PeerOp::ReplaceAllowedIps
        }
        "allowed_ip" => match value.strip_prefix('-') {
            Some(prefix) => {
                let (addr, len) = parse_prefix(prefix).ok_or(Errno::EINVAL)?;
                PeerOp::RemoveAllowedIp(addr, len)
            }
            None => {
                let (addr, len) = parse_prefix(value).ok_or(Errno::EINVAL)?;
                PeerOp::AddAllowedIp(addr, len)
            }
        },
        "protocol_version" => {
            if value != "1" {
                return Err(Errno::EINVAL);
            }
            return Ok(None);
        }
        _ => return Err(Errno::EINVAL),
    }))
}

impl SetRequest {
    /// Parses a whole request body: the lines after `set=1`, optionally ending with the
    /// blank line that closes the request (only blank lines may follow it). Convenient for callers
    /// that hold the complete text, like `braid up` applying a config file in-process.
    pub fn parse(body: &str) -> Result<SetRequest, Errno> {
        let mut parser = SetRequestParser::new();
        let mut lines = body.split('\n');
        for line in lines.by_ref() {
            if line.is_empty() || line == "\r" {
                break;
            }
            parser.push_line(line);
        }
        // Another request after the closing blank line is a framing error.
        if lines.any(|rest| !rest.is_empty()) {
            parser.reject(Errno::EPROTO);
        }
        parser.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn parse(lines: &[&str]) -> Result<SetRequest, Errno> {
        let mut parser = SetRequestParser::new();
        for line in lines {
            parser.push_line(line);
        }
        parser.finish()
    }

    #[test]
    fn device_lines_then_peer_lines() {
        let request = parse(&[
            &format!("private_key={KEY_A}"),
            "listen_port=51820",
            "fwmark=0",
            "replace_peers=true",
            &format!("public_key={KEY_A}"),
            "protocol_version=1",
            "update_only=true",
            &format!("preshared_key={ZERO}"),
            "endpoint=[fd00::1]:7",
            "persistent_keepalive_interval=25",
            "replace_allowed_ips=true",
            "allowed_ip=10.0.0.0/8",
            "allowed_ip=-fd00::/64",
            "remove=true",
        ])
        .unwrap();
        assert_eq!(
            request.device,
            vec![
                DeviceOp::PrivateKey(Some(SecretKey::new([1; 32]))),
                DeviceOp::ListenPort(51820),
                DeviceOp::Fwmark(0),
                DeviceOp::ReplacePeers
            ]
        );
        assert_eq!(request.peers.len(), 1);
        assert_eq!(request.peers[0].public_key, PublicKey([1; 32]));
        assert_eq!(
            request.peers[0].ops,
            vec![
                PeerOp::UpdateOnly,
                PeerOp::PresharedKey(None),
                PeerOp::Endpoint("[fd00::1]:7".parse().unwrap()),
                PeerOp::PersistentKeepalive(25),
                PeerOp::ReplaceAllowedIps,
                PeerOp::AddAllowedIp("10.0.0.0".parse().unwrap(), 8),
                PeerOp::RemoveAllowedIp("fd00::".parse().unwrap(), 64),
                PeerOp::Remove,
            ]
        );
    }

    #[test]
    fn zero_private_key_clears() {
        let request = parse(&[&format!("private_key={ZERO}")]).unwrap();
        assert_eq!(request.device, vec![DeviceOp::PrivateKey(None)]);
    }

    #[test]
    fn each_bad_line_is_an_error() {
        let peer = format!("public_key={KEY_A}");
        let cases: &[(&[&str], Errno)] = &[
            (&["foo=1"], Errno::EINVAL),
            (&["no equals sign"], Errno::EPROTO),
            (&["private_key=00"], Errno::EINVAL),
            (&["listen_port=65536"], Errno::EINVAL),
            (&["listen_port=-1"], Errno::EINVAL),
            (&["fwmark=0x10"], Errno::EINVAL),
            (&["replace_peers=false"], Errno::EINVAL),
            // Device keys are not peer keys and vice versa.
            (&["endpoint=1.2.3.4:5"], Errno::EINVAL),
            (&[&peer, "listen_port=1"], Errno::EINVAL),
            (&["public_key=xyz"], Errno::EINVAL),
            (&[&peer, "update_only=1"], Errno::EINVAL),
            (&[&peer, "remove=yes"], Errno::EINVAL),
            (&[&peer, "preshared_key=zz"], Errno::EINVAL),
            (&[&peer, "endpoint=example.com:51820"], Errno::EINVAL),
            (&[&peer, "persistent_keepalive_interval=70000"], Errno::EINVAL),
            (&[&peer, "replace_allowed_ips=TRUE"], Errno::EINVAL),
            (&[&peer, "allowed_ip=10.0.0.0/33"], Errno::EINVAL),
            (&[&peer, "allowed_ip=--10.0.0.0/8"], Errno::EINVAL),
            (&[&peer, "allowed_ip=10.0.0.1"], Errno::EINVAL),
            (&[&peer, "protocol_version=2"], Errno::EINVAL),
            (&[&peer, "bogus=true"], Errno::EINVAL),
        ];
        for (lines, errno) in cases {
            assert_eq!(parse(lines), Err(*errno), "{lines:?}");
        }
    }

    #[test]
    fn first_error_wins_and_later_lines_are_ignored() {
        assert_eq!(parse(&["foo=1", "no equals"]), Err(Errno::EINVAL));
        assert_eq!(parse(&["no equals", "foo=1"]), Err(Errno::EPROTO));
    }

    #[test]
    fn carriage_returns_are_dropped() {
        let request = parse(&["listen_port=7\r"]).unwrap();
        assert_eq!(request.device, vec![DeviceOp::ListenPort(7)]);
    }

    #[test]
    fn value_may_contain_equals_signs() {
        // Only the first `=` separates key and value.
        assert_eq!(parse(&["listen_port=1=2"]), Err(Errno::EINVAL));
    }

    #[test]
    fn parse_stops_at_the_blank_line() {
        assert_eq!(SetRequest::parse("listen_port=1\n\n").unwrap().device, vec![DeviceOp::ListenPort(1)]);
        assert_eq!(SetRequest::parse("listen_port=1").unwrap().device, vec![DeviceOp::ListenPort(1)]);
        assert_eq!(SetRequest::parse("").unwrap(), SetRequest::default());
        assert_eq!(SetRequest::parse("listen_port=1\n\nlisten_port=2\n"), Err(Errno::EPROTO));
    }

    #[test]
    fn parse_whole_body() {
        let request =
            SetRequest::parse(&format!("listen_port=1\npublic_key={KEY_A}\nallowed_ip=1.2.3.4/32\n")).unwrap();
        assert_eq!(request.device, vec![DeviceOp::ListenPort(1)]);
        assert_eq!(request.peers[0].ops, vec![PeerOp::AddAllowedIp("1.2.3.4".parse().unwrap(), 32)]);
    }
}
