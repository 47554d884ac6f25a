//! One UAPI connection as a byte-stream state machine: the daemon feeds it whatever the
//! socket read returned and writes back whatever it returns.
//!
//! Framing, as wireguard-go's `IpcHandle`: an operation line `get=1` or `set=1`; a `get`
//! is followed by one blank line, a `set` by `key=value` lines and a blank line. Several
//! operations may follow each other on one connection. Every reply ends with `errno=N` and a
//! blank line.
//!
//! Errors:
//! * inside a `set` (unknown key, bad value, a line without `=`): the rest of the request is
//!   read, nothing is applied, the reply is `errno=-N`, and the connection stays usable;
//! * in the framing (an unknown operation, `get=1` not followed by a blank line, a line or
//!   request over the limits, end of input in the middle of a request): `errno=-N` and the
//!   session closes ([`UapiSession::is_closed`]); later input is ignored.

use super::get::{write_braid_extras, write_get_body};
use super::set_request::SetRequestParser;
use super::{Errno, UapiHost};
use braid_proto::time::Instant;
use braid_proto::Device;
use zeroize::Zeroize;

/// Size limits for one connection, bounding its memory whatever a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UapiLimits {
    /// Most bytes in one request, operation line and blank line included.
    pub max_request_bytes: usize,
    /// Most bytes in one line, without its `\n`.
    pub max_line_bytes: usize,
}

impl Default for UapiLimits {
    /// 64 MiB per request (room for over a million `allowed_ip` lines) and 4 KiB per line (the
    /// longest valid line, a `[v6%scope]:port` endpoint, is under 100 bytes).
    fn default() -> Self {
        UapiLimits { max_request_bytes: 64 << 20, max_line_bytes: 4096 }
    }
}

#[derive(Debug)]
enum State {
    /// Waiting for an operation line.
    Idle,
    /// Read `get=1\n` (or braid's extended `get=braid\n`, flag true); the next byte must be
    /// `\n`.
    GetTerminator(bool),
    /// Inside a `set` request.
    Set(SetRequestParser),
    /// A framing error was answered; nothing more is read.
    Closed,
}

/// A UAPI connection's state between reads.
#[derive(Debug)]
pub struct UapiSession {
    state: State,
    /// The unfinished line; wiped after each line, since it may hold a private key.
    line: Vec<u8>,
    request_bytes: usize,
    limits: UapiLimits,
}

impl Default for UapiSession {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for UapiSession {
    fn drop(&mut self) {
        self.line.zeroize();
    }
}

fn push_errno(out: &mut Vec<u8>, result: Result<(), Errno>) {
    match result {
        Ok(()) => out.extend_from_slice(b"errno=0\n\n"),
        Err(errno) => out.extend_from_slice(format!("errno={}\n\n", errno.wire_value()).as_bytes()),
    }
}

impl UapiSession {
    /// A session with the default [`UapiLimits`].
    pub fn new() -> Self {
        Self::with_limits(UapiLimits::default())
    }

    /// A session with explicit limits.
    pub fn with_limits(limits: UapiLimits) -> Self {
        UapiSession { state: State::Idle, line: Vec::new(), request_bytes: 0, limits }
    }

    /// True once a framing error has been answered: write out the last reply, then close.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Processes bytes read from the connection and returns the bytes to write back (empty
    /// while a request is incomplete). Each complete request is executed when its last byte
    /// arrives, against the device and host as they are at that moment.
    pub fn feed<H: UapiHost + ?Sized>(
        &mut self,
        input: &[u8],
        now: Instant,
        device: &mut Device,
        host: &mut H,
    ) -> Vec<u8> {
        self.feed_some(input, now, device, host, usize::MAX).1
    }

