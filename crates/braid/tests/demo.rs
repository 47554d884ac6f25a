//! The README's main command: `braid` with no arguments must work on a fresh machine. As
//! root it runs the live demo (namespaces, two daemons, a ping through the tunnel); anywhere
//! the simulator demo runs.

use std::process::Command;

fn braid(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_braid")).args(args).output().expect("run braid");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn simulator_demo_tells_the_whole_story() {
    let (ok, text) = braid(&["demo", "--sim"]);
    assert!(ok, "{text}");
    for needle in
        ["handshake initiation (148 B)", "handshake response (92 B)", "rekey", "roam", "duplicates 0, corrupted 0"]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn default_command_runs_the_live_demo_as_root() {
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    let has_ping = Command::new("ping").arg("-V").output().is_ok();
    if !is_root || !has_ping {
        assert!(std::env::var("CI").is_err(), "CI runs as root with ping installed");
        eprintln!("skipping the live demo: needs root and ping");
        return;
    }
    let (ok, text) = braid(&[]);
    assert!(ok, "{text}");
    assert!(text.contains("ping through the tunnel (ok)"), "{text}");
    assert!(text.contains("3 packets transmitted, 3 received"), "{text}");
    assert!(text.contains("latest handshake"), "{text}");
}
