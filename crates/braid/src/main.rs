//! The `braid` command.
//!
//! * `braid [-f] INTERFACE` — the wireguard-go-compatible daemon (what `wg-quick` runs as
//!   `WG_QUICK_USERSPACE_IMPLEMENTATION`).
//! * `braid demo` (also with no arguments) — two braid devices in the deterministic
//!   simulator: handshake, data over a lossy link, a rekey and a roam, printed as it happens.

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
    /// Show braid working: with root, two namespaces with a braid daemon each and a ping
    /// through the tunnel; otherwise (or with --sim) the protocol simulator's story.
    Demo {
        /// Run the deterministic simulator demo even when the live demo could run.
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

fn init_logging(verbose: u8, foreground: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 if foreground => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn demo(force_sim: bool) -> ExitCode {
    if !force_sim {
        match cli::demo_live::available() {
            Ok(()) => return report(cli::demo_live::run()),
            Err(why) => println!("(live demo unavailable: {why}; running the simulator demo)\n"),
        }
    }
    let mut out = String::new();
    braid_sim::demo::run(&mut out);
    print!("{out}");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match (cli.command, cli.interface) {
        (Some(Command::Demo { sim }), _) => demo(sim),
        (None, None) => demo(false),
        (Some(Command::Show { interface, json }), _) => report(cli::show::run(interface.as_deref(), json)),
        (Some(Command::Up { file }), _) => {
            init_logging(cli.verbose, false);
            report(cli::up_down::up(&file))
        }
        (Some(Command::Down { target }), _) => report(cli::up_down::down(&target)),
        (None, Some(interface)) => {
            init_logging(cli.verbose, cli.foreground);
            daemon::run(&DaemonOptions { interface, foreground: cli.foreground })
        }
    }
}
