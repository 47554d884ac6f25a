//! The two WireGuard userspace implementations under test, and one running daemon of either.
//!
//! Both speak the same CLI (`PROGRAM -f IFNAME`: create the TUN interface in the current
//! namespace, serve the UAPI at `/var/run/wireguard/IFNAME.sock`, stay in the foreground), so the
//! suite treats them alike and every scenario runs for each pairing.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::namespace::Netns;
use super::process::Process;

/// Where wireguard-go and braid put their UAPI sockets (shared by every namespace).
pub const SOCKET_DIR: &str = "/var/run/wireguard";
/// How long a daemon may take to create its interface and socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A WireGuard implementation the suite can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// Debian's `wireguard-go` (the reference userspace implementation).
    WireguardGo,
    /// This project's `braid` binary, built by cargo for this test.
    Braid,
    /// `braid` on a multi-queue TUN interface: [`MULTI_QUEUE`] queues, a lane thread each,
    /// every data-path thread pinned to a CPU (`BRAID_PIN_CPUS=1`).
    BraidMultiQueue,
}

/// Queues of a [`Impl::BraidMultiQueue`] interface: more than this machine's cores, so lanes
/// contend for the device as they would on a busy large machine.
pub const MULTI_QUEUE: usize = 4;

impl Impl {
    /// The program to execute.
    pub fn program(self) -> String {
        match self {
            Impl::WireguardGo => "wireguard-go".to_string(),
            Impl::Braid | Impl::BraidMultiQueue => env!("CARGO_BIN_EXE_braid").to_string(),
        }
    }

    /// A short name for test names and messages.
    pub fn short(self) -> &'static str {
        match self {
            Impl::WireguardGo => "wgo",
            Impl::Braid => "braid",
            Impl::BraidMultiQueue => "braid-mq",
        }
    }

    /// Whether this implementation can run here. For wireguard-go a missing binary is a missing
    /// prerequisite (`Err(Missing)`); for braid a binary without the daemon CLI is a gate
    /// (`Err(NotYet)`) that skips even in CI until the daemon lands.
    pub fn availability(self) -> Result<(), Unavailable> {
        match self {
            Impl::WireguardGo => match super::prereq::find_tool("wireguard-go") {
                Some(_) => Ok(()),
                None => Err(Unavailable::Missing("wireguard-go is not installed".into())),
            },
            Impl::Braid | Impl::BraidMultiQueue => braid_daemon_support().clone().map_err(Unavailable::NotYet),
        }
    }
}

/// Why an implementation cannot run.
#[derive(Clone, Debug)]
pub enum Unavailable {
    /// A prerequisite is missing (a failure in CI).
    Missing(String),
    /// The implementation does not support the daemon CLI yet (always a skip).
    NotYet(String),
}

/// Asks the built `braid` once whether it has the daemon CLI (`--help` mentions "foreground").
fn braid_daemon_support() -> &'static Result<(), String> {
    static SUPPORT: OnceLock<Result<(), String>> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let out = super::command::run(&Impl::Braid.program(), &["--help"], Duration::from_secs(10));
        if out.stdout.contains("foreground") || out.stderr.contains("foreground") {
            Ok(())
        } else {
            Err("the braid daemon has not landed yet (`braid --help` does not mention -f/--foreground)".into())
        }
    })
}

/// The UAPI socket path of interface `ifname`.
pub fn socket_path(ifname: &str) -> PathBuf {
    PathBuf::from(SOCKET_DIR).join(format!("{ifname}.sock"))
}

/// One running daemon serving one interface; stopped by PID on drop.
pub struct Daemon {
    process: Process,
    imp: Impl,
    ifname: String,
}

impl Daemon {
    /// Starts `imp -f ifname` inside `ns`, logging to `log`, and waits until the interface and
    /// its UAPI socket exist. Panics (with the daemon's log) if it exits or times out first.
    pub fn start(imp: Impl, ns: &Netns, ifname: &str, log: PathBuf) -> Daemon {
        let program = imp.program();
        let level = std::env::var("BRAID_NETNS_LOG_LEVEL").unwrap_or_else(|_| "verbose".into());
        // BRAID_NETNS_TUN_QUEUES runs the whole suite's plain braid on that many queues.
        let queues = match imp {
            Impl::BraidMultiQueue => MULTI_QUEUE.to_string(),
            _ => std::env::var("BRAID_NETNS_TUN_QUEUES").unwrap_or_else(|_| "1".to_string()),
        };
        let pin = if imp == Impl::BraidMultiQueue { "1" } else { "0" };
        let envs = [
            ("LOG_LEVEL", level.as_str()),
            ("RUST_LOG", "debug"),
            ("BRAID_TUN_QUEUES", queues.as_str()),
            ("BRAID_PIN_CPUS", pin),
        ];
        let label = format!("{} {ifname} in {}", imp.short(), ns.name());
        let process = ns.spawn(&label, &[&program, "-f", ifname], &envs, log);
        let mut daemon = Daemon { process, imp, ifname: ifname.to_string() };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if socket_path(ifname).exists() && ns.has_link(ifname) {
                return daemon;
            }
            assert!(daemon.process.is_running(), "{label} exited during start-up:\n{}", daemon.process.log());
            assert!(Instant::now() < deadline, "{label} did not create its interface and socket in {START_TIMEOUT:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The implementation running.
    pub fn imp(&self) -> Impl {
        self.imp
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Whether the daemon is still alive.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Stops the daemon (SIGTERM by PID, then SIGKILL) and removes a socket it left behind.
    pub fn stop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_file(socket_path(&self.ifname));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
