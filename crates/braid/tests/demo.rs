//! The README's main command: `braid demo` (also `braid` with no arguments) must work on a
//! fresh machine for anyone — no root, no config. With root, `braid demo --live` runs the
//! two-namespace demo with real daemons and TUN devices.

use std::process::Command;

fn braid(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_braid")).args(args).output().expect("run braid");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_demo_moves_a_checksummed_transfer_through_two_embedded_tunnels() {
    let (ok, text) = braid(&["demo", "--size", "8M"]);
    assert!(ok, "{text}");
    for needle in [
        "handshake ",
        "ping 198.19.0.2 through the tunnel: min",
        "ping fd00:19::2 through the tunnel:   min",
        "8.00 MiB from A to B",
        "verified by both ends",
        "events     at A: handshake completed (A initiated)",
        "interface: demo-a",
        "interface: demo-b",
        "packet side: in-process",
        "latest handshake",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(!text.contains("MISMATCH"), "{text}");
}

#[test]
fn a_bad_size_is_a_clear_error() {
    let (ok, text) = braid(&["demo", "--size", "lots"]);
    assert!(!ok);
    assert!(text.contains("`lots` is not a size"), "{text}");
}

#[test]
fn the_simulator_demo_says_how_to_get_it_when_it_is_not_built_in() {
    let (ok, text) = braid(&["demo", "--sim"]);
    if cfg!(feature = "simulator") {
        assert!(ok && text.contains("rekey"), "{text}");
    } else {
        assert!(!ok);
        assert!(text.contains("cargo run -p braid-sim --example demo"), "{text}");
    }
}

#[test]
fn the_live_demo_runs_with_root() {
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    let has_ping = Command::new("ping").arg("-V").output().is_ok();
    if !is_root || !has_ping {
        assert!(std::env::var("CI").is_err(), "CI runs as root with ping installed");
        eprintln!("skipping the live demo: needs root and ping");
        return;
    }
    let (ok, text) = braid(&["demo", "--live"]);
    assert!(ok, "{text}");
    assert!(text.contains("ping through the tunnel (ok)"), "{text}");
    assert!(text.contains("3 packets transmitted, 3 received"), "{text}");
    assert!(text.contains("latest handshake"), "{text}");
}
