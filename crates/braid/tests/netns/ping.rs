//! `ping` inside a namespace, with the result parsed rather than just an exit code.

use std::thread;
use std::time::{Duration, Instant};

use super::command::Output;
use super::namespace::Netns;

/// What one `ping` run reported.
#[derive(Debug)]
pub struct PingResult {
    /// Echo requests sent.
    pub transmitted: u32,
    /// Echo replies received.
    pub received: u32,
    /// The raw run, for messages.
    pub output: Output,
}

impl PingResult {
    /// True when every request got its reply.
    pub fn all_replied(&self) -> bool {
        self.transmitted > 0 && self.received == self.transmitted
    }
}

/// How to ping.
#[derive(Clone, Copy, Debug)]
pub struct PingOpts {
    /// Number of echo requests.
    pub count: u32,
    /// ICMP payload bytes (`-s`).
    pub size: u32,
    /// Set DF / forbid fragmentation (`-M do`); otherwise the kernel fragments as needed.
    pub dont_fragment: bool,
    /// Seconds between requests (`-i`).
    pub interval: f32,
}

impl Default for PingOpts {
    fn default() -> Self {
        PingOpts { count: 3, size: 56, dont_fragment: false, interval: 0.05 }
    }
}

/// Pings `dst` from `ns`; the whole run is bounded by `-w` and a process deadline.
pub fn ping(ns: &Netns, dst: &str, opts: PingOpts) -> PingResult {
    let deadline_secs = (opts.count as f32 * opts.interval).ceil() as u32 + 2;
    let (count, size, interval, deadline) =
        (opts.count.to_string(), opts.size.to_string(), format!("{}", opts.interval), deadline_secs.to_string());
    let mut args = vec!["ping", "-n", "-q", "-c", &count, "-s", &size, "-i", &interval, "-W", "1", "-w", &deadline];
    if opts.dont_fragment {
        args.extend_from_slice(&["-M", "do"]);
    }
    args.push(dst);
    let output = ns.exec(&args, Duration::from_secs(u64::from(deadline_secs) + 5));
    let (transmitted, received) = parse_summary(&output.stdout).unwrap_or((0, 0));
    PingResult { transmitted, received, output }
}

/// Parses "N packets transmitted, M received" from ping's summary.
pub fn parse_summary(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find(|l| l.contains("packets transmitted"))?;
    let mut parts = line.split(',');
    let transmitted = parts.next()?.split_whitespace().next()?.parse().ok()?;
    let received = parts.next()?.split_whitespace().next()?.parse().ok()?;
    Some((transmitted, received))
}

/// Pings `dst` once a second (at most `timeout`) until one reply arrives; true on success.
pub fn wait_reachable(ns: &Netns, dst: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ping(ns, dst, PingOpts { count: 1, ..PingOpts::default() }).received > 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}
