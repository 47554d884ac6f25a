//! The test's environment: prerequisites (with the skip/fail rule), a network namespace holding
//! the kernel's end of a TUN device, and nftables loss rules in it. Everything is created under a
//! unique name and removed when its guard drops, on every exit path.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// True when running under CI (`CI=true`), where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// The effective UID, read from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Finds `tool` on `PATH` or in the sbin directories.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|dir| !dir.is_empty())
        .map(|dir| PathBuf::from(dir).join(tool))
        .find(|candidate| candidate.is_file());
    found
}

/// Why the suite cannot run here, if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    if effective_uid() != Some(0) {
        return Some("not running as root (network namespaces and TUN need CAP_NET_ADMIN)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun does not exist".into());
    }
    let missing: Vec<&str> = ["ip", "nft", "ping"].into_iter().filter(|t| find_tool(t).is_none()).collect();
    if !missing.is_empty() {
        return Some(format!("missing tools: {} (apt-get install iproute2 nftables iputils-ping)", missing.join(", ")));
    }
    None
}

/// Runs a command to completion; an error carries its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<Output, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output)
}

/// A network namespace, deleted on drop.
pub struct Namespace {
    pub name: String,
}

impl Namespace {
    /// Creates namespace `name` with its loopback up.
    pub fn create(name: &str) -> Result<Namespace, String> {
        run("ip", &["netns", "add", name])?;
        let ns = Namespace { name: name.to_owned() };
        ns.exec("ip", &["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A command that will run inside the namespace (for long-running children).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Moves link `link` (still in our namespace) into this one and configures the kernel's
    /// addresses on it: `v4`/24 and `v6`/64, without duplicate address detection.
    pub fn adopt_link(&self, link: &str, v4: &str, v6: &str) -> Result<(), String> {
        run("ip", &["link", "set", link, "netns", &self.name])?;
        self.exec("ip", &["addr", "add", &format!("{v4}/24"), "dev", link])?;
        self.exec("ip", &["-6", "addr", "add", &format!("{v6}/64"), "dev", link, "nodad"])?;
        self.exec("ip", &["link", "set", link, "up"])?;
        Ok(())
    }

    /// Drops `percent` % of TCP packets in both directions at random (nftables `numgen`), or
    /// removes the rules for 0.
    pub fn set_tcp_loss(&self, percent: u32) -> Result<(), String> {
        let _ = self.exec("nft", &["delete", "table", "inet", "braidloss"]);
        if percent == 0 {
            return Ok(());
        }
        let rule = format!("meta l4proto tcp numgen random mod 100 < {percent} drop");
        self.exec("nft", &["add", "table", "inet", "braidloss"])?;
        for (chain, hook) in [("rx", "input"), ("tx", "output")] {
            let spec = format!("{{ type filter hook {hook} priority 0 ; policy accept ; }}");
            self.exec("nft", &["add", "chain", "inet", "braidloss", chain, &spec])?;
            let mut args = vec!["add", "rule", "inet", "braidloss", chain];
            args.extend(rule.split(' '));
            self.exec("nft", &args)?;
        }
        Ok(())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}
