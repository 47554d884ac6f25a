//! The UAPI `get` reply: the device and every peer as `key=value` lines, in wireguard-go's
//! order (`IpcGetOperation`), so `wg show` and `wg showconf` read it as they read
//! wireguard-go's.
//!
//! Device: `private_key` (if set), `listen_port` (if non-zero), `fwmark` (if non-zero). Per
//! peer: `public_key`, `preshared_key` (always; all zeros when none, exactly as wireguard-go
//! writes it, and `wg` treats zeros as "none"), `protocol_version=1`, `endpoint` (if known),
//! `last_handshake_time_sec`/`_nsec` (Unix time, 0/0 if never), `tx_bytes`, `rx_bytes`,
//! `persistent_keepalive_interval`, then one `allowed_ip` per prefix. Keys are lowercase hex.

use super::UapiHost;
use crate::keys::push_hex;
use braid_proto::{Device, PeerId};
use core::fmt::Write as _;
use core::net::IpAddr;
use std::collections::HashMap;

/// Appends the body of a `get` reply (without the closing `errno=0` and blank line).
pub fn write_get_body<H: UapiHost + ?Sized>(device: &Device, host: &H, out: &mut String) {
    if let Some(private) = device.private_key() {
        out.push_str("private_key=");
        push_hex(out, &private);
        out.push('\n');
    }
    let port = host.listen_port();
    if port != 0 {
        let _ = writeln!(out, "listen_port={port}");
    }
    let mark = host.fwmark();
    if mark != 0 {
        let _ = writeln!(out, "fwmark={mark}");
    }

    // One pass over the allowed-IPs table, grouped by peer (not one walk per peer).
    let mut prefixes: HashMap<PeerId, Vec<(IpAddr, u8)>> = HashMap::new();
    for (addr, len, id) in device.allowed_ips() {
        prefixes.entry(id).or_default().push((addr, len));
    }

    for id in device.peers() {
        let Some(stats) = device.peer_stats(id) else { continue };
        out.push_str("public_key=");
        push_hex(out, &stats.public_key.0);
        out.push_str("\npreshared_key=");
        push_hex(out, &device.peer_preshared_key(id).map_or([0; 32], |k| *k));
        out.push_str("\nprotocol_version=1\n");
        if let Some(endpoint) = stats.endpoint {
            let _ = writeln!(out, "endpoint={}", endpoint.addr);
        }
        let handshake = stats.last_handshake.unwrap_or_default();
        let _ = writeln!(out, "last_handshake_time_sec={}", handshake.as_secs());
        let _ = writeln!(out, "last_handshake_time_nsec={}", handshake.subsec_nanos());
        let _ = writeln!(out, "tx_bytes={}", stats.tx_bytes);
        let _ = writeln!(out, "rx_bytes={}", stats.rx_bytes);
        let keepalive = stats.persistent_keepalive.map_or(0, |d| d.as_secs());
        let _ = writeln!(out, "persistent_keepalive_interval={keepalive}");
        for (addr, len) in prefixes.get(&id).map(Vec::as_slice).unwrap_or_default() {
            let _ = writeln!(out, "allowed_ip={addr}/{len}");
        }
    }
}

/// Appends braid's own statistics (`braid show` asks for them with `get=braid`; `wg` never
/// does, and would ignore them anyway): device drop counters and handshake counters, the
/// host's data-path facts, and per peer its live sessions, pending handshake, staged packets
/// and the local address it talks to. Device keys are `braid_device_*` (they follow the last
/// peer's lines); peers are re-listed by `public_key` so their lines group.
pub fn write_braid_extras<H: UapiHost + ?Sized>(device: &Device, host: &H, out: &mut String) {
    let stats = device.stats();
    for reason in braid_proto::DropReason::ALL {
        let n = stats.drops(reason);
        if n != 0 {
            let _ = writeln!(out, "braid_device_drops_{}={n}", reason.name());
        }
    }
    let _ = writeln!(out, "braid_device_initiations_sent={}", stats.initiations_sent);
    let _ = writeln!(out, "braid_device_responses_sent={}", stats.responses_sent);
    let _ = writeln!(out, "braid_device_cookie_replies_sent={}", stats.cookie_replies_sent);
    let _ = writeln!(out, "braid_device_sessions_derived={}", stats.sessions_derived);
    let _ = writeln!(out, "braid_device_transport_reordered={}", stats.transport_reordered);
    for (key, value) in host.extras() {
        let _ = writeln!(out, "braid_device_{key}={value}");
    }
    for id in device.peers() {
        let Some(p) = device.peer_stats(id) else { continue };
        out.push_str("public_key=");
        push_hex(out, &p.public_key.0);
        let _ = writeln!(out, "\nbraid_sessions={}", p.sessions);
        let _ = writeln!(out, "braid_handshake_in_progress={}", p.handshake_in_progress);
        let _ = writeln!(out, "braid_staged_packets={}", p.staged_packets);
        if let Some(local) = p.endpoint.and_then(|e| e.local) {
            let _ = writeln!(out, "braid_local_address={local}");
        }
    }
}
