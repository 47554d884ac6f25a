//! `braid [-f] INTERFACE`: the wireguard-go-compatible daemon.
//!
//! Creates the TUN interface and the UAPI socket, detaches (unless `-f`) once both exist, then
//! runs the event loop until SIGINT/SIGTERM or until the socket file is deleted; on the way out
//! the socket file is removed and closing the TUN descriptor removes the interface.
//! `WG_TUN_FD` and `WG_UAPI_FD` hand over descriptors opened by a parent, as with wireguard-go.

pub mod syslog;
pub mod uapi_server;
pub mod uapi_socket;

pub use uapi_socket::{socket_path, ControlSocket};

use braid_engine::{Engine, EngineOptions, Exit as EngineExit, TunSide, UdpUnderlay};
use braid_io::process::{daemonize, Daemonized};
use braid_io::Tun;
use braid_proto::DeviceConfig;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;
use uapi_server::UapiServer;

/// The MTU a new interface gets (wireguard-go's default: 1500 minus IPv6 + UDP + WireGuard).
pub const DEFAULT_MTU: usize = 1420;

/// How the daemon was asked to run.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The interface to create.
    pub interface: String,
    /// Stay in the foreground (no fork), logging to stderr.
    pub foreground: bool,
}

fn env_fd(name: &str, kind: braid_io::tun::InheritedFd) -> io::Result<Option<std::os::fd::OwnedFd>> {
    match std::env::var(name) {
        Ok(v) => {
            let fd: i32 = v.parse().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{name}={v:?} is not a descriptor"))
            })?;
            braid_io::tun::adopt_inherited_fd(fd, kind)
                .map(Some)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
        }
        Err(_) => Ok(None),
    }
}

/// How many TUN queues (each read by its own thread) a new interface gets:
/// `BRAID_TUN_QUEUES` if set (1–16), else half the cores (at most 4) on machines with at least
/// 4 cores, and 1 below: on fewer cores the kernel, the application and the peer need the
/// other core, and a second queue costs throughput (docs/BENCHMARKS.md); it pays where cores
/// are spare, like the crypto pool.
fn tun_queues() -> usize {
    if let Some(n) = std::env::var("BRAID_TUN_QUEUES").ok().and_then(|v| v.parse::<usize>().ok()) {
        return n.clamp(1, 16);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 4 {
        (cores / 2).min(4)
    } else {
        1
    }
}

/// Opens the TUN device (all its queues) and the control socket: the two things that must
/// exist before the daemon reports ready.
fn open_interface(interface: &str) -> io::Result<(Vec<Tun>, ControlSocket)> {
    let queues = match env_fd("WG_TUN_FD", braid_io::tun::InheritedFd::Tun)? {
        // A descriptor handed over is one queue.
        Some(fd) => vec![Tun::from_fd(fd, interface)?],
        None => {
            // Offloads (a virtio-net header, TSO/USO) unless BRAID_TUN_OFFLOAD=0 asks for the plain
            // one-packet-per-read device (for comparisons and old kernels).
            let offload = std::env::var("BRAID_TUN_OFFLOAD").map_or(true, |v| v != "0");
            let queues = Tun::create_queues(interface, tun_queues(), offload)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot create TUN interface {interface}: {e}")))?;
            // wireguard-go's default, so `ip link set up` alone gives a working tunnel.
            if let Err(e) = queues[0].set_mtu(DEFAULT_MTU) {
                tracing::warn!(error = %e, "cannot set the default MTU");
            }
            queues
        }
    };
    let name = queues[0].name().to_owned();
    let control = match env_fd("WG_UAPI_FD", braid_io::tun::InheritedFd::UnixListener)? {
        Some(fd) => ControlSocket::from_listener(UnixListener::from(fd), &name)?,
        None => ControlSocket::bind(&name)?,
    };
    Ok((queues, control))
}

/// Why the daemon stopped serving its interface.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT.
    Signal,
    /// The control socket file was removed.
    SocketRemoved,
    /// The TUN interface was deleted (`ip link delete`, as `wg-quick down` does).
    InterfaceRemoved,
}

/// How often the daemon checks what nobody signals: whether its socket file is still there.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// What wakes the daemon's main thread.
enum Wake {
    Signal,
    EngineDone(io::Result<EngineExit>),
}

