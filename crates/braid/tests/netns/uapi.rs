//! Reading braid's own counters straight from its control socket (`get=braid`), as
//! `braid show` does, for tests that assert on them.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// braid's extended UAPI `get` of `ifname`, as `key=value` lines.
pub fn braid_get(ifname: &str) -> String {
    let path = super::daemon::socket_path(ifname);
    let mut stream = UnixStream::connect(&path).expect("braid's control socket");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"get=braid\n\n").unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    while !text.ends_with("\n\n") {
        let n = stream.read(&mut buf).expect("reply");
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

/// Device counter `braid_device_KEY` in a [`braid_get`] reply (0 while it counted nothing).
pub fn device_counter(get: &str, key: &str) -> u64 {
    let prefix = format!("braid_device_{key}=");
    get.lines().filter_map(|l| l.strip_prefix(&prefix)).filter_map(|v| v.parse::<u64>().ok()).sum()
}

/// Every `braid_device_drops_*` counter added up.
pub fn device_drops(get: &str) -> u64 {
    get.lines()
        .filter_map(|l| l.strip_prefix("braid_device_drops_"))
        .filter_map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse::<u64>().ok()))
        .sum()
}
