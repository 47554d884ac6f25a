//! Whether this machine can run a namespace test, and the skip/fail rule when it cannot.
//!
//! Outside CI a missing prerequisite (not root, no `/dev/net/tun`, a tool not installed) skips the
//! test with a printed reason. In CI (`CI=true`) the same condition is a failure, because CI
//! installs everything and a silent skip would hide a broken pipeline. The skip line is written
//! straight to the process's stderr so it shows even when libtest captures test output.

use std::io::Write;
use std::path::PathBuf;

/// True when running under CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Prints a line that bypasses libtest's output capture.
pub fn notice(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The effective UID from `/proc/self/status` (no libc needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Finds `tool` on `PATH` (plus the sbin directories `ip` and `nft` live in).
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path.split(':').chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
        let candidate = PathBuf::from(dir).join(tool);
        if !dir.is_empty() && candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

/// Checks root, `/dev/net/tun`, `ip netns` and every tool in `tools`; the error is the reason.
pub fn check(tools: &[&str]) -> Result<(), String> {
    if effective_uid() != Some(0) {
        return Err("not running as root (network namespaces need CAP_NET_ADMIN)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun does not exist".into());
    }
    let missing: Vec<&str> = ["ip"].iter().chain(tools).copied().filter(|t| find_tool(t).is_none()).collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing tools: {} (apt-get install --no-install-recommends wireguard-go wireguard-tools iperf3 \
             nftables iputils-ping iproute2 python3 util-linux curl)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Applies the skip/fail rule: `Ok` → run; otherwise print and return false, or panic in CI.
#[track_caller]
pub fn ready(test: &str, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => true,
        Err(reason) if in_ci() => panic!("{test}: prerequisite missing in CI: {reason}"),
        Err(reason) => {
            notice(&format!("SKIP {test}: {reason}"));
            false
        }
    }
}
