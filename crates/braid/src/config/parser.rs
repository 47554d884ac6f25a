//! The line-by-line reader: comments and blank lines skipped, `[Section]` headers and
//! `Key = Value` lines dispatched, drafts completed into an [`TunnelConfig`] at the end.
//!
//! Whitespace follows the tools: `wg` removes every space from the lines it reads, so
//! single-token values (keys, ports, endpoints) and `AllowedIPs` ignore inner spaces; wg-quick
//! splits `Address` and `DNS` on commas and spaces and keeps hook commands (`PostUp` ...)
//! verbatim apart from the surrounding spaces.

use super::error::{ConfigFileError, ConfigFileErrorKind, SectionKind};
use super::values;
use super::{endpoint::parse_endpoint_spec, DnsEntry, EndpointSpec, Peer, TunnelConfig};
use crate::keys::SecretKey;
use braid_proto::crypto::PublicKey;
use core::net::IpAddr;
use zeroize::Zeroizing;

#[derive(Default)]
struct InterfaceDraft {
    header_line: Option<usize>,
    private_key: Option<SecretKey>,
    listen_port: Option<u16>,
    fwmark: Option<u32>,
    addresses: Vec<(IpAddr, u8)>,
    mtu: Option<u16>,
    dns: Vec<DnsEntry>,
    table: Option<String>,
    pre_up: Vec<String>,
    post_up: Vec<String>,
    pre_down: Vec<String>,
    post_down: Vec<String>,
    save_config: bool,
    tun_only: Vec<(&'static str, usize)>,
}

struct PeerDraft {
    line: usize,
    public_key: Option<PublicKey>,
    preshared_key: Option<SecretKey>,
    endpoint: Option<EndpointSpec>,
    allowed_ips: Vec<(IpAddr, u8)>,
    persistent_keepalive: Option<u16>,
}

/// wg-quick's keys that act on a TUN interface and its host (routes, hooks, saving the
/// running state back): a tunnel without a TUN device has nothing for them to act on.
const TUN_ONLY_KEYS: [&str; 6] = ["Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig"];

/// An invalid value for `key`.
fn invalid(key: &'static str) -> impl FnOnce(String) -> ConfigFileErrorKind {
    move |problem| ConfigFileErrorKind::InvalidValue { key, problem }
}

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Parses the text of a config file. `file` names it in errors (`wg0.conf:7: ...`).
pub fn parse_config(file: &str, text: &str) -> Result<TunnelConfig, ConfigFileError> {
    let mut interface = InterfaceDraft::default();
    let mut peers: Vec<PeerDraft> = Vec::new();
    let mut section: Option<SectionKind> = None;

    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let at = |kind| ConfigFileError::at(file, line_no, kind);
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            let header = without_spaces(line);
            if header.eq_ignore_ascii_case("[Interface]") {
                interface.header_line.get_or_insert(line_no);
                section = Some(SectionKind::Interface);
            } else if header.eq_ignore_ascii_case("[Peer]") {
                peers.push(PeerDraft {
                    line: line_no,
                    public_key: None,
                    preshared_key: None,
                    endpoint: None,
                    allowed_ips: Vec::new(),
                    persistent_keepalive: None,
                });
                section = Some(SectionKind::Peer);
            } else {
                return Err(at(ConfigFileErrorKind::UnknownSection(header)));
            }
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| at(ConfigFileErrorKind::NotKeyValue))?;
        let key = without_spaces(key);
        let value = value.trim();
        let result = match (section, peers.last_mut()) {
            (None, _) => Err(ConfigFileErrorKind::OutsideSection),
            (Some(SectionKind::Interface), _) => interface_line(&mut interface, &key, value, line_no),
            (Some(SectionKind::Peer), Some(peer)) => peer_line(peer, &key, value),
            (Some(SectionKind::Peer), None) => Err(ConfigFileErrorKind::OutsideSection),
        };
        result.map_err(at)?;
    }
    finish(file, interface, peers)
}

fn unknown(section: SectionKind, key: &str) -> ConfigFileErrorKind {
    let shown = key.len() <= 32 && key.bytes().all(|c| c.is_ascii_alphanumeric());
    ConfigFileErrorKind::UnknownKey { section, key: shown.then(|| key.to_owned()) }
}

