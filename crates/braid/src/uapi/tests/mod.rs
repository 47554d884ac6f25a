//! UAPI tests against a real `Device`: exact `get` text, every `set` key, atomicity, the
//! session framing, and the 130k-prefix request.

mod get;
mod session;
mod set;
mod set_atomic;

use super::{Errno, UapiHost, UapiSession};
use crate::keys::{key_to_hex, pubkey, SecretKey};
use braid_proto::time::Instant;
use braid_proto::{Device, DeviceConfig};
use core::time::Duration;
use rand_chacha::rand_core::SeedableRng;

/// A host whose rebinding can be made to fail.
#[derive(Debug, Default)]
pub(super) struct FakeHost {
    pub port: u16,
    pub mark: u32,
    pub refuse_port: Option<Errno>,
    pub refuse_mark: Option<Errno>,
    pub port_calls: Vec<u16>,
}

impl UapiHost for FakeHost {
    fn listen_port(&self) -> u16 {
        self.port
    }
    fn fwmark(&self) -> u32 {
        self.mark
    }
    fn set_port_and_fwmark(&mut self, port: Option<u16>, mark: Option<u32>) -> Result<(), Errno> {
        if let Some(port) = port {
            self.port_calls.push(port);
            if let Some(errno) = self.refuse_port {
                return Err(errno);
            }
        }
        if let (Some(_), Some(errno)) = (mark, self.refuse_mark) {
            return Err(errno);
        }
        self.port = port.unwrap_or(self.port);
        self.mark = mark.unwrap_or(self.mark);
        Ok(())
    }
}

pub(crate) fn new_device() -> Device {
    Device::new(
        DeviceConfig::default(),
        Instant::ZERO,
        Duration::from_secs(1_700_000_000),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    )
}

/// A clamped private key, so `get` shows it back unchanged.
pub(super) const PRIVATE_HEX: &str = "a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a868";
pub(super) const ZERO_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// 64 hex digits of one repeated byte.
pub(super) fn hex_of(byte: u8) -> String {
    key_to_hex(&[byte; 32])
}

/// The public key of [`PRIVATE_HEX`], in hex.
pub(super) fn own_public_hex() -> String {
    let private = crate::keys::key_from_hex(PRIVATE_HEX).unwrap();
    key_to_hex(&pubkey(&SecretKey::new(private)))
}

/// Runs `input` through a fresh session and returns the reply as text.
pub(super) fn exchange(device: &mut Device, host: &mut FakeHost, input: &str) -> String {
    let mut session = UapiSession::new();
    let out = session.feed(input.as_bytes(), Instant::ZERO, device, host);
    String::from_utf8(out).unwrap()
}

/// A `set` with these lines; returns the reply.
pub(super) fn set(device: &mut Device, host: &mut FakeHost, lines: &[&str]) -> String {
    let mut request = String::from("set=1\n");
    for line in lines {
        request.push_str(line);
        request.push('\n');
    }
    request.push('\n');
    exchange(device, host, &request)
}

pub(super) fn get(device: &mut Device, host: &mut FakeHost) -> String {
    exchange(device, host, "get=1\n\n")
}

pub(super) const OK: &str = "errno=0\n\n";
pub(super) const EINVAL: &str = "errno=-22\n\n";
