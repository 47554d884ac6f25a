//! Sealed datagrams waiting to leave, and how they are cut into runs the underlay sends in
//! one go: each run is datagrams of one size (the last may be shorter) to one endpoint,
//! adjacent in the send buffer — one UDP GSO message — and all runs of a batch leave in one
//! underlay send (`sendmmsg` for UDP).

use crate::shared::Shared;
use crate::underlay::{SendOutcome, SendRuns, Underlay};
use braid_proto::{Endpoint, PeerId, Transmit};

/// Most datagrams in one run (the kernel's UDP_MAX_SEGMENTS before Linux 6.11).
pub const MAX_RUN_DATAGRAMS: usize = 64;
/// Most bytes in one run (under UDP's 65 507-byte payload limit).
const MAX_RUN_BYTES: usize = 65000;

/// One datagram sealed into the send buffer, waiting to leave in a batch.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    pub to: Endpoint,
    pub peer: PeerId,
    pub start: usize,
    pub len: usize,
}

/// Reusable space for [`send_pending`]: nothing is allocated per send once warmed up.
pub struct SendScratch<R> {
    runs: R,
    peers: Vec<PeerId>,
    rejected: Vec<usize>,
}

impl<R: SendRuns> SendScratch<R> {
    pub fn new(runs: R) -> Self {
        SendScratch { runs, peers: Vec::new(), rejected: Vec::new() }
    }
}

/// Sends the sealed datagrams `pending` (ranges of `send_buf`) as runs, and empties it.
/// Returns the number of runs sent (each one message: a GSO batch for UDP). A source address the OS refused is
/// forgotten by the device, so later datagrams do not pay for the refusal again.
pub fn send_pending<U: Underlay>(
    underlay: &U,
    shared: &Shared<U>,
    send_buf: &[u8],
    pending: &mut Vec<Pending>,
    scratch: &mut SendScratch<U::SendBuf>,
) -> u64 {
    if pending.is_empty() {
        return 0;
    }
    let SendScratch { runs, peers, rejected } = scratch;
    runs.clear();
    peers.clear();
    rejected.clear();
    let mut i = 0;
    while i < pending.len() {
        let first = pending[i];
        let (j, bytes) = gso_run(pending, i);
        runs.push(first.start..first.start + bytes, first.to, u16::try_from(first.len).ok());
        peers.push(first.peer);
        i = j;
    }
    underlay.send(send_buf, runs, rejected);
    let sent = runs.len() as u64;
    if !rejected.is_empty() {
        let mut device = shared.device();
        for &k in rejected.iter() {
            tracing::debug!("source address gone: the OS's choice used");
            if let Some(&peer) = peers.get(k) {
                device.clear_endpoint_source(peer);
            }
        }
    }
    pending.clear();
    sent
}

/// The run of datagrams starting at `i` that can leave as one message: same endpoint,
/// adjacent in the buffer, all the size of the first except a shorter last one, at most
/// [`MAX_RUN_DATAGRAMS`] and [`MAX_RUN_BYTES`]. Returns the index after the run and its
/// byte length.
pub fn gso_run(pending: &[Pending], i: usize) -> (usize, usize) {
    let first = pending[i];
    let mut j = i + 1;
    let mut bytes = first.len;
    while j < pending.len()
        && j - i < MAX_RUN_DATAGRAMS
        && pending[j].to == first.to
        && pending[j].start == pending[j - 1].start + pending[j - 1].len
        && pending[j].len <= first.len
        && pending[j - 1].len == first.len
        && bytes + pending[j].len <= MAX_RUN_BYTES
    {
        bytes += pending[j].len;
        j += 1;
    }
    (j, bytes)
}

/// Sends one datagram the device queued, forgetting a source address the OS refused.
pub fn send_one<U: Underlay>(underlay: &U, shared: &Shared<U>, bytes: &[u8], t: Transmit) {
    match underlay.send_one(bytes, t.to) {
        Ok(SendOutcome::SourceRejected) => {
            tracing::debug!(source = ?t.to.local, to = %t.to.addr, "source address gone: the OS's choice used");
            if let Some(peer) = t.peer {
                shared.device().clear_endpoint_source(peer);
            }
        }
        Ok(SendOutcome::Sent) => {}
        // A full socket buffer or an unreachable network drops the packet, as the kernel does.
        Err(e) => tracing::trace!(error = %e, to = %t.to.addr, "send failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use braid_proto::{Device, DeviceConfig, Instant, PeerConfig};

    fn peer() -> PeerId {
        let mut d = Device::new(
            DeviceConfig::default(),
            Instant::ZERO,
            core::time::Duration::ZERO,
            Box::new(<rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1)),
        );
        d.add_peer(PeerConfig::new(braid_proto::crypto::PublicKey([9; 32]))).unwrap()
    }

    fn run(lens: &[(usize, u8)]) -> Vec<(usize, usize)> {
        let id = peer();
        let mut pending = Vec::new();
        let mut start = 0;
        for &(len, host) in lens {
            let to = Endpoint::from(std::net::SocketAddr::from(([198, 18, 0, host], 51820)));
            pending.push(Pending { to, peer: id, start, len });
            start += len;
        }
        let mut runs = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            let (j, bytes) = gso_run(&pending, i);
            assert!(j > i);
            runs.push((j - i, bytes));
            i = j;
        }
        runs
    }

    #[test]
    fn runs_break_on_destination_size_and_limits() {
        // Equal sizes with a shorter tail: one send.
        assert_eq!(run(&[(1452, 2), (1452, 2), (700, 2)]), vec![(3, 3604)]);
        // A shorter datagram mid-run ends it (only the last may be shorter).
        assert_eq!(run(&[(1452, 2), (700, 2), (1452, 2)]), vec![(2, 2152), (1, 1452)]);
        // Another destination starts a new run.
        assert_eq!(run(&[(1452, 2), (1452, 3), (1452, 3)]), vec![(1, 1452), (2, 2904)]);
        // A larger datagram after the first starts a new run.
        assert_eq!(run(&[(100, 2), (200, 2)]), vec![(1, 100), (1, 200)]);
        // At most 64 datagrams and 65000 bytes per send.
        assert_eq!(run(&[(100, 2); 130]), vec![(64, 6400), (64, 6400), (2, 200)]);
        assert_eq!(run(&[(1452, 2); 46]), vec![(44, 63888), (2, 2904)]);
    }
}
