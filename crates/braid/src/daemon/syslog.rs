//! Logging for a detached daemon: its standard streams go to /dev/null once it detaches, so
//! its log lines go to the system log instead (`/dev/log`, where syslog daemons and journald
//! both listen), one datagram per event in the RFC 3164 form `<PRI>braid[PID]: message`.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// The system log socket.
pub const DEV_LOG: &str = "/dev/log";

/// Facility `daemon` (3), as RFC 5424 numbers it.
const FACILITY_DAEMON: u8 = 3;

/// Writes each log event to the system log as one datagram.
#[derive(Clone, Debug)]
pub struct Syslog {
    socket: Arc<UnixDatagram>,
    path: PathBuf,
    tag: String,
}

impl Syslog {
    /// Connects to the system log at `path` (usually [`DEV_LOG`]); `None` when nothing listens.
    pub fn connect(path: &Path) -> Option<Syslog> {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(path).ok()?;
        Some(Syslog { socket: Arc::new(socket), path: path.to_owned(), tag: format!("braid[{}]", std::process::id()) })
    }
}

/// One event's line, sent when it is complete (dropped).
pub struct SyslogLine {
    syslog: Syslog,
    severity: u8,
    line: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let message = format!("<{}>{}: {}", FACILITY_DAEMON * 8 + self.severity, self.syslog.tag, text.trim_end());
        // A restarted syslog daemon means a new socket: reconnect once.
        if self.syslog.socket.send(message.as_bytes()).is_err() && self.syslog.socket.connect(&self.syslog.path).is_ok()
        {
            let _ = self.syslog.socket.send(message.as_bytes());
        }
    }
}

fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine { syslog: self.clone(), severity: 6, line: Vec::new() }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        SyslogLine { syslog: self.clone(), severity: severity(meta.level()), line: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_arrive_as_syslog_datagrams_with_their_severity() {
        let path = std::env::temp_dir().join(format!("braid-syslog-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let syslog = Syslog::connect(&path).expect("a listening socket");
        let subscriber = tracing_subscriber::fmt().with_writer(syslog).with_ansi(false).without_time().finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(port = 51820, "listening");
            tracing::info!("UAPI: peer");
        });
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let first = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(first.starts_with(&format!("<28>braid[{}]: ", std::process::id())), "{first}");
        assert!(first.contains("listening") && first.contains("port=51820"), "{first}");
        let n = server.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("<30>braid["));
        let _ = std::fs::remove_file(&path);
        assert!(Syslog::connect(&path).is_none(), "nothing listens any more");
    }
}
