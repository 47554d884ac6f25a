//! Bulk TCP between the Linux kernel's stack and a userspace stack over a TUN device:
//! braid-stack and smoltcp 0.12 side by side in the same run, on the same TUN driver
//! (`braid_io::Tun`), with the ratio between them.
//!
//! The bench creates a TUN device, moves its link into a fresh network namespace (the descriptor
//! keeps working) and gives the kernel 198.19.X.1/24 there; the userspace stack runs in this
//! process as 198.19.X.2. For each run a child process inside the namespace (this binary with
//! `--kernel-side`, std::net) listens; the stack connects and either sends `BRAID_TUN_MB`
//! (default 200) megabytes to it ("upload": the kernel reads until the stack's FIN) or receives
//! as much from it ("download"). The time runs from connect to the kernel's FIN. 256 KiB socket
//! buffers on the stack's side (with 1 MiB, smoltcp 0.12.0 panics in `last_scaled_window`
//! while receiving from the kernel, smoltcp issue #1048), checksums computed and verified by
//! both stacks, the stack's loop
//! sleeping on the descriptor (mio) whenever it has nothing to do. Runs alternate between the
//! stacks; each cell is the median of `BRAID_TUN_RUNS` (default 7) runs and, in brackets, the
//! best one.
//!
//! Needs root, /dev/net/tun and `ip`; otherwise it prints why and exits successfully.
//!
//! `BRAID_TUN_VERBOSE=1` also prints every run with the packets it read and wrote.
//!
//! `cargo bench -p braid-stack --bench tun`

#[path = "tun/braid_side.rs"]
mod braid_side;
#[path = "tun/kernel_side.rs"]
mod kernel_side;
#[path = "tun/link.rs"]
mod link;
#[path = "../tests/kernel/setup.rs"]
#[allow(dead_code)] // shared with the kernel interop test, which uses all of it
mod setup;
#[path = "tun/smoltcp_side.rs"]
mod smoltcp_side;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Stdio};
use std::time::Duration;

use braid_io::Tun;
use link::TunLink;
use setup::{find_tool, Namespace};

/// Socket buffer size on the userspace side, for both stacks.
pub const BUFFER: usize = 256 * 1024;
/// Longest sleep of an idle stack loop.
pub const IDLE_CAP: Duration = Duration::from_millis(5);
/// Longest a single run may take before it counts as failed.
const LIMIT: Duration = Duration::from_secs(60);

/// Which way the data flows, seen from the userspace stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Stack → kernel.
    Upload,
    /// Kernel → stack.
    Download,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StackKind {
    Braid,
    Smoltcp,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--kernel-side") {
        std::process::exit(kernel_side::main(&args[2..]));
    }
    if let Some(reason) = missing_prerequisite() {
        println!("tun bench skipped: {reason}");
        return;
    }
    if let Err(e) = run() {
        eprintln!("tun bench FAILED: {e}");
        std::process::exit(1);
    }
}

