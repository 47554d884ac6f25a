//! Interop with the Linux kernel's TCP/IP stack through a TUN device in a network namespace.
//!
//! The test process creates a TUN device, moves its link into a fresh namespace (the file
//! descriptor keeps working), gives the kernel 198.19.X.1/24 and fd00:19::1/64 on it, and runs
//! braid-stack on the descriptor as 198.19.X.2 and fd00:19::2. The kernel's side runs inside the
//! namespace as a child process (`ip netns exec NS <this binary> --helper ...`, std::net), so this
//! file is a `harness = false` test with its own `main`.
//!
//! Checked: the kernel's `ping` (IPv4 and IPv6) is answered and the stack's echo socket gets the
//! kernel's replies; TCP and UDP to a closed port are refused (RST, ICMP port unreachable); TCP with the stack as client and as
//! server, over IPv4 and IPv6, without loss and with nftables dropping 1 % and 5 % of TCP packets
//! both ways, moves data in both directions at once with every byte verified on both sides and
//! the kernel's checksum compared.
//!
//! Sizes: a release build (`cargo test --release -p braid-stack --test kernel_interop`, which CI
//! runs) moves 100 MB each way in every case, 5 % loss included (about 40 s per 5 % case: the
//! stack's sender still takes 60–75 retransmission timeouts per 100 MB there, mostly tails where
//! the kernel's few delayed ACKs and the loss probe's answer were all dropped, against the
//! kernel's fraction of a second); a debug build moves 8 MB / 4 MB / 2 MB. `BRAID_INTEROP_MB` overrides
//! every size and `BRAID_INTEROP_LOSS` (e.g. `0,5`) the loss rates.
//!
//! Needs root, /dev/net/tun, `ip`, `nft` and `ping`. Without them it prints why and passes,
//! except under `CI=true`, where a missing prerequisite fails the test.

mod common;
mod kernel;

use std::net::IpAddr;
use std::time::Duration;

use braid_io::Tun;
use kernel::setup::{in_ci, missing_prerequisite, Namespace};
use kernel::stack_side::{kernel_hits_closed_port, kernel_pings_stack, stack_pings_kernel, transfer, Role, Stack};
use kernel::tun_device::TunDevice;

/// Pattern id of the bytes the stack sends.
pub const STACK_STREAM: u64 = 0x57ac;
/// Pattern id of the bytes the kernel sends.
pub const KERNEL_STREAM: u64 = 0x6e7e;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--helper") {
        std::process::exit(kernel::helper::main(&args[2..]));
    }
    // libtest-style arguments (`--list`, filters, `--nocapture`) are accepted; a filter that
    // does not match "kernel_interop" skips the suite.
    if args.iter().any(|a| a == "--list") {
        println!("kernel_interop: test");
        return;
    }
    let filters: Vec<&String> = args.iter().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "kernel_interop".contains(f.as_str())) {
        return;
    }
    if let Some(reason) = missing_prerequisite() {
        if in_ci() {
            eprintln!("kernel_interop FAILED: prerequisite missing under CI=true: {reason}");
            std::process::exit(1);
        }
        eprintln!("kernel_interop skipped: {reason}");
        return;
    }
    match run_suite() {
        Ok(()) => println!("kernel_interop: ok"),
        Err(e) => {
            eprintln!("kernel_interop FAILED: {e}");
            std::process::exit(1);
        }
    }
}

/// Bytes each way for a loss rate, per the build profile (see the module docs).
fn size_for(loss: u32) -> u64 {
    if let Some(mb) = std::env::var("BRAID_INTEROP_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
        return mb * 1_000_000;
    }
    let mb = match (cfg!(debug_assertions), loss) {
        (false, _) => 100,
        (true, 0) => 8,
        (true, 1) => 4,
        (true, _) => 2,
    };
    mb * 1_000_000
}

fn run_suite() -> Result<(), String> {
    let id = std::process::id();
    let subnet = 20 + id % 200;
    let name = format!("bst{}", id % 100_000);
    let ns = Namespace::create(&format!("braidstack{id}"))?;
    let tun = Tun::create(&name).map_err(|e| format!("create TUN {name}: {e}"))?;
    let kernel4: IpAddr = format!("198.19.{subnet}.1").parse().map_err(|e| format!("{e}"))?;
    let stack4: IpAddr = format!("198.19.{subnet}.2").parse().map_err(|e| format!("{e}"))?;
    let kernel6: IpAddr = "fd00:19::1".parse().map_err(|e| format!("{e}"))?;
    let stack6: IpAddr = "fd00:19::2".parse().map_err(|e| format!("{e}"))?;
    ns.adopt_link(&name, &kernel4.to_string(), &kernel6.to_string())?;
    let device = TunDevice::new(tun, 1500).map_err(|e| format!("poller: {e}"))?;
    let mut stack = Stack::new(device, [stack4, stack6]);
    let started = std::time::Instant::now();

    for target in [stack4, stack6] {
        kernel_pings_stack(&mut stack, &ns, target, 3)?;
        println!("kernel pings {target}: 3/3 answered");
    }
    for target in [kernel4, kernel6] {
        stack_pings_kernel(&mut stack, target, 3)?;
        println!("stack pings {target} through an echo socket: 3/3 answered");
    }
    for target in [stack4, stack6] {
        kernel_hits_closed_port(&mut stack, &ns, target)?;
        println!("kernel to closed port {target}:9: TCP refused by RST, UDP refused by ICMP port unreachable");
    }

    let mut failures = Vec::new();
    let losses: Vec<u32> = match std::env::var("BRAID_INTEROP_LOSS") {
        Ok(list) => list.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        Err(_) => vec![0, 1, 5],
    };
    for loss in losses {
        ns.set_tcp_loss(loss)?;
        let bytes = size_for(loss);
        for (kernel, family) in [(kernel4, "IPv4"), (kernel6, "IPv6")] {
            for role in [Role::StackClient, Role::StackServer] {
                let label = format!("{family} {role:?} {loss}% loss, {} MB each way", bytes / 1_000_000);
                match transfer(&mut stack, &ns, role, kernel, bytes, Duration::from_secs(120)) {
                    Ok(report) => {
                        let rate = 2.0 * bytes as f64 / report.elapsed.as_secs_f64() / 1e6;
                        println!(
                            "{label}: ok in {:.2} s ({rate:.1} MB/s both ways together; kernel→stack done at \
                             {:.2} s, stack→kernel acknowledged at {:.2} s); the stack retransmitted {} segments ({} timeouts, \
                             {} fast retransmits); kernel: {}",
                            report.elapsed.as_secs_f64(),
                            report.received_at.as_secs_f64(),
                            report.acked_at.as_secs_f64(),
                            report.retransmitted,
                            report.timeouts,
                            report.fast_retransmits,
                            report.kernel_line
                        );
                    }
                    Err(e) => {
                        println!("{label}: FAILED: {e}");
                        failures.push(format!("{label}: {e}"));
                    }
                }
                // Let the finished connection's close complete before the next one.
                stack.run_for(Duration::from_millis(50));
            }
        }
    }
    ns.set_tcp_loss(0)?;
    let c = stack.iface.counters();
    println!(
        "suite took {:.1} s; interface: rx {} tx {} packets, {} bad checksums, {} malformed, {} device refusals",
        started.elapsed().as_secs_f64(),
        c.rx_packets,
        c.tx_packets,
        c.ipv4_bad_checksum + c.tcp_bad_checksum + c.udp_bad_checksum + c.icmp_bad_checksum,
        c.ip_malformed + c.tcp_malformed,
        stack.device.tx_refused
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
