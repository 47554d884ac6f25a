//! wg-quick style configuration files, for `braid up FILE`.
//!
//! The format is the one `wg-quick` reads: an `[Interface]` section with the keys `wg setconf`
//! knows (`PrivateKey`, `ListenPort`, `FwMark`) plus wg-quick's own (`Address`, `MTU`, `DNS`,
//! `Table`, `PreUp`, `PostUp`, `PreDown`, `PostDown`, `SaveConfig`), and one `[Peer]` section
//! per peer (`PublicKey`, `PresharedKey`, `Endpoint`, `AllowedIPs`, `PersistentKeepalive`).
//! Keys and section names are case-insensitive, `#` starts a comment, list keys may repeat and
//! accumulate, other keys may repeat and the last wins (all as wg and wg-quick).
//!
//! Stricter than wg-quick where it only hides mistakes: unknown keys and sections are errors,
//! `SaveConfig` must be true or false, and nothing is half-parsed: [`parse_config`] returns a
//! complete [`TunnelConfig`] or the first error, with file and line.
//!
//! Endpoints stay unresolved ([`EndpointSpec`]) until [`to_uapi_set`] (or the caller) resolves
//! them; [`to_uapi_set`] then produces the UAPI request `wg setconf` would send.

mod endpoint;
mod error;
mod interface_name;
mod parser;
mod uapi_set;
mod values;

#[cfg(test)]
mod tests;

pub use endpoint::EndpointSpec;
pub use error::{ConfigFileError, ConfigFileErrorKind, SectionKind};
pub use interface_name::{
    check_interface_name, interface_name_from_path, is_valid_interface_name, MAX_INTERFACE_NAME_LEN,
};
pub use parser::parse_config;
pub use uapi_set::{to_uapi_set, to_uapi_set_with, ResolveError};

use crate::keys::SecretKey;
use braid_proto::crypto::PublicKey;
use core::net::IpAddr;
use std::path::Path;

/// A DNS setting of wg-quick's `DNS =`: an address is a server, anything else a search domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsEntry {
    /// A name server address.
    Server(IpAddr),
    /// A search domain.
    SearchDomain(String),
}

/// One `[Peer]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// `PublicKey`: the peer's identity (required).
    pub public_key: PublicKey,
    /// `PresharedKey`, if given.
    pub preshared_key: Option<SecretKey>,
    /// `Endpoint`, unresolved.
    pub endpoint: Option<EndpointSpec>,
    /// `AllowedIPs`, in file order, host bits as written (the device clears them).
    pub allowed_ips: Vec<(IpAddr, u8)>,
    /// `PersistentKeepalive` in seconds; `Some(0)` for `off` or `0` (sent as 0, turning it off).
    pub persistent_keepalive: Option<u16>,
    /// The line of the `[Peer]` header, for messages about this peer.
    pub line: usize,
}

/// A whole config file, validated. `Debug` never shows the private or pre-shared keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// `PrivateKey` (required).
    pub private_key: SecretKey,
    /// `ListenPort`; `None` lets the daemon pick a free port (`wg setconf` sends 0).
    pub listen_port: Option<u16>,
    /// `FwMark`; `Some(0)` for `off`.
    pub fwmark: Option<u32>,
    /// `Address` entries (interface addresses, so host bits matter), in file order.
    pub addresses: Vec<(IpAddr, u8)>,
    /// `MTU`, within the range the device accepts (576-65535).
    pub mtu: Option<u16>,
    /// `DNS` entries, in file order.
    pub dns: Vec<DnsEntry>,
    /// `Table` as written (`off`, `auto`, a number or a table name).
    pub table: Option<String>,
    /// `PreUp` commands, in file order.
    pub pre_up: Vec<String>,
    /// `PostUp` commands, in file order.
    pub post_up: Vec<String>,
    /// `PreDown` commands, in file order.
    pub pre_down: Vec<String>,
    /// `PostDown` commands, in file order.
    pub post_down: Vec<String>,
    /// `SaveConfig`.
    pub save_config: bool,
    /// The keys above that only mean something with a TUN interface (`Table`, the hooks,
    /// `SaveConfig`), each with its line, for a rootless tunnel to report as ignored.
    pub tun_only: Vec<(&'static str, usize)>,
    /// The `[Peer]` sections, in file order.
    pub peers: Vec<Peer>,
}

impl TunnelConfig {
    /// The interface's public key (what peers put in their `PublicKey`).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(crate::keys::pubkey(&self.private_key))
    }
}

impl TunnelConfig {
    /// A config with only its private key: no port (any free one), no addresses, no peers.
    /// The builder form of a config file: chain [`TunnelConfig::address`],
    /// [`TunnelConfig::listen_port`], [`TunnelConfig::mtu`] and [`TunnelConfig::peer`].
    pub fn new(private_key: SecretKey) -> TunnelConfig {
        TunnelConfig {
            private_key,
            listen_port: None,
            fwmark: None,
            addresses: Vec::new(),
            mtu: None,
            dns: Vec::new(),
            table: None,
            pre_up: Vec::new(),
            post_up: Vec::new(),
            pre_down: Vec::new(),
            post_down: Vec::new(),
            save_config: false,
            tun_only: Vec::new(),
            peers: Vec::new(),
        }
    }

