//! A background process owned by a test and stopped by its PID on drop.
//!
//! Daemons, iperf3 servers and TCP receivers run in the background while a test talks to them.
//! Stopping is by the PID we spawned (SIGTERM, a bounded wait, then SIGKILL), never by name, and
//! never after the process was reaped (so a recycled PID is never signalled).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a process gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// A running child with its output going to a log file.
pub struct Process {
    child: Child,
    label: String,
    log: PathBuf,
    exit: Option<ExitStatus>,
}

impl Process {
    /// Spawns `program args…` with `envs`, stdin closed, stdout and stderr appended to `log`.
    pub fn spawn(label: &str, program: &str, args: &[&str], envs: &[(&str, &str)], log: PathBuf) -> Process {
        let out = File::create(&log).expect("create process log");
        let err = out.try_clone().expect("clone log handle");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        for (key, value) in envs {
            cmd.env(key, value);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {label} ({program}): {e}"));
        Process { child, label: label.to_string(), log, exit: None }
    }

    /// The PID of the spawned process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited (reaps it if it has).
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit.is_none()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.exit
    }

    /// The log so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A label for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// SIGTERM by PID, up to [`TERM_GRACE`] to exit, then SIGKILL; idempotent.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        super::namespace::Netns::signal(self.pid(), "-TERM");
        if self.wait_timeout(TERM_GRACE).is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            let log = self.log();
            super::prereq::notice(&format!(
                "--- log of {} (pid {}) ---\n{}\n--- end of log ---",
                self.label,
                self.child.id(),
                super::command::tail(&log, 6000)
            ));
        }
    }
}
