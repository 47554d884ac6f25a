//! Keys and one configured WireGuard interface driven through the real `wg` tool.
//!
//! Everything the suite configures or observes goes through `wg set` / `wg setconf` / `wg show`
//! run inside the interface's namespace, exactly as a user would; the UAPI socket is found by the
//! interface name, so this is the same code path for wireguard-go and braid.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command::{self, Output};
use super::daemon::{Daemon, Impl};
use super::names::{self, Scratch};
use super::namespace::{Netns, SHORT};

/// A Curve25519 key pair in wg's base64 form, made by `wg genkey` / `wg pubkey`.
#[derive(Clone, Debug)]
pub struct Keys {
    /// Private key, base64.
    pub private: String,
    /// Public key, base64.
    pub public: String,
}

impl Keys {
    /// A fresh key pair from `wg genkey`.
    pub fn generate() -> Keys {
        let private = command::run("wg", &["genkey"], SHORT).expect_success().trim().to_string();
        let public = public_key_of(&private);
        Keys { private, public }
    }
}

/// The public key of `private` according to `wg pubkey`.
pub fn public_key_of(private: &str) -> String {
    let input = format!("{private}\n");
    command::run_with("wg", &["pubkey"], &[], Some(input.as_bytes()), SHORT).expect_success().trim().to_string()
}

/// A fresh preshared key from `wg genpsk`.
pub fn genpsk() -> String {
    command::run("wg", &["genpsk"], SHORT).expect_success().trim().to_string()
}

/// Standard padded base64 of a 32-byte key (wg's key format), from the crate under test.
#[allow(unused_imports)] // each test binary uses part of the harness
pub use braid::keys::key_to_base64;

/// Decodes a base64 key; `None` unless it is exactly 32 bytes of valid base64.
pub fn key_from_base64(text: &str) -> Option<[u8; 32]> {
    braid::keys::key_from_base64(text.trim()).ok()
}

/// Byte counters of one peer from `wg show IF transfer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Transfer {
    /// Bytes received from the peer (UDP payload, handshakes included).
    pub rx: u64,
    /// Bytes sent to the peer (UDP payload, handshakes included).
    pub tx: u64,
}

/// One WireGuard interface: its daemon, namespace, name, keys and listen port.
pub struct WgDevice {
    daemon: Daemon,
    ns: String,
    ifname: String,
    /// The interface's key pair (as last set through [`WgDevice::set_private_key`]).
    pub keys: Keys,
    /// The UDP listen port.
    pub port: u16,
    key_dir: PathBuf,
}

impl WgDevice {
    /// Starts a daemon of `imp` in `ns` on a fresh interface name, sets a new private key and
    /// `port` as listen port. The interface is left down and without addresses.
    pub fn start(imp: Impl, ns: &Netns, scratch: &Scratch, port: u16) -> WgDevice {
        let ifname = names::ifname();
        let daemon = Daemon::start(imp, ns, &ifname, scratch.path().join(format!("{ifname}.log")));
        let keys = Keys::generate();
        let mut dev = WgDevice {
            daemon,
            ns: ns.name().to_string(),
            ifname,
            keys: keys.clone(),
            port,
            key_dir: scratch.path().to_path_buf(),
        };
        dev.set_private_key(&keys);
        dev.set(&["listen-port", &port.to_string()]);
        dev
    }

    /// The interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The namespace name.
    pub fn ns_name(&self) -> &str {
        &self.ns
    }

    /// The implementation behind this interface.
    pub fn imp(&self) -> Impl {
        self.daemon.imp()
    }