    /// As [`feed`](Self::feed), but stops once the replies reach `reply_limit` bytes (after
    /// the request that crossed it) and returns how many input bytes it consumed: the caller
    /// writes the replies out, then feeds the rest. A client that sends requests without
    /// reading the answers thus never makes the daemon hold more than about `reply_limit`
    /// bytes for it, nor hold the device for more than that much work at a time.
    pub fn feed_some<H: UapiHost + ?Sized>(
        &mut self,
        input: &[u8],
        now: Instant,
        device: &mut Device,
        host: &mut H,
        reply_limit: usize,
    ) -> (usize, Vec<u8>) {
        let total = input.len();
        let mut input = input;
        let mut out = Vec::new();
        while !input.is_empty() && out.len() < reply_limit {
            match self.state {
                State::Closed => break,
                State::GetTerminator(extended) => {
                    let terminator = input[0];
                    input = &input[1..];
                    if terminator == b'\n' {
                        let mut body = String::new();
                        write_get_body(device, host, &mut body);
                        if extended {
                            write_braid_extras(device, host, &mut body);
                        }
                        out.extend_from_slice(body.as_bytes());
                        body.zeroize();
                        push_errno(&mut out, Ok(()));
                        self.state = State::Idle;
                        self.request_bytes = 0;
                    } else {
                        self.fail(&mut out, Errno::EINVAL);
                    }
                }
                State::Idle | State::Set(_) => {
                    let (chunk, complete) = match input.iter().position(|&b| b == b'\n') {
                        Some(i) => (&input[..i], true),
                        None => (input, false),
                    };
                    input = &input[chunk.len() + usize::from(complete)..];
                    self.request_bytes = self.request_bytes.saturating_add(chunk.len() + usize::from(complete));
                    if self.line.len() + chunk.len() > self.limits.max_line_bytes
                        || self.request_bytes > self.limits.max_request_bytes
                    {
                        self.fail(&mut out, Errno::EMSGSIZE);
                        break;
                    }
                    self.line.extend_from_slice(chunk);
                    if complete {
                        let line = core::mem::take(&mut self.line);
                        self.handle_line(&line, now, device, host, &mut out);
                        let mut line = line;
                        line.zeroize();
                        // Keep the allocation for the next line.
                        self.line = line;
                    }
                }
            }
        }
        (total - input.len(), out)
    }

    /// The client closed its end. A request cut off in the middle is answered with
    /// `errno=-EPROTO` (nothing of it is applied); after a clean end the reply is empty.
    /// Either way the session is closed afterwards.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let idle = matches!(self.state, State::Idle) && self.line.is_empty();
        if !idle && !self.is_closed() {
            push_errno(&mut out, Err(Errno::EPROTO));
        }
        self.close();
        out
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.line.zeroize();
    }

    fn fail(&mut self, out: &mut Vec<u8>, errno: Errno) {
        push_errno(out, Err(errno));
        self.close();
    }

    fn handle_line<H: UapiHost + ?Sized>(
        &mut self,
        line: &[u8],
        now: Instant,
        device: &mut Device,
        host: &mut H,
        out: &mut Vec<u8>,
    ) {
        match &mut self.state {
            State::Idle => match line {
                b"get=1" => self.state = State::GetTerminator(false),
                b"get=braid" => self.state = State::GetTerminator(true),
                b"set=1" => self.state = State::Set(SetRequestParser::new()),
                _ => self.fail(out, Errno::EPROTO),
            },
            State::Set(parser) => {
                if line.is_empty() || line == b"\r" {
                    let State::Set(parser) = core::mem::replace(&mut self.state, State::Idle) else { return };
                    self.request_bytes = 0;
                    let result = parser.finish().and_then(|request| request.apply(now, device, host));
                    push_errno(out, result);
                } else {
                    match core::str::from_utf8(line) {
                        Ok(text) => parser.push_line(text),
                        // Not text, so not a valid key: as an unknown key.
                        Err(_) => parser.reject(Errno::EINVAL),
                    }
                }
            }
            State::GetTerminator(_) | State::Closed => {}
        }
    }
}
