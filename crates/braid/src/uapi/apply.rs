//! Applying a validated [`SetRequest`] to a device, with wireguard-go's semantics and no
//! way to fail halfway.
//!
//! Order: the host's listen port and fwmark first (the only steps that can fail; a failure
//! returns before the device is touched), then the device lines in request order, then each
//! peer section in order. A section's persistent keepalive is applied when the section ends,
//! as wireguard-go sends the "turned on" keepalive only then, so the endpoint given in the same
//! section is already known.

use super::set_request::{DeviceOp, PeerOp, PeerSection, SetRequest};
use super::{Errno, UapiHost};
use braid_proto::time::Instant;
use braid_proto::{Device, PeerConfig};
use core::time::Duration;

impl SetRequest {
    /// Applies the request. Fails only if the host cannot rebind or set the mark, and then
    /// leaves the device and the host as they were.
    pub fn apply<H: UapiHost + ?Sized>(&self, now: Instant, device: &mut Device, host: &mut H) -> Result<(), Errno> {
        self.apply_host(host)?;
        for op in &self.device {
            match op {
                DeviceOp::PrivateKey(key) => device.set_private_key(key.as_ref().map(|k| *k.expose())),
                DeviceOp::ReplacePeers => device.remove_all_peers(),
                DeviceOp::ListenPort(_) | DeviceOp::Fwmark(_) => {}
            }
        }
        for section in &self.peers {
            apply_peer_section(section, now, device);
        }
        self.log_applied();
        Ok(())
    }

    /// Logs what an applied request changed, so every configuration change is on record;
    /// keys appear only as public keys, never a private or pre-shared one.
    fn log_applied(&self) {
        use crate::keys::key_to_base64;
        for op in &self.device {
            match op {
                DeviceOp::PrivateKey(Some(key)) => {
                    tracing::info!(public_key = %key_to_base64(&key.public_key().0), "UAPI: private key set")
                }
                DeviceOp::PrivateKey(None) => tracing::info!("UAPI: private key cleared"),
                DeviceOp::ListenPort(port) => tracing::info!(port, "UAPI: listen port set"),
                DeviceOp::Fwmark(mark) => tracing::info!(mark, "UAPI: fwmark set"),
                DeviceOp::ReplacePeers => tracing::info!("UAPI: all peers replaced"),
            }
        }
        // A big `setconf` is summed up rather than logged a line per peer.
        if self.peers.len() > 16 {
            tracing::info!(peers = self.peers.len(), "UAPI: peer sections applied");
            return;
        }
        for section in &self.peers {
            let mut what = Vec::new();
            let (mut added, mut removed) = (0usize, 0usize);
            for op in &section.ops {
                match op {
                    PeerOp::UpdateOnly => what.push("update only".to_owned()),
                    PeerOp::Remove => what.push("removed".to_owned()),
                    PeerOp::PresharedKey(k) => {
                        what.push(format!("pre-shared key {}", if k.is_some() { "set" } else { "cleared" }))
                    }
                    PeerOp::Endpoint(addr) => what.push(format!("endpoint {addr}")),
                    PeerOp::PersistentKeepalive(secs) => what.push(format!("keepalive {secs} s")),
                    PeerOp::ReplaceAllowedIps => what.push("allowed ips replaced".to_owned()),
                    PeerOp::AddAllowedIp(..) => added += 1,
                    PeerOp::RemoveAllowedIp(..) => removed += 1,
                }
            }
            if added + removed > 0 {
                what.push(format!("allowed ips +{added} -{removed}"));
            }
            tracing::info!(peer = %key_to_base64(&section.public_key.0), change = %what.join(", "), "UAPI: peer");
        }
    }

    /// The last listen port and fwmark lines, applied in one host call: both or neither.
    fn apply_host<H: UapiHost + ?Sized>(&self, host: &mut H) -> Result<(), Errno> {
        let mut port = None;
        let mut mark = None;
        for op in &self.device {
            match *op {
                DeviceOp::ListenPort(p) => port = Some(p),
                DeviceOp::Fwmark(m) => mark = Some(m),
                _ => {}
            }
        }
        if port.is_none() && mark.is_none() {
            return Ok(());
        }
        host.set_port_and_fwmark(port, mark)
    }
}

/// One section, as wireguard-go's `handlePublicKeyLine`/`handlePeerLine`/`handlePostConfig`.
/// The device calls cannot fail here: the peer exists (`current` is cleared when it is
/// removed), prefixes were validated, and the own key and duplicates are checked first.
fn apply_peer_section(section: &PeerSection, now: Instant, device: &mut Device) {
    let key = section.public_key;
    // A peer with the device's own key is ignored, lines and all.
    let (mut current, created) = if device.public_key() == Some(key) {
        (None, false)
    } else {
        match device.peer_by_key(&key) {
            Some(id) => (Some(id), false),
            None => (device.add_peer(PeerConfig::new(key)).ok(), true),
        }
    };
    let mut keepalive = None;
    for op in &section.ops {
        let Some(id) = current else { break };
        match op {
            PeerOp::UpdateOnly => {
                if created {
                    device.remove_peer(id);
                    current = None;
                }
            }
            PeerOp::Remove => {
                device.remove_peer(id);
                current = None;
            }
            PeerOp::PresharedKey(psk) => {
                let _ = device.set_peer_preshared_key(id, psk.as_ref().map(|k| *k.expose()));
            }
            PeerOp::Endpoint(addr) => {
                let _ = device.set_peer_endpoint(id, (*addr).into());
            }
            PeerOp::PersistentKeepalive(secs) => keepalive = Some(*secs),
            PeerOp::ReplaceAllowedIps => {
                let _ = device.clear_allowed_ips(id);
            }
            PeerOp::AddAllowedIp(addr, len) => {
                let _ = device.add_allowed_ip(id, *addr, *len);
            }
            PeerOp::RemoveAllowedIp(addr, len) => {
                let _ = device.remove_allowed_ip(id, *addr, *len);
            }
        }
    }
    if let (Some(id), Some(secs)) = (current, keepalive) {
        let interval = (secs != 0).then(|| Duration::from_secs(u64::from(secs)));
        let _ = device.set_peer_persistent_keepalive(now, id, interval);
    }
}