/// Runs the engine on the TUN queues with a fresh UDP underlay, and the UAPI server beside
/// it; returns when the interface should go away.
fn serve(queues: Vec<Tun>, control: ControlSocket, ready: impl FnOnce()) -> io::Result<Exit> {
    confine()?;
    let (wake_tx, wake_rx) = mpsc::channel();
    let (mut sig_read, sig_write) = UnixStream::pair()?;
    // SIGHUP and SIGQUIT too: their default action would end the process without removing
    // the socket file.
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
        signal_hook::low_level::pipe::register(signal, sig_write.try_clone()?)?;
    }
    let signal_wake = wake_tx.clone();
    std::thread::Builder::new().name("braid-signals".into()).spawn(move || {
        use std::io::Read;
        let mut b = [0u8; 16];
        if sig_read.read(&mut b).is_ok() {
            let _ = signal_wake.send(Wake::Signal);
        }
    })?;
    let side = TunSide::new(queues)?;
    let mtu = side.first().mtu().unwrap_or(DEFAULT_MTU);
    let (name, tun_offloads) = (side.name().to_owned(), side.offloads());
    let udp = UdpUnderlay::bind(0, 0)?;
    let (port, udp_offloads) = (udp.sockets().port(), udp.sockets().offloads());
    let queues = braid_engine::PacketSide::queues(&side);
    let config = DeviceConfig { mtu, ..DeviceConfig::default() };
    let engine = Engine::new(config, side, udp, &EngineOptions::from_env())?;
    let handle = engine.handle();
    tracing::info!(interface = %name, port, mtu, queues, ?tun_offloads, ?udp_offloads, "interface up");
    let uapi = UapiServer::spawn(control.listener.try_clone()?, handle.clone())?;
    let engine_thread = std::thread::Builder::new().name("braid-engine".into()).spawn(move || {
        let _ = wake_tx.send(Wake::EngineDone(engine.run()));
    })?;
    ready();
    let exit = loop {
        match wake_rx.recv_timeout(HOUSEKEEPING) {
            Ok(Wake::Signal) => break Ok(Exit::Signal),
            Ok(Wake::EngineDone(Ok(_))) => break Ok(Exit::InterfaceRemoved),
            Ok(Wake::EngineDone(Err(e))) => break Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(Exit::InterfaceRemoved),
        }
        if !control.still_present() {
            break Ok(Exit::SocketRemoved);
        }
    };
    uapi.stop();
    handle.stop();
    let _ = engine_thread.join();
    tracing::info!(?exit, "shutting down");
    exit
}

/// Gives up what the running daemon does not need, before it starts any thread (see
/// `braid_io::sandbox`): every capability but CAP_NET_ADMIN (firewall marks) and
/// CAP_NET_BIND_SERVICE (a listen port below 1024), new privileges, and every system call
/// outside its allow-list. `BRAID_SANDBOX=0` turns this off (for debugging);
/// `BRAID_SECCOMP=log` allows and logs unlisted calls instead of refusing them.
fn confine() -> io::Result<()> {
    use braid_io::sandbox::{Capability, Unlisted};
    if std::env::var("BRAID_SANDBOX").is_ok_and(|v| v == "0") {
        tracing::warn!("BRAID_SANDBOX=0: running with every privilege it was started with");
        return Ok(());
    }
    let unlisted =
        if std::env::var("BRAID_SECCOMP").is_ok_and(|v| v == "log") { Unlisted::Log } else { Unlisted::Refuse };
    let done = braid_io::sandbox::confine(&[Capability::CAP_NET_ADMIN, Capability::CAP_NET_BIND_SERVICE], unlisted)?;
    tracing::info!(capabilities = ?done.kept, seccomp = done.seccomp, "confined");
    Ok(())
}

/// Runs the daemon; the exit code is what the `braid` process returns.
pub fn run(options: &DaemonOptions) -> ExitCode {
    if let Err(e) = crate::config::check_interface_name(&options.interface) {
        eprintln!("braid: {e}");
        return ExitCode::FAILURE;
    }
    let (queues, control) = match open_interface(&options.interface) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("braid: {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.foreground {
        return match serve(queues, control, || {}) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("braid: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match daemonize() {
        Err(e) => {
            eprintln!("braid: cannot daemonise: {e}");
            ExitCode::FAILURE
        }
        Ok(Daemonized::Parent(code)) => {
            // The child owns the interface now: the parent must not run the destructors that
            // would remove the socket file.
            std::mem::forget(control);
            drop(queues);
            ExitCode::from(code as u8)
        }
        Ok(Daemonized::Child(notifier)) => {
            let mut notifier = Some(notifier);
            let result = serve(queues, control, || {
                if let Some(n) = notifier.take() {
                    n.ready(0);
                }
            });
            match result {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    if let Some(n) = notifier.take() {
                        eprintln!("braid: {e}");
                        n.ready(1);
                    }
                    ExitCode::FAILURE
                }
            }
        }
    }
}
