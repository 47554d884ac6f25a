//! An iperf3 TCP run between two namespaces: asserted to complete, its speed only reported.

use std::thread;
use std::time::Duration;

use super::command::Output;
use super::names::Scratch;
use super::namespace::Netns;

/// The outcome of a completed iperf3 run.
#[derive(Debug)]
pub struct IperfReport {
    /// The receiver's summary line (e.g. "0.00-2.00 sec 210 MBytes 880 Mbits/sec receiver").
    pub receiver_line: String,
    /// The client's raw output.
    pub client: Output,
}

/// Runs a one-shot iperf3 server bound to `server_addr` in `server`, and a client in `client` for
/// `secs` seconds (`reverse`: the server sends). Panics unless both complete and the client
/// prints a receiver summary. Connection attempts are retried while the server starts (bounded).
pub fn run(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    port: u16,
    secs: u32,
    reverse: bool,
    scratch: &Scratch,
) -> IperfReport {
    run_streams(server, client, server_addr, port, secs, 1, reverse, scratch)
}

/// Like [`run`] with `streams` parallel TCP connections (`iperf3 -P`).
#[allow(clippy::too_many_arguments, dead_code)] // one call site per knob; not every test binary uses it
pub fn run_streams(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    port: u16,
    secs: u32,
    streams: u32,
    reverse: bool,
    scratch: &Scratch,
) -> IperfReport {
    run_with(server, client, server_addr, port, secs, streams, reverse, None, scratch)
}

/// Like [`run`] at a fixed offered rate (`iperf3 -b`, e.g. "200M"): what the tunnel carries of
/// a given load, rather than how much it can carry.
#[allow(dead_code)] // not every test binary uses it
pub fn run_rate(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    port: u16,
    secs: u32,
    rate: &str,
    scratch: &Scratch,
) -> IperfReport {
    run_with(server, client, server_addr, port, secs, 1, false, Some(rate), scratch)
}

#[allow(clippy::too_many_arguments)]
fn run_with(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    port: u16,
    secs: u32,
    streams: u32,
    reverse: bool,
    rate: Option<&str>,
    scratch: &Scratch,
) -> IperfReport {
    let port_s = port.to_string();
    let streams_s = streams.to_string();
    let log = scratch.path().join(format!("iperf3-server-{}-{port}.log", server.name()));
    let mut srv = server.spawn("iperf3 server", &["iperf3", "-s", "-1", "-B", server_addr, "-p", &port_s], &[], log);
    let secs_s = secs.to_string();
    let mut args =
        vec!["iperf3", "-c", server_addr, "-p", &port_s, "-t", &secs_s, "-f", "m", "--connect-timeout", "2000"];
    if reverse {
        args.push("-R");
    }
    if streams > 1 {
        args.extend(["-P", &streams_s]);
    }
    if let Some(rate) = rate {
        args.extend(["-b", rate]);
    }
    let mut attempt = 0;
    let client_out = loop {
        attempt += 1;
        let out = client.exec(&args, Duration::from_secs(u64::from(secs) + 20));
        let refused = out.stdout.contains("Connection refused") || out.stderr.contains("Connection refused");
        if out.success() || !refused || attempt >= 50 || !srv.is_running() {
            break out;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(client_out.success(), "iperf3 client failed: {}\n--- server ---\n{}", client_out.describe(), srv.log());
    let status = srv.wait_timeout(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "iperf3 server did not finish cleanly: {status:?}\n{}", srv.log());
    // With several streams, the [SUM] line is the total.
    let receivers = || client_out.stdout.lines().filter(|l| l.trim_end().ends_with("receiver"));
    let receiver_line = receivers()
        .find(|l| l.trim_start().starts_with("[SUM]"))
        .or_else(|| receivers().next())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no receiver summary: {}", client_out.describe()));
    IperfReport { receiver_line, client: client_out }
}
