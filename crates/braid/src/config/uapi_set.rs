//! The UAPI `set` request equivalent to `wg setconf IFACE FILE`: what `braid up` sends to
//! its daemon (or applies in-process with [`SetRequest`](crate::uapi::SetRequest)).
//!
//! Like `wg setconf` it replaces the whole configuration: it always sends the private key,
//! `listen_port` (0 when the file has none: any free port) and `fwmark` (0 when none), then
//! `replace_peers=true`, and for every peer `replace_allowed_ips=true` before its prefixes.
//! Optional peer settings are sent only when the file has them, in `wg`'s order.

use super::{EndpointSpec, TunnelConfig};
use crate::keys::{key_to_base64, push_hex};
use core::fmt::Write as _;
use core::net::SocketAddr;
use std::io;
use zeroize::Zeroizing;

/// A peer's endpoint name did not resolve, so no request was produced.
#[derive(Debug, thiserror::Error)]
#[error("peer {peer}: cannot resolve endpoint {endpoint}: {source}")]
pub struct ResolveError {
    /// The peer's public key in base64 (not secret).
    pub peer: String,
    /// The endpoint as written.
    pub endpoint: EndpointSpec,
    /// Why resolution failed.
    #[source]
    pub source: io::Error,
}

/// The `set=1` request (through its closing blank line) for `config`, resolving endpoint
/// names with the system resolver ([`EndpointSpec::resolve`]; IP literals need no DNS).
/// The text contains the private key, and is wiped when dropped.
pub fn to_uapi_set(config: &TunnelConfig) -> Result<Zeroizing<String>, ResolveError> {
    to_uapi_set_with(config, EndpointSpec::resolve)
}

/// As [`to_uapi_set`] with a caller-chosen resolver (tests, or a daemon with its own DNS
/// policy). The resolver is called once per peer endpoint, literals included.
pub fn to_uapi_set_with(
    config: &TunnelConfig,
    mut resolve: impl FnMut(&EndpointSpec) -> io::Result<SocketAddr>,
) -> Result<Zeroizing<String>, ResolveError> {
    // Sized up front: growing would leave copies of the private key in freed memory.
    let peer_bytes: usize = config.peers.iter().map(|p| 400 + 60 * p.allowed_ips.len()).sum();
    let mut out = Zeroizing::new(String::with_capacity(200 + peer_bytes));
    out.push_str("set=1\nprivate_key=");
    push_hex(&mut out, config.private_key.expose());
    let _ = write!(out, "\nlisten_port={}\nfwmark={}\n", config.listen_port.unwrap_or(0), config.fwmark.unwrap_or(0));
    out.push_str("replace_peers=true\n");
    for peer in &config.peers {
        out.push_str("public_key=");
        push_hex(&mut out, &peer.public_key.0);
        out.push('\n');
        if let Some(psk) = &peer.preshared_key {
            out.push_str("preshared_key=");
            push_hex(&mut out, psk.expose());
            out.push('\n');
        }
        if let Some(spec) = &peer.endpoint {
            let addr = resolve(spec).map_err(|source| ResolveError {
                peer: key_to_base64(&peer.public_key.0),
                endpoint: spec.clone(),
                source,
            })?;
            let _ = writeln!(out, "endpoint={addr}");
        }
        if let Some(secs) = peer.persistent_keepalive {
            let _ = writeln!(out, "persistent_keepalive_interval={secs}");
        }
        out.push_str("replace_allowed_ips=true\n");
        for (addr, len) in &peer.allowed_ips {
            let _ = writeln!(out, "allowed_ip={addr}/{len}");
        }
    }
    out.push('\n');
    Ok(out)
}
