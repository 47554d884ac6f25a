//! `braid demo --live` (root): the daemon in miniature. Two network namespaces joined by a
//! veth pair, a braid daemon in each (real TUN devices, real UDP, configured over the UAPI
//! exactly as `wg` would), a ping through the tunnel, and both sides' `show`. Everything it
//! creates is removed again, by PID and by the names it made up, on every exit path.

use crate::cli::{show, uapi_client};
use crate::keys::{genkey, key_to_hex, pubkey};
use rand_chacha::rand_core::SeedableRng;
use std::fmt::Write as _;
use std::io;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the live demo can run here (root, `ip`, `/dev/net/tun`), or what it lacks.
pub fn available() -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        return Err("root (network namespaces and TUN devices)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("`ip netns` (iproute2)".into()),
    }
}

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM by PID (the daemon removes its socket and interface), then reap it.
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn wait_for_socket(name: &str) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if uapi_client::request(name, "get=1\n\n").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::other(format!("the daemon for {name} did not come up")))
}

/// Runs the live demo and returns its report.
pub fn run() -> io::Result<String> {
    let exe = std::env::current_exe()?;
    let tag = std::process::id() % 100_000;
    let mut rng = rand_chacha::ChaCha20Rng::from_os_rng();
    let (ns_a, ns_b) = (format!("braid-demo-{tag}-a"), format!("braid-demo-{tag}-b"));
    let (wg_a, wg_b) = (format!("bdemo{tag}a"), format!("bdemo{tag}b"));
    let (veth_a, veth_b) = (format!("bdv{tag}a"), format!("bdv{tag}b"));
    let mut out = String::new();
    let _ = writeln!(out, "braid live demo: two namespaces, a braid daemon in each, WireGuard between them\n");

    ip(&["netns", "add", &ns_a])?;
    let _guard_a = Namespace(ns_a.clone());
    ip(&["netns", "add", &ns_b])?;
    let _guard_b = Namespace(ns_b.clone());
    ip(&["link", "add", &veth_a, "netns", &ns_a, "type", "veth", "peer", "name", &veth_b, "netns", &ns_b])?;
    for (ns, dev, addr) in [(&ns_a, &veth_a, "198.18.0.1/24"), (&ns_b, &veth_b, "198.18.0.2/24")] {
        ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    let spawn = |ns: &str, name: &str| -> io::Result<Daemon> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&exe)
            .args(["-f", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Daemon)
    };
    let _daemon_a = spawn(&ns_a, &wg_a)?;
    let _daemon_b = spawn(&ns_b, &wg_b)?;
    wait_for_socket(&wg_a)?;
    wait_for_socket(&wg_b)?;

    let (key_a, key_b) = (genkey(&mut rng), genkey(&mut rng));
    let (pub_a, pub_b) = (pubkey(&key_a), pubkey(&key_b));
    for (name, key, peer, endpoint, allowed) in [
        (&wg_a, &key_a, &pub_b, "198.18.0.2:51820", "198.19.0.2/32"),
        (&wg_b, &key_b, &pub_a, "198.18.0.1:51820", "198.19.0.1/32"),
    ] {
        let request = zeroize::Zeroizing::new(format!(
            "set=1\nprivate_key={}\nlisten_port=51820\npublic_key={}\nendpoint={endpoint}\nallowed_ip={allowed}\n\n",
            key_to_hex(key.expose()),
            key_to_hex(peer)
        ));
        let reply = uapi_client::request(name, &request)?;
        if reply.errno != 0 {
            return Err(io::Error::other(format!("configuring {name} failed: errno={}", reply.errno)));
        }
    }
    for (ns, dev, addr) in [(&ns_a, &wg_a, "198.19.0.1/24"), (&ns_b, &wg_b, "198.19.0.2/24")] {
        ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
    }
    let _ = writeln!(out, "  {ns_a}: {wg_a} 198.19.0.1, underlay 198.18.0.1:51820");
    let _ = writeln!(out, "  {ns_b}: {wg_b} 198.19.0.2, underlay 198.18.0.2:51820\n");

    match Command::new("ip")
        .args(["netns", "exec", &ns_a, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.19.0.2"])
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let _ = writeln!(out, "ping through the tunnel ({}):", if o.status.success() { "ok" } else { "FAILED" });
            for line in text.lines().filter(|l| !l.is_empty()) {
                let _ = writeln!(out, "  {line}");
            }
            if !o.status.success() {
                return Err(io::Error::other(format!("{out}\nping through the tunnel failed")));
            }
        }
        Err(_) => {
            let _ = writeln!(out, "(ping is not installed: skipping the ping; install iputils-ping)");
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    for name in [&wg_a, &wg_b] {
        let state = show::query(name)?;
        let _ = writeln!(out, "\n{}", show::render_text(&state, now).trim_end());
    }
    let _ = writeln!(out, "\ncleaning up: daemons stopped, namespaces deleted ({wg_a} and {wg_b} removed)");
    Ok(out)
}