/// Why the bench cannot run here (it needs less than the interop test: no nft, no ping).
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2));
    if uid != Some("0") {
        return Some("not running as root (network namespaces and TUN need CAP_NET_ADMIN)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun does not exist".into());
    }
    if find_tool("ip").is_none() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    None
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run() -> Result<(), String> {
    let mb = env_number("BRAID_TUN_MB", 200);
    let runs = env_number("BRAID_TUN_RUNS", 7).max(1) as usize;
    let bytes = mb * 1_000_000;
    let id = std::process::id();
    let subnet = 20 + id % 200;
    let name = format!("btb{}", id % 100_000);
    let ns = Namespace::create(&format!("braidtunbench{id}"))?;
    let tun = Tun::create(&name).map_err(|e| format!("create TUN {name}: {e}"))?;
    let kernel: IpAddr = format!("198.19.{subnet}.1").parse().map_err(|e| format!("{e}"))?;
    let local: IpAddr = format!("198.19.{subnet}.2").parse().map_err(|e| format!("{e}"))?;
    ns.adopt_link(&name, &kernel.to_string(), "fd00:19::1")?;
    let mut link = TunLink::new(tun, 1500).map_err(|e| format!("poller: {e}"))?;
    let mut port = 5300u16;
    println!("bulk TCP between the kernel (in a namespace) and a userspace stack over TUN, {mb} MB per run,");
    println!("median [best] of {runs} runs, MB/s (1 MB = 10^6 bytes)");
    println!("| MTU | direction | braid-stack | smoltcp 0.12 | braid / smoltcp |");
    println!("|---|---|---|---|---|");
    for mtu in [1500usize, 9000] {
        ns.exec("ip", &["link", "set", "dev", &name, "mtu", &mtu.to_string()])?;
        link.set_mtu(mtu);
        for direction in [Direction::Upload, Direction::Download] {
            let mut times: [Vec<Duration>; 2] = Default::default();
            // One warm-up run of each, then alternate so load changes hit both alike.
            for round in 0..=runs {
                for (slot, kind) in [StackKind::Braid, StackKind::Smoltcp].into_iter().enumerate() {
                    port = port.wrapping_add(1).max(5300);
                    let elapsed = one_run(&ns, &mut link, kind, (local, kernel, port), direction, bytes)?;
                    if round > 0 {
                        times[slot].push(elapsed);
                    }
                }
            }
            let rate = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
            let [braid, smol] = times.map(|mut t| {
                t.sort_unstable();
                (rate(t[t.len() / 2]), rate(t[0]))
            });
            println!(
                "| {mtu} | {} | {:.0} [{:.0}] | {:.0} [{:.0}] | {:.2}× [{:.2}×] |",
                match direction {
                    Direction::Upload => "stack → kernel",
                    Direction::Download => "kernel → stack",
                },
                braid.0,
                braid.1,
                smol.0,
                smol.1,
                braid.0 / smol.0,
                braid.1 / smol.1
            );
        }
    }
    Ok(())
}

/// Starts the kernel's side on `port`, runs one transfer with `kind`, and checks the kernel's
/// report; returns the stack's time.
fn one_run(
    ns: &Namespace,
    link: &mut TunLink,
    kind: StackKind,
    (local, kernel, port): (IpAddr, IpAddr, u16),
    direction: Direction,
    bytes: u64,
) -> Result<Duration, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_str().ok_or("non-UTF-8 bench path")?;
    let addr = SocketAddr::new(kernel, port);
    let mode = match direction {
        Direction::Upload => "sink",
        Direction::Download => "source",
    };
    let mut child = ns
        .command(exe)
        .args(["--kernel-side", &addr.to_string(), mode, &bytes.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn kernel side: {e}"))?;
    let mut reader = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if line.trim() != "ready" {
        return Err(abandon(child, format!("kernel side did not start: {line:?}")));
    }
    link.drain();
    let (rx_before, tx_before) = (link.rx_packets, link.tx_packets);
    let result = match kind {
        StackKind::Braid => braid_side::transfer(link, local, addr, direction, bytes, LIMIT),
        StackKind::Smoltcp => smoltcp_side::transfer(link, local, port + 20_000, addr, direction, bytes, LIMIT),
    };
    let elapsed = match result {
        Ok(elapsed) => elapsed,
        Err(e) => return Err(abandon(child, format!("{kind:?} {direction:?}: {e}"))),
    };
    if std::env::var_os("BRAID_TUN_VERBOSE").is_some() {
        eprintln!(
            "{kind:?} {direction:?} MTU {}: {:.0} MB/s, {} packets in, {} out",
            link.mtu(),
            bytes as f64 / elapsed.as_secs_f64() / 1e6,
            link.rx_packets - rx_before,
            link.tx_packets - tx_before
        );
    }
    line.clear();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() || line.trim() != format!("ok {bytes}") {
        return Err(format!("{kind:?} {direction:?}: kernel side reported {:?} ({status})", line.trim()));
    }
    Ok(elapsed)
}

/// Kills a kernel side that is no longer needed and passes the error on.
fn abandon(mut child: Child, error: String) -> String {
    let _ = child.kill();
    let _ = child.wait();
    error
}
