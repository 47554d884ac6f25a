//! The `braid` command.
//!
//! * `braid [-f] INTERFACE` — the wireguard-go-compatible daemon (what `wg-quick` runs as
//!   `WG_QUICK_USERSPACE_IMPLEMENTATION`).
//! * `braid demo` (also with no arguments) — two tunnels in one process over loopback UDP,
//!   each end on the userspace TCP/IP stack, a checksummed TCP transfer between them: no root.

use braid::cli;
use braid::daemon::{self, DaemonOptions};
use clap::{ArgAction, Parser, Subcommand};
use std::process::ExitCode;

/// braid: userspace WireGuard with multipath bonding and an embedded TCP/IP stack.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Stay in the foreground instead of detaching once the interface is up.
    #[arg(short, long)]
    foreground: bool,

    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,

    /// The interface to create and serve (as `wireguard-go INTERFACE`).
    interface: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show braid working, as anyone, anywhere: two tunnels in this process over loopback
    /// UDP, each end on braid's userspace TCP/IP stack, a checksummed TCP transfer between
    /// them (the default with no arguments).
    Demo {
        /// How much to transfer (bytes, or with K, M, G).
        #[arg(long, default_value = "256M", value_parser = cli::demo::parse_size)]
        size: u64,
        /// With root: two network namespaces, a braid daemon with a real TUN device in each,
        /// configured over the UAPI as `wg` does, and a ping through the tunnel.
        #[arg(long, conflicts_with = "sim")]
        live: bool,
        /// The deterministic protocol simulator's story: a handshake over a lossy link, a
        /// rekey after two minutes, a roam (builds with `--features simulator`).
        #[arg(long)]
        sim: bool,
    },
    /// Show interfaces as `wg show` does (all interfaces without a name).
    Show {
        /// The interface; all braid/wireguard-go interfaces when omitted.
        interface: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Bring up a tunnel from a wg-quick style file (`wg0.conf` creates `wg0`).
    Up {
        /// The configuration file.
        file: std::path::PathBuf,
    },
    /// Take a tunnel down (an interface name, or the file it came up from).
    Down {
        /// Interface name or configuration file.
        target: String,
    },
    /// Forward local ports through a tunnel on braid's own TCP/IP stack: no root, no TUN.
    /// Runs until SIGINT or SIGTERM.
    Forward {
        /// The tunnel's configuration file (as for `braid up`).
        config: std::path::PathBuf,
        /// A local TCP port through the tunnel: `[bind:]port:host:port` (bind: 127.0.0.1).
        #[arg(short = 'L', value_name = "[BIND:]PORT:HOST:PORT")]
        local: Vec<String>,
        /// A local UDP port through the tunnel: `[bind:]port:host:port`.
        #[arg(short = 'U', value_name = "[BIND:]PORT:HOST:PORT")]
        udp: Vec<String>,
        /// A port of the tunnel's own address to a service here: `port:host:port`.
        #[arg(short = 'R', value_name = "PORT:HOST:PORT")]
        remote: Vec<String>,
    },
    /// A SOCKS5 proxy (and optionally an HTTP CONNECT proxy) into a tunnel on braid's own
    /// TCP/IP stack: no root, no TUN. Names resolve through the config's `DNS =`.
    Socks {
        /// The tunnel's configuration file (as for `braid up`).
        config: std::path::PathBuf,
        /// Where the SOCKS5 proxy listens.
        #[arg(long, default_value = "127.0.0.1:1080")]
        listen: std::net::SocketAddr,
        /// Where an HTTP CONNECT proxy listens (none without it).
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// A file (mode 600) whose first line is `user:password`: clients must present it.
        #[arg(long)]
        auth_file: Option<std::path::PathBuf>,
    },
}

fn report(result: std::io::Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("braid: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logging to stderr, or (`to_syslog`, a daemon that will detach) to the system log.
fn init_logging(verbose: u8, foreground: bool, to_syslog: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 if foreground => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A detached daemon's stderr is /dev/null: it logs to the system log when there is one.
    if to_syslog {
        if let Some(syslog) = daemon::syslog::Syslog::connect(std::path::Path::new(daemon::syslog::DEV_LOG)) {
            let filter = EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(if verbose == 0 { "info" } else { default }));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(syslog)
                .with_ansi(false)
                .without_time()
                .try_init();
            return;
        }
    }
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn demo(size: u64, live: bool, sim: bool) -> ExitCode {
    if sim {
        return sim_demo();
    }
    if live {
        if let Err(why) = cli::demo::live::available() {
            eprintln!("braid: the live demo needs {why}; `braid demo` runs without root");
            return ExitCode::FAILURE;
        }
        return report(cli::demo::live::run());
    }
    report(cli::demo::run(size))
}

#[cfg(feature = "simulator")]
fn sim_demo() -> ExitCode {
    let mut out = String::new();
    braid_sim::demo::run(&mut out);
    print!("{out}");
    ExitCode::SUCCESS
}

#[cfg(not(feature = "simulator"))]
fn sim_demo() -> ExitCode {
    eprintln!(
        "braid: this build has no simulator; run `cargo run -p braid-sim --example demo`, or build braid with `--features simulator`"
    );
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match (cli.command, cli.interface) {
        (Some(Command::Demo { size, live, sim }), _) => demo(size, live, sim),
        (None, None) => demo(cli::demo::DEFAULT_SIZE, false, false),
        (Some(Command::Show { interface, json }), _) => report(cli::show::run(interface.as_deref(), json)),
        (Some(Command::Up { file }), _) => {
            init_logging(cli.verbose, false, false);
            report(cli::up_down::up(&file))
        }
        (Some(Command::Down { target }), _) => report(cli::up_down::down(&target)),
        (Some(Command::Forward { config, local, udp, remote }), _) => {
            init_logging(cli.verbose, true, false);
            let forwards = cli::rootless::Forwards { local_tcp: local, local_udp: udp, remote_tcp: remote };
            report(cli::rootless::forward(&config, &forwards))
        }
        (Some(Command::Socks { config, listen, http, auth_file }), _) => {
            init_logging(cli.verbose, true, false);
            report(cli::rootless::socks(&config, &cli::rootless::Proxies { socks: listen, http, auth_file }))
        }
        (None, Some(interface)) => {
            init_logging(cli.verbose, cli.foreground, !cli.foreground);
            daemon::run(&DaemonOptions { interface, foreground: cli.foreground })
        }
    }
}
