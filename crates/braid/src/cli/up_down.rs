//! `braid up FILE` and `braid down INTERFACE|FILE`: bring a tunnel up from a wg-quick style
//! file without wg-quick, and take it down again.
//!
//! Everything that can be checked is checked before anything changes (the file, endpoint
//! names, the interface name being free, tools the file needs); if a step fails after the
//! daemon started, the interface is removed again, so a failed `up` leaves nothing behind.

use super::uapi_client;
use crate::config::{load_config_file, ConfigFile, DnsEntry, TunnelConfig};
use crate::daemon::socket_path;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// MTU when the file sets none (wireguard-go's default; wg-quick would probe the route).
const DEFAULT_MTU: u16 = 1420;

fn fail(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn interface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The only `PATH` the tools and hooks `up` and `down` run see: a caller's `PATH` (or any
/// other variable) never decides what runs as root.
const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `program` with a fixed environment: `PATH` as above and nothing else from the caller.
fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env_clear().env("PATH", SAFE_PATH);
    command
}

fn run(program: &str, args: &[&str]) -> io::Result<()> {
    let out = command(program).args(args).output().map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("`{program} {}` failed: {}", args.join(" "), stderr.trim())));
    }
    Ok(())
}

fn run_hooks(hooks: &[String], interface: &str) -> io::Result<()> {
    for hook in hooks {
        let cmd = hook.replace("%i", interface);
        run("sh", &["-c", &cmd])?;
    }
    Ok(())
}

fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "-4"
    } else {
        "-6"
    }
}

/// What `up` will do, decided before anything changes.
struct Plan {
    routes: Vec<(IpAddr, u8)>,
    uapi: zeroize::Zeroizing<String>,
}

fn plan(file: &ConfigFile) -> io::Result<Plan> {
    let config: &TunnelConfig = &file.config;
    let name = &file.interface_name;
    if interface_exists(name) {
        return Err(fail(format!("interface {name} already exists")));
    }
    let manage_routes = !config.table.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("off"));
    let mut routes = Vec::new();
    if manage_routes {
        for peer in &config.peers {
            for &(addr, len) in &peer.allowed_ips {
                if len == 0 {
                    return Err(fail(format!(
                        "{}: line {}: AllowedIPs {addr}/0 needs policy routing, which braid up does not \
                         manage yet; set `Table = off` and route it yourself, or use wg-quick with \
                         WG_QUICK_USERSPACE_IMPLEMENTATION=braid",
                        name, peer.line
                    )));
                }
                routes.push((addr, len));
            }
        }
    }
    if !config.dns.is_empty() && command("resolvconf").arg("--version").output().is_err() {
        return Err(fail("DNS is set but resolvconf is not installed".to_owned()));
    }
    let uapi = crate::config::to_uapi_set(config).map_err(|e| fail(e.to_string()))?;
    Ok(Plan { routes, uapi })
}

/// Removes a braid interface by removing its control socket (the daemon then exits and its
/// TUN goes with it), and waits for it to be gone. Only an interface a live braid (or
/// wireguard-go) daemon serves is touched: a link of that name without one is somebody
/// else's, and is left alone.
fn remove_interface(name: &str) -> io::Result<()> {
    let path = socket_path(name)?;
    if uapi_client::request(name, "get=1\n\n").is_err() {
        // A socket file nobody answers on was left by a daemon that died: it goes, but a link
        // of that name is not ours to delete.
        let _ = std::fs::remove_file(&path);
        return Err(fail(format!("{name} is not served by a braid daemon (nothing answers on {})", path.display())));
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(format!("cannot remove {}: {e}", path.display()))),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while interface_exists(name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if interface_exists(name) {
        return Err(fail(format!("the daemon of {name} did not exit within 5 s of its socket's removal")));
    }
    Ok(())
}

fn configure(file: &ConfigFile, plan: &Plan) -> io::Result<()> {
    let name = &file.interface_name;
    let config = &file.config;
    let reply = uapi_client::request(name, &plan.uapi)?;
    if reply.errno != 0 {
        return Err(fail(format!("the daemon refused the configuration (errno={})", reply.errno)));
    }
    for (addr, len) in &config.addresses {
        run("ip", &[family(addr), "address", "add", &format!("{addr}/{len}"), "dev", name])?;
    }
    let mtu = config.mtu.unwrap_or(DEFAULT_MTU).to_string();
    run("ip", &["link", "set", "mtu", &mtu, "up", "dev", name])?;
    for (addr, len) in &plan.routes {
        let prefix = format!("{addr}/{len}");
        // `replace`: a prefix an Address already routes here is not an error.
        run("ip", &[family(addr), "route", "replace", &prefix, "dev", name])?;
    }
    if !config.dns.is_empty() {
        let mut input = String::new();
        for entry in &config.dns {
            match entry {
                DnsEntry::Server(ip) => input.push_str(&format!("nameserver {ip}\n")),
                DnsEntry::SearchDomain(d) => input.push_str(&format!("search {d}\n")),
            }
        }
        let mut child = command("resolvconf")
            .args(["-a", &format!("tun.{name}"), "-m", "0", "-x"])
            .stdin(std::process::Stdio::piped())
            .spawn()?;
        if let Some(stdin) = child.stdin.as_mut() {
            use std::io::Write;
            stdin.write_all(input.as_bytes())?;
        }
        if !child.wait()?.success() {
            return Err(fail("resolvconf failed"));
        }
    }
    run_hooks(&config.post_up, name)
}

/// `braid up FILE`: returns once the tunnel is configured and addressed, the daemon running.
pub fn up(path: &Path) -> io::Result<String> {
    let file = load_config_file(path).map_err(|e| fail(e.to_string()))?;
    if file.readable_by_others {
        eprintln!("braid: warning: {} is readable by others, and it holds a private key", path.display());
    }
    let plan = plan(&file)?;
    let name = &file.interface_name;
    run_hooks(&file.config.pre_up, name)?;
    let exe = std::env::current_exe()?;
    // `--`: whatever the name, it is never taken for an option.
    let status = Command::new(&exe).arg("--").arg(name).status()?;
    if !status.success() {
        return Err(fail(format!("the braid daemon for {name} did not start ({status})")));
    }
    if let Err(e) = configure(&file, &plan) {
        let _ = remove_interface(name);
        return Err(e);
    }
    Ok(format!("{name} is up\n"))
}

/// `braid down INTERFACE` or `braid down FILE` (which also runs its PreDown/PostDown hooks).
pub fn down(target: &str) -> io::Result<String> {
    let path = Path::new(target);
    let file = if target.ends_with(".conf") || path.is_file() {
        Some(load_config_file(path).map_err(|e| fail(e.to_string()))?)
    } else {
        None
    };
    let name = file.as_ref().map_or(target, |f| f.interface_name.as_str()).to_owned();
    crate::config::check_interface_name(&name)?;
    if !interface_exists(&name) && !socket_path(&name)?.exists() {
        return Err(fail(format!("{name} is not a running interface")));
    }
    if let Some(f) = &file {
        run_hooks(&f.config.pre_down, &name)?;
        if !f.config.dns.is_empty() {
            let _ = run("resolvconf", &["-d", &format!("tun.{name}"), "-f"]);
        }
    }
    remove_interface(&name)?;
    if let Some(f) = &file {
        run_hooks(&f.config.post_down, &name)?;
    }
    Ok(format!("{name} is down\n"))
}
