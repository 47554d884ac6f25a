//! A tunnel shown as `braid show` shows an interface: the same `get` reply a daemon would
//! give, rendered by the same code, so an embedded tunnel reads exactly like a daemon's.

use crate::cli::show::{parse_get, render_text};
use crate::uapi::{write_braid_extras, write_get_body, EngineHost};
use braid_engine::{EngineHandle, UdpUnderlay};
use zeroize::Zeroizing;

/// `braid show NAME` for the engine behind `handle`.
pub fn render(handle: &EngineHandle<UdpUnderlay>, name: &str) -> String {
    let host = EngineHost::new(handle);
    let mut text = Zeroizing::new(String::new());
    handle.with_device(|device, _| {
        write_get_body(device, &host, &mut text);
        write_braid_extras(device, &host, &mut text);
    });
    let lines: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        // The private key is in a get reply; a rendering needs only the public key.
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    match parse_get(name, &lines) {
        Ok(state) => render_text(&state, now),
        Err(e) => format!("interface: {name} ({e})\n"),
    }
}
