//! A UAPI client: one request on the interface's control socket, the reply read up to its
//! `errno=` line.

use crate::daemon::uapi_socket::find_socket;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use zeroize::Zeroize;

/// The reply to one request: its `key=value` lines (without the final `errno`) and the errno.
/// A `get` reply holds the private key: the lines are wiped when the reply is dropped.
#[derive(Debug)]
pub struct Reply {
    /// The reply's lines before `errno=`.
    pub lines: Vec<(String, String)>,
    /// 0 on success, negative on failure.
    pub errno: i64,
}

/// Sends `request` (which must end with a blank line) to `interface` and reads the reply.
pub fn request(interface: &str, request: &str) -> io::Result<Reply> {
    let path = find_socket(interface)?;
    let mut stream = UnixStream::connect(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {}: {e}", path.display())))?;
    // Whoever serves the socket gets our requests, `braid up`'s private key among them: it
    // must be root or ourselves.
    let server = braid_io::process::peer_credentials(&stream)?;
    let ours = braid_io::process::effective_uid();
    if server.uid != 0 && server.uid != ours {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is served by uid {} (pid {}), not root or us: refusing to talk to it",
                path.display(),
                server.uid,
                server.pid
            ),
        ));
    }
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the daemon closed the connection"));
        }
        let text = line.trim_end_matches('\n');
        let Some((key, value)) = text.split_once('=') else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("malformed reply line {text:?}")));
        };
        if key == "errno" {
            let errno = value
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("malformed errno {value:?}")));
            line.zeroize();
            return errno.map(|errno| Reply { lines, errno });
        }
        lines.push((key.to_owned(), value.to_owned()));
        line.zeroize();
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        for (key, value) in &mut self.lines {
            key.zeroize();
            value.zeroize();
        }
    }
}
