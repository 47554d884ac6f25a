//! The part of a UAPI `set`/`get` that is not protocol state: the UDP port and the socket
//! mark belong to the daemon's sockets, so the daemon implements [`UapiHost`] for them.

use super::Errno;

/// What the daemon lends the UAPI: its listen port and fwmark.
///
/// A `set` calls these before it touches the [`Device`](braid_proto::Device): a rebinding
/// failure (port in use) is the only thing that may fail once a request has been validated,
/// and doing it first means a failed request still changes nothing.
pub trait UapiHost {
    /// The UDP port the device listens on now (0 if not bound); `get` omits a zero port, as
    /// wireguard-go does.
    fn listen_port(&self) -> u16;

    /// The firewall mark on outgoing packets (0 = none); `get` omits a zero mark.
    fn fwmark(&self) -> u32;

    /// Rebinds to `port` (0 = any free port) and/or sets the firewall mark (0 clears it),
    /// `None` leaving that one as it is. Both change or neither: on failure the old sockets,
    /// with their old mark, must stay in use exactly as they were.
    fn set_port_and_fwmark(&mut self, port: Option<u16>, mark: Option<u32>) -> Result<(), Errno>;

    /// Facts about the data path for `braid show` (e.g. which offloads are active), as
    /// `(key, value)` pairs; reported only to braid's extended `get`.
    fn extras(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