    /// The daemon (to check it is alive, read its log, or stop it).
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// Runs `wg args…` inside the namespace with a deadline.
    pub fn wg_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let mut full = vec!["netns", "exec", self.ns.as_str(), "wg"];
        full.extend_from_slice(args);
        command::run("ip", &full, timeout)
    }

    /// `wg set IF args…`, panicking (with the daemon's log) on failure.
    #[track_caller]
    pub fn set(&self, args: &[&str]) {
        let mut full = vec!["set", self.ifname.as_str()];
        full.extend_from_slice(args);
        let out = self.wg_timeout(&full, SHORT);
        assert!(out.success(), "wg set failed: {}\n--- daemon log ---\n{}", out.describe(), self.log_tail());
    }

    /// `wg setconf IF FILE`, panicking on failure; the deadline is generous for big configs.
    #[track_caller]
    pub fn setconf(&self, file: &Path, timeout: Duration) -> Output {
        let out = self.wg_timeout(&["setconf", &self.ifname, &file.to_string_lossy()], timeout);
        assert!(out.success(), "wg setconf failed: {}\n--- daemon log ---\n{}", out.describe(), self.log_tail());
        out
    }

    /// Sets a new private key (through a 0600 file, as `wg` requires) and remembers it.
    #[track_caller]
    pub fn set_private_key(&mut self, keys: &Keys) {
        let file = self.write_key_file("private", &keys.private);
        self.set(&["private-key", &file.to_string_lossy()]);
        self.keys = keys.clone();
    }

    /// Writes a key to a 0600 file in the scratch directory, returning its path.
    pub fn write_key_file(&self, what: &str, key: &str) -> PathBuf {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.key_dir.join(format!("{}-{what}.key", self.ifname));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .expect("create key file");
        writeln!(file, "{key}").expect("write key file");
        path
    }

    /// Adds or updates peer `public` with `allowed_ips` (comma separated) and an optional endpoint.
    #[track_caller]
    pub fn add_peer(&self, public: &str, allowed_ips: &str, endpoint: Option<&str>) {
        let mut args = vec!["peer", public, "allowed-ips", allowed_ips];
        if let Some(endpoint) = endpoint {
            args.extend_from_slice(&["endpoint", endpoint]);
        }
        self.set(&args);
    }

    /// Removes peer `public`.
    #[track_caller]
    pub fn remove_peer(&self, public: &str) {
        self.set(&["peer", public, "remove"]);
    }

    /// `wg show IF field` (or the whole `wg show IF` for an empty field), panicking on failure.
    #[track_caller]
    pub fn show(&self, field: &str) -> String {
        let mut args = vec!["show", self.ifname.as_str()];
        if !field.is_empty() {
            args.push(field);
        }
        let out = self.wg_timeout(&args, SHORT);
        assert!(out.success(), "wg show failed: {}\n--- daemon log ---\n{}", out.describe(), self.log_tail());
        out.stdout
    }

    /// Public keys of the configured peers.
    pub fn peers(&self) -> Vec<String> {
        self.show("peers").lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
    }

    /// `(public key, rest)` pairs of a tab-separated per-peer `wg show` field.
    fn per_peer(&self, field: &str) -> Vec<(String, String)> {
        self.show(field)
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(key, rest)| (key.to_string(), rest.trim().to_string()))
            .collect()
    }

    /// Transfer counters of peer `public` (zero if the peer is absent).
    pub fn transfer(&self, public: &str) -> Transfer {
        self.per_peer("transfer")
            .into_iter()
            .find(|(key, _)| key == public)
            .map(|(_, rest)| {
                let mut nums = rest.split_whitespace().map(|n| n.parse::<u64>().expect("transfer counter"));
                Transfer { rx: nums.next().unwrap_or(0), tx: nums.next().unwrap_or(0) }
            })
            .unwrap_or_default()
    }

    /// Endpoint of peer `public` as `wg show IF endpoints` prints it (`(none)` when unknown).
    pub fn endpoint(&self, public: &str) -> Option<String> {
        self.per_peer("endpoints").into_iter().find(|(key, _)| key == public).map(|(_, e)| e)
    }

    /// Allowed IPs of every peer, in `wg show IF allowed-ips` order.
    pub fn allowed_ips(&self) -> Vec<(String, Vec<String>)> {
        self.per_peer("allowed-ips")
            .into_iter()
            .map(|(key, rest)| {
                let ips =
                    if rest == "(none)" { Vec::new() } else { rest.split_whitespace().map(String::from).collect() };
                (key, ips)
            })
            .collect()
    }

    /// Unix time of the latest handshake with `public` (0 = never).
    pub fn latest_handshake(&self, public: &str) -> u64 {
        self.per_peer("latest-handshakes")
            .into_iter()
            .find(|(key, _)| key == public)
            .and_then(|(_, t)| t.parse().ok())
            .unwrap_or(0)
    }

    /// `ip -n NS args…` for this interface's namespace, panicking on failure.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        command::run("ip", &full, SHORT).expect_success()
    }

    /// Adds an address to the interface (IPv6 with `nodad`).
    #[track_caller]
    pub fn addr_add(&self, cidr: &str) {
        let mut args = vec!["addr", "add", cidr, "dev", self.ifname.as_str()];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args);
    }

    /// Brings the interface up.
    #[track_caller]
    pub fn up(&self) {
        self.ip(&["link", "set", "dev", &self.ifname, "up"]);
    }

    /// Sets the interface MTU.
    #[track_caller]
    pub fn set_mtu(&self, mtu: u32) {
        self.ip(&["link", "set", "dev", &self.ifname, "mtu", &mtu.to_string()]);
    }

    /// Whether the daemon is alive.
    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }

    /// The last part of the daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        command::tail(&self.daemon.log(), 3000).to_string()
    }
}
