//! Running an external program with a hard deadline and its output captured.
//!
//! Every tool the suite drives (`ip`, `wg`, `ping`, `iperf3`, `nft`, `wg-quick`) goes through
//! [`run`], so no test can hang on a tool that never returns: past the deadline the child is
//! killed by its PID and the result says so.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How often a running child is polled for exit.
const POLL: Duration = Duration::from_millis(5);
/// How long to wait for the output pipes after the child exited (a daemonised grandchild may keep
/// them open; its output is then given up on rather than waited for).
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// What a finished (or killed) command left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for error messages.
    pub command: String,
    /// Exit code; `None` when killed by a signal (including our own timeout kill).
    pub code: Option<i32>,
    /// Captured standard output (lossy UTF-8).
    pub stdout: String,
    /// Captured standard error (lossy UTF-8).
    pub stderr: String,
    /// True when the deadline passed and the child was killed.
    pub timed_out: bool,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl Output {
    /// True when the command exited by itself with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// A readable account of the run for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` -> code {:?}{} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code,
            if self.timed_out { " (TIMED OUT, killed)" } else { "" },
            self.elapsed,
            tail(&self.stdout, 4000),
            tail(&self.stderr, 4000)
        )
    }

    /// Panics with the full account unless the command succeeded; returns stdout otherwise.
    #[track_caller]
    pub fn expect_success(self) -> String {
        assert!(self.success(), "command failed: {}", self.describe());
        self.stdout
    }
}

/// The last `max` bytes of `text` (on a char boundary), for bounded error messages.
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Runs `program args…` with `envs` added, feeding `stdin` if given, and waits at most `timeout`.
pub fn run_with(
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Output {
    let command = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let started = Instant::now();
    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Output {
                command,
                code: None,
                stdout: String::new(),
                stderr: format!("spawn failed: {err}"),
                timed_out: false,
                elapsed: started.elapsed(),
            };
        }
    };
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_vec();
        thread::spawn(move || {
            // A child that exits without reading gives EPIPE: not our failure to report.
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let deadline = started + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                // Our own child, by PID (std sends SIGKILL to exactly this process).
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => thread::sleep(POLL),
            Err(_) => break None,
        }
    };
    let elapsed = started.elapsed();
    Output {
        command,
        code: status.and_then(|s| s.code()),
        stdout: stdout.recv_timeout(PIPE_GRACE).unwrap_or_default(),
        stderr: stderr.recv_timeout(PIPE_GRACE).unwrap_or_default(),
        timed_out,
        elapsed,
    }
}

/// Runs `program args…` with a deadline and no input.
pub fn run(program: &str, args: &[&str], timeout: Duration) -> Output {
    run_with(program, args, &[], None, timeout)
}

/// Reads a pipe to its end on a helper thread; the receiver yields the text once it is closed.
fn collect<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}
