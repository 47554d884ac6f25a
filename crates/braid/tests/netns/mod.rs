//! Support for the network-namespace interop suite (`tests/netns_*.rs`).
//!
//! Runs real WireGuard daemons — Debian's `wireguard-go` and this project's `braid` — in network
//! namespaces joined by veth pairs, configures them with the real `wg`, and drives traffic with
//! `ping`, `iperf3` and a checksum-verified TCP transfer. Everything a test creates carries a
//! unique name and is torn down by a drop guard (processes by PID, namespaces by their own
//! name), so tests may run in parallel and clean up on every exit path. See `docs/TESTING.md`.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code, unused_macros)]

pub mod command;
pub mod daemon;
pub mod iperf;
pub mod names;
pub mod namespace;
pub mod nft;
pub mod ping;
pub mod prereq;
pub mod process;
pub mod tcp_transfer;
pub mod topology;
pub mod uapi;
pub mod wg;

use std::sync::RwLock;

#[allow(unused_imports)]
pub use {
    daemon::Impl,
    names::Scratch,
    namespace::{veth, Netns},
    ping::{ping, PingOpts},
    topology::{Pair, Side},
    wg::{Keys, WgDevice},
};

/// Tools every namespace test needs besides those it names itself.
pub const BASE_TOOLS: &[&str] = &["wg", "ping", "sh"];

/// Decides whether a test may run with implementations `impls` and extra `tools`: checks
/// root/tools (a failure in CI), wireguard-go's presence (a failure in CI) and braid's daemon
/// support (always a skip until it lands). Prints the reason when skipping.
#[track_caller]
pub fn ready(test: &str, tools: &[&str], impls: &[Impl]) -> bool {
    let all: Vec<&str> = BASE_TOOLS.iter().chain(tools).copied().collect();
    if !prereq::ready(test, prereq::check(&all)) {
        return false;
    }
    for imp in impls {
        match imp.availability() {
            Ok(()) => {}
            Err(daemon::Unavailable::Missing(reason)) => {
                if !prereq::ready(test, Err(reason)) {
                    return false;
                }
            }
            Err(daemon::Unavailable::NotYet(reason)) => {
                prereq::notice(&format!("SKIP {test}: {reason}"));
                return false;
            }
        }
    }
    true
}

/// Lets ordinary scenarios share the machine while an exclusive one (a packet storm, a
/// throughput measurement) runs alone within this test binary; binaries already run one by one.
static MACHINE: RwLock<()> = RwLock::new(());

/// Runs `body` holding the machine shared (`exclusive == false`) or alone.
fn with_machine(exclusive: bool, body: impl FnOnce()) {
    if exclusive {
        let _alone = MACHINE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        body();
    } else {
        let _shared = MACHINE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        body();
    }
}

/// Runs a two-sided scenario for one pairing if [`ready`] allows it (alone if `exclusive`).
#[track_caller]
pub fn run_pair(test: &str, tools: &[&str], exclusive: bool, a: Impl, b: Impl, scenario: fn(Impl, Impl)) {
    if ready(test, tools, &[a, b]) {
        with_machine(exclusive, || scenario(a, b));
    }
}

/// Runs a one-sided scenario for one implementation if [`ready`] allows it.
#[track_caller]
pub fn run_single(test: &str, tools: &[&str], imp: Impl, scenario: fn(Impl)) {
    if ready(test, tools, &[imp]) {
        with_machine(false, || scenario(imp));
    }
}

/// Declares the four pairings of a two-sided scenario `fn NAME(a: Impl, b: Impl)` as tests
/// `NAME::wgo_to_wgo` (the harness check), `NAME::braid_to_braid`, `NAME::braid_to_wgo` and
/// `NAME::wgo_to_braid` (A side first). Extra tools the scenario needs follow the name; a leading
/// `exclusive` runs each pairing alone in its test binary (see [`with_machine`]).
macro_rules! pairings {
    (@tests $exclusive:expr, $scenario:ident $(, $tool:expr)*) => {
        mod $scenario {
            use super::netns::{run_pair, Impl};
            const TOOLS: &[&str] = &[$($tool),*];
            fn name(pairing: &str) -> String {
                format!("{}::{pairing}", stringify!($scenario))
            }
            #[test]
            fn wgo_to_wgo() {
                run_pair(&name("wgo_to_wgo"), TOOLS, $exclusive, Impl::WireguardGo, Impl::WireguardGo, super::$scenario);
            }
            #[test]
            fn braid_to_braid() {
                run_pair(&name("braid_to_braid"), TOOLS, $exclusive, Impl::Braid, Impl::Braid, super::$scenario);
            }
            #[test]
            fn braid_to_wgo() {
                run_pair(&name("braid_to_wgo"), TOOLS, $exclusive, Impl::Braid, Impl::WireguardGo, super::$scenario);
            }
            #[test]
            fn wgo_to_braid() {
                run_pair(&name("wgo_to_braid"), TOOLS, $exclusive, Impl::WireguardGo, Impl::Braid, super::$scenario);
            }
        }
    };
    (exclusive $scenario:ident $(, $tool:expr)* $(,)?) => {
        pairings!(@tests true, $scenario $(, $tool)*);
    };
    ($scenario:ident $(, $tool:expr)* $(,)?) => {
        pairings!(@tests false, $scenario $(, $tool)*);
    };
}

/// Declares a one-sided scenario `fn NAME(imp: Impl)` as tests `NAME::wgo` and `NAME::braid`.
macro_rules! each_impl {
    ($scenario:ident $(, $tool:expr)* $(,)?) => {
        mod $scenario {
            use super::netns::{run_single, Impl};
            const TOOLS: &[&str] = &[$($tool),*];
            #[test]
            fn wgo() {
                run_single(concat!(stringify!($scenario), "::wgo"), TOOLS, Impl::WireguardGo, super::$scenario);
            }
            #[test]
            fn braid() {
                run_single(concat!(stringify!($scenario), "::braid"), TOOLS, Impl::Braid, super::$scenario);
            }
        }
    };
}
