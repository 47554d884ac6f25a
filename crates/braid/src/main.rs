//! The `braid` command. Until the daemon lands (issue: drop-in for wireguard-go), its main job
//! is the protocol demo: two braid devices in the deterministic simulator, handshaking,
//! exchanging data over a lossy link, rekeying and roaming, printed as it happens.

use clap::{Parser, Subcommand};

/// braid: userspace WireGuard with multipath bonding and an embedded TCP/IP stack.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run two simulated peers through a handshake, data, a rekey and a roam (the default).
    Demo,
}

fn main() {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => {
            let mut out = String::new();
            braid_sim::demo::run(&mut out);
            print!("{out}");
        }
    }
}