fn interface_line(draft: &mut InterfaceDraft, key: &str, value: &str, line: usize) -> Result<(), ConfigFileErrorKind> {
    // May be a private key: wiped when dropped.
    let token = Zeroizing::new(without_spaces(value));
    let lower = key.to_ascii_lowercase();
    if let Some(&name) = TUN_ONLY_KEYS.iter().find(|k| k.eq_ignore_ascii_case(&lower)) {
        draft.tun_only.push((name, line));
    }
    match lower.as_str() {
        "privatekey" => draft.private_key = Some(values::secret_key(&token).map_err(invalid("PrivateKey"))?),
        "listenport" => draft.listen_port = Some(values::port(&token).map_err(invalid("ListenPort"))?),
        "fwmark" => draft.fwmark = Some(values::fwmark(&token).map_err(invalid("FwMark"))?),
        "address" => {
            for item in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()) {
                draft.addresses.push(values::prefix(item).map_err(invalid("Address"))?);
            }
        }
        "mtu" => draft.mtu = Some(values::mtu(&token).map_err(invalid("MTU"))?),
        "dns" => {
            for item in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()) {
                let entry = match item.parse::<IpAddr>() {
                    Ok(addr) => DnsEntry::Server(addr),
                    Err(_) if values::is_domain(item) => DnsEntry::SearchDomain(item.to_owned()),
                    Err(_) => {
                        return Err(invalid("DNS")(format!("`{item}` is neither an IP address nor a domain name")))
                    }
                };
                draft.dns.push(entry);
            }
        }
        "table" => draft.table = (!token.is_empty()).then(|| token.to_string()),
        "preup" => draft.pre_up.push(value.to_owned()),
        "postup" => draft.post_up.push(value.to_owned()),
        "predown" => draft.pre_down.push(value.to_owned()),
        "postdown" => draft.post_down.push(value.to_owned()),
        "saveconfig" => draft.save_config = values::boolean(&token).map_err(invalid("SaveConfig"))?,
        _ => return Err(unknown(SectionKind::Interface, key)),
    }
    Ok(())
}

fn peer_line(draft: &mut PeerDraft, key: &str, value: &str) -> Result<(), ConfigFileErrorKind> {
    // May be a pre-shared key: wiped when dropped.
    let token = Zeroizing::new(without_spaces(value));
    match key.to_ascii_lowercase().as_str() {
        "publickey" => draft.public_key = Some(values::public_key(&token).map_err(invalid("PublicKey"))?),
        "presharedkey" => draft.preshared_key = Some(values::secret_key(&token).map_err(invalid("PresharedKey"))?),
        "endpoint" => draft.endpoint = Some(parse_endpoint_spec(&token).map_err(invalid("Endpoint"))?),
        "allowedips" => draft.allowed_ips.extend(values::prefix_list(&token).map_err(invalid("AllowedIPs"))?),
        "persistentkeepalive" => {
            draft.persistent_keepalive = Some(values::keepalive(&token).map_err(invalid("PersistentKeepalive"))?)
        }
        _ => return Err(unknown(SectionKind::Peer, key)),
    }
    Ok(())
}

fn finish(file: &str, interface: InterfaceDraft, peers: Vec<PeerDraft>) -> Result<TunnelConfig, ConfigFileError> {
    let header_line =
        interface.header_line.ok_or_else(|| ConfigFileError::whole_file(file, ConfigFileErrorKind::NoInterface))?;
    let private_key = interface
        .private_key
        .ok_or_else(|| ConfigFileError::at(file, header_line, ConfigFileErrorKind::MissingPrivateKey))?;
    let peers = peers
        .into_iter()
        .map(|p| {
            let public_key =
                p.public_key.ok_or_else(|| ConfigFileError::at(file, p.line, ConfigFileErrorKind::MissingPublicKey))?;
            Ok(Peer {
                public_key,
                preshared_key: p.preshared_key,
                endpoint: p.endpoint,
                allowed_ips: p.allowed_ips,
                persistent_keepalive: p.persistent_keepalive,
                line: p.line,
            })
        })
        .collect::<Result<Vec<_>, ConfigFileError>>()?;
    Ok(TunnelConfig {
        private_key,
        listen_port: interface.listen_port,
        fwmark: interface.fwmark,
        addresses: interface.addresses,
        mtu: interface.mtu,
        dns: interface.dns,
        table: interface.table,
        pre_up: interface.pre_up,
        post_up: interface.post_up,
        pre_down: interface.pre_down,
        post_down: interface.post_down,
        save_config: interface.save_config,
        tun_only: interface.tun_only,
        peers,
    })
}