    /// Adds an interface address (`Address = addr/prefix`).
    pub fn address(mut self, addr: IpAddr, prefix: u8) -> TunnelConfig {
        self.addresses.push((addr, prefix));
        self
    }

    /// Sets the UDP port (`ListenPort`).
    pub fn listen_port(mut self, port: u16) -> TunnelConfig {
        self.listen_port = Some(port);
        self
    }

    /// Sets the tunnel MTU (`MTU`).
    pub fn mtu(mut self, mtu: u16) -> TunnelConfig {
        self.mtu = Some(mtu);
        self
    }

    /// Adds a peer (a `[Peer]` section).
    pub fn peer(mut self, peer: Peer) -> TunnelConfig {
        self.peers.push(peer);
        self
    }
}

impl Peer {
    /// A peer with only its public key (the builder form of a `[Peer]` section).
    pub fn new(public_key: PublicKey) -> Peer {
        Peer {
            public_key,
            preshared_key: None,
            endpoint: None,
            allowed_ips: Vec::new(),
            persistent_keepalive: None,
            line: 0,
        }
    }

    /// Where the peer is reached (`Endpoint`).
    pub fn endpoint(mut self, addr: core::net::SocketAddr) -> Peer {
        self.endpoint = Some(EndpointSpec { host: addr.ip().to_string(), port: addr.port() });
        self
    }

    /// A prefix routed to the peer and accepted from it (`AllowedIPs`).
    pub fn allowed_ip(mut self, addr: IpAddr, prefix: u8) -> Peer {
        self.allowed_ips.push((addr, prefix));
        self
    }

    /// A pre-shared key (`PresharedKey`).
    pub fn preshared_key(mut self, key: SecretKey) -> Peer {
        self.preshared_key = Some(key);
        self
    }

    /// A keepalive every `seconds` (`PersistentKeepalive`; 0 turns it off).
    pub fn persistent_keepalive(mut self, seconds: u16) -> Peer {
        self.persistent_keepalive = Some(seconds);
        self
    }
}

/// A config file read from disk, with the interface name its file name implies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// `wg0` for `/etc/wireguard/wg0.conf`.
    pub interface_name: String,
    /// The parsed contents.
    pub config: TunnelConfig,
    /// Users other than the owner may read the file (and its private key): worth a warning,
    /// as wg-quick gives one.
    pub readable_by_others: bool,
}

/// Reads and parses `path`, which must be named `<interface>.conf` as wg-quick requires.
/// Errors name the path as given.
///
/// The file is opened without following a symbolic link, and the opened file is checked:
/// it and its directory must belong to root or to us and must not be writable by group or
/// others (a sticky directory like `/tmp` is fine: others cannot replace the file there).
/// `braid up` runs the file's hooks as root, and whoever can change the file decides them.
pub fn load_config_file(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = path.display().to_string();
    let interface_name = interface_name_from_path(path)
        .ok_or_else(|| ConfigFileError::whole_file(&file, ConfigFileErrorKind::BadInterfaceName))?;
    let unsafe_file = |why: String| ConfigFileError::whole_file(&file, ConfigFileErrorKind::Unsafe(why));
    let mut handle =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ELOOP) => unsafe_file("it is a symbolic link".into()),
                _ => ConfigFileError::whole_file(&file, e.into()),
            },
        )?;
    let meta = handle.metadata().map_err(|e| ConfigFileError::whole_file(&file, e.into()))?;
    let ours = braid_io::process::effective_uid();
    if !meta.is_file() {
        return Err(unsafe_file("it is not a regular file".into()));
    }
    if meta.uid() != 0 && meta.uid() != ours {
        return Err(unsafe_file(format!("it belongs to uid {}, not root or us", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_file(format!("others may write to it (mode {:o})", meta.mode() & 0o777)));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_meta = std::fs::metadata(dir).map_err(|e| ConfigFileError::whole_file(&file, e.into()))?;
    if dir_meta.uid() != 0 && dir_meta.uid() != ours {
        return Err(unsafe_file(format!("its directory belongs to uid {}, not root or us", dir_meta.uid())));
    }
    if dir_meta.mode() & 0o022 != 0 && dir_meta.mode() & 0o1000 == 0 {
        return Err(unsafe_file(format!("others may write to its directory (mode {:o})", dir_meta.mode() & 0o777)));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(&mut handle, &mut bytes).map_err(|e| ConfigFileError::whole_file(&file, e.into()))?;
    let text =
        core::str::from_utf8(&bytes).map_err(|_| ConfigFileError::whole_file(&file, ConfigFileErrorKind::NotUtf8))?;
    let config = parse_config(&file, text)?;
    Ok(ConfigFile { interface_name, config, readable_by_others: meta.mode() & 0o044 != 0 })
}
