//! A progress bar for a transfer: redrawn in place on a terminal, a line per quarter
//! otherwise (a log, a CI job), never more often than it helps.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Draws the progress of a transfer of `total` bytes on stderr.
pub struct ProgressBar {
    total: u64,
    started: Instant,
    terminal: bool,
    next_quarter: u64,
    last_draw: Option<Instant>,
}

/// Bar width in characters.
const WIDTH: usize = 32;

impl ProgressBar {
    /// A bar for `total` bytes, started now.
    pub fn new(total: u64) -> ProgressBar {
        ProgressBar {
            total: total.max(1),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            next_quarter: 1,
            last_draw: None,
        }
    }

    /// Shows `done` bytes (call as often as you like; it draws at most 10 times a second).
    pub fn update(&mut self, done: u64) {
        let now = Instant::now();
        if self.terminal {
            if self.last_draw.is_some_and(|t| now.duration_since(t) < Duration::from_millis(100)) && done < self.total {
                return;
            }
            self.last_draw = Some(now);
            eprint!("\r{}", self.line(done));
            let _ = std::io::stderr().flush();
        } else {
            while self.next_quarter <= 4 && done * 4 >= self.total * self.next_quarter {
                eprintln!("{}", self.line(done));
                self.next_quarter += 1;
            }
        }
    }

    /// Ends the bar's line.
    pub fn finish(&mut self, done: u64) {
        self.update(done);
        if self.terminal {
            eprintln!();
        }
    }

    fn line(&self, done: u64) -> String {
        let done = done.min(self.total);
        let filled = (done as u128 * WIDTH as u128 / self.total as u128) as usize;
        let bar: String = (0..WIDTH).map(|i| if i < filled { '█' } else { '░' }).collect();
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "  {bar} {:>3} %  {:>8}  {:>6.2} Gbit/s",
            done * 100 / self.total,
            crate::cli::show::human_bytes(done),
            done as f64 * 8.0 / secs / 1e9
        )
    }
}
