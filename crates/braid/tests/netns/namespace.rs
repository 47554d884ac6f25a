//! A network namespace owned by one test, and veth links between namespaces.
//!
//! Drop first stops whatever still runs inside the namespace (listed by `ip netns pids`, signalled
//! by PID: these can only be processes this test started, e.g. a daemon `wg-quick` forked) and then
//! deletes the namespace, which also destroys its veth ends and any interface left in it.

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::command::{self, Output};
use super::process::Process;

/// Default deadline for short configuration commands (`ip`, `wg`, `sysctl`, `nft`).
pub const SHORT: Duration = Duration::from_secs(10);

/// A uniquely named network namespace with loopback up and IPv6 DAD disabled.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace, brings `lo` up and turns off duplicate address detection (so IPv6
    /// addresses work at once) and enables promotion of secondary IPv4 addresses (so removing an
    /// address in a roaming test does not remove the new one with it).
    pub fn new() -> Netns {
        let name = super::names::netns_name();
        command::run("ip", &["netns", "add", &name], SHORT).expect_success();
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        for (key, value) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv4.conf.all.promote_secondaries", "1"),
            ("net.ipv4.conf.default.promote_secondaries", "1"),
        ] {
            ns.sysctl(key, value);
        }
        ns
    }

    /// The namespace's name (for `ip netns exec` / `ip -n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `args` inside the namespace with a deadline.
    pub fn exec(&self, args: &[&str], timeout: Duration) -> Output {
        self.exec_env(args, &[], timeout)
    }

    /// Runs `args` inside the namespace with extra environment variables and a deadline.
    pub fn exec_env(&self, args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        command::run_with("ip", &full, envs, None, timeout)
    }

    /// Runs `args` inside the namespace and panics unless it succeeds; returns stdout.
    #[track_caller]
    pub fn exec_ok(&self, args: &[&str]) -> String {
        self.exec(args, SHORT).expect_success()
    }

    /// `ip -n NS args…`, panicking on failure; returns stdout.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        command::run("ip", &full, SHORT).expect_success()
    }

    /// Sets sysctl `key` (dotted form) to `value` inside the namespace by writing `/proc/sys`
    /// from a shell run there (`/proc/sys/net` shows the writer's namespace), so procps is not
    /// needed. Panics on failure.
    #[track_caller]
    pub fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.exec_ok(&["sh", "-c", "printf '%s\\n' \"$2\" > \"$1\"", "sh", &path, value]);
    }

    /// Sends `signal` (e.g. `-TERM`) to `pid` with the shell's `kill` builtin.
    pub fn signal(pid: u32, signal: &str) {
        let _ = command::run("sh", &["-c", "kill \"$1\" \"$2\" 2>/dev/null", "sh", signal, &pid.to_string()], SHORT);
    }

    /// Starts `args` in the background inside the namespace (`ip netns exec` execs, so the PID
    /// we hold is the program's own); output goes to `log`.
    pub fn spawn(&self, label: &str, args: &[&str], envs: &[(&str, &str)], log: PathBuf) -> Process {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        Process::spawn(label, "ip", &full, envs, log)
    }

    /// PIDs of processes currently in the namespace.
    pub fn pids(&self) -> Vec<u32> {
        let out = command::run("ip", &["netns", "pids", &self.name], SHORT);
        out.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect()
    }

    /// Whether interface `ifname` exists in the namespace.
    pub fn has_link(&self, ifname: &str) -> bool {
        command::run("ip", &["-n", &self.name, "link", "show", "dev", ifname], SHORT).success()
    }

    /// Adds an address (IPv6 ones with `nodad`) to `dev`.
    #[track_caller]
    pub fn addr_add(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev]);
        }
    }

    /// Sets `dev` up.
    #[track_caller]
    pub fn link_up(&self, dev: &str) {
        self.ip(&["link", "set", "dev", dev, "up"]);
    }

    /// Sets the MTU of `dev`.
    #[track_caller]
    pub fn set_mtu(&self, dev: &str, mtu: u32) {
        self.ip(&["link", "set", "dev", dev, "mtu", &mtu.to_string()]);
    }

    /// The MTU of `dev` as the kernel reports it.
    pub fn mtu(&self, dev: &str) -> u32 {
        let text = self.ip(&["-o", "link", "show", "dev", dev]);
        let mut words = text.split_whitespace();
        while let Some(word) = words.next() {
            if word == "mtu" {
                return words.next().and_then(|m| m.parse().ok()).expect("mtu value");
            }
        }
        panic!("no mtu in {text}");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Bounded: a few rounds of TERM then KILL to whatever is left, by PID.
        for (round, signal) in ["-TERM", "-TERM", "-KILL", "-KILL"].iter().enumerate() {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in &pids {
                Netns::signal(*pid, signal);
            }
            let deadline = Instant::now() + Duration::from_millis(500 * (round as u64 + 1));
            while Instant::now() < deadline && !self.pids().is_empty() {
                thread::sleep(Duration::from_millis(20));
            }
        }
        let out = command::run("ip", &["netns", "del", &self.name], SHORT);
        if !out.success() {
            super::prereq::notice(&format!("warning: could not delete namespace: {}", out.describe()));
        }
    }
}

/// Creates a veth pair with end `name_a` in `a` and `name_b` in `b`, both up, with `mtu`.
#[track_caller]
pub fn veth(a: &Netns, name_a: &str, b: &Netns, name_b: &str, mtu: u32) {
    command::run(
        "ip",
        &[
            "link",
            "add",
            name_a,
            "netns",
            a.name(),
            "mtu",
            &mtu.to_string(),
            "type",
            "veth",
            "peer",
            "name",
            name_b,
            "netns",
            b.name(),
            "mtu",
            &mtu.to_string(),
        ],
        SHORT,
    )
    .expect_success();
    a.link_up(name_a);
    b.link_up(name_b);
}
