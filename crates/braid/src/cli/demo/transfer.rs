//! A checksummed TCP transfer: what the demo (and the tests) push through a tunnel to show it
//! moves real bytes, byte-exact.
//!
//! The sender writes an 8-byte length, the data (a fast pseudo-random stream, so nothing
//! compresses or repeats), and the data's checksum; the receiver checks the length and the
//! checksum against what it read and answers with its own checksum, which the sender checks
//! in turn. Both ends know the transfer was exact, over the tunnel itself.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// An order-sensitive 64-bit checksum of a byte stream, the same however the stream is cut
/// into reads (a multiply-rotate mix of each 8-byte word; not cryptographic: it detects
/// corruption, loss, duplication and reordering, which is what a transfer check needs).
#[derive(Clone, Debug, Default)]
pub struct Checksum {
    hash: u64,
    pending: [u8; 8],
    pending_len: usize,
    total: u64,
}

impl Checksum {
    /// A checksum of nothing yet.
    pub fn new() -> Checksum {
        Checksum::default()
    }

    fn mix(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    /// Adds `bytes` to the stream.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.pending_len > 0 {
            let take = (8 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 8 {
                return;
            }
            let word = u64::from_le_bytes(self.pending);
            self.mix(word);
            self.pending_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// The checksum of everything added (and its length, so a truncation shows).
    pub fn value(&self) -> u64 {
        let mut last = self.clone();
        let mut word = [0u8; 8];
        word[..last.pending_len].copy_from_slice(&last.pending[..last.pending_len]);
        last.mix(u64::from_le_bytes(word));
        last.mix(self.total);
        last.hash
    }
}

/// A fast pseudo-random byte stream (xorshift64*), the same for the same seed.
pub struct Pattern {
    state: u64,
}

impl Pattern {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Pattern {
        Pattern { state: seed | 1 }
    }

    /// Fills `buf` with the next bytes (whole words; a length not a multiple of 8 drops the
    /// rest of the last word, so keep buffer lengths multiples of 8 for one stream).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let word = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// What one end of a transfer saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferReport {
    /// Data bytes moved (not counting the length and checksums).
    pub bytes: u64,
    /// This end's checksum of the data.
    pub checksum: u64,
    /// The other end's checksum, as it told us.
    pub peer_checksum: u64,
}

impl TransferReport {
    /// Both ends computed the same checksum over the same length.
    pub fn verified(&self) -> bool {
        self.checksum == self.peer_checksum
    }
}

/// Chunk written or read at a time.
const CHUNK: usize = 256 * 1024;

/// Sends `size` bytes of [`Pattern`] `seed` on `stream`, counting them in `progress` as they
/// are written; then waits for the receiver's checksum.
pub fn send(
    stream: &mut (impl Read + Write),
    size: u64,
    seed: u64,
    progress: &AtomicU64,
) -> io::Result<TransferReport> {
    stream.write_all(&size.to_le_bytes())?;
    let mut pattern = Pattern::new(seed);
    let mut checksum = Checksum::new();
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        pattern.fill(&mut buf[..n]);
        checksum.update(&buf[..n]);
        stream.write_all(&buf[..n])?;
        left -= n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    let ours = checksum.value();
    stream.write_all(&ours.to_le_bytes())?;
    let mut answer = [0u8; 8];
    stream.read_exact(&mut answer)?;
    Ok(TransferReport { bytes: size, checksum: ours, peer_checksum: u64::from_le_bytes(answer) })
}

/// Receives one transfer on `stream`, counting data bytes in `progress`, and answers with
/// its checksum.
pub fn receive(stream: &mut (impl Read + Write), progress: &AtomicU64) -> io::Result<TransferReport> {
    let mut word = [0u8; 8];
    stream.read_exact(&mut word)?;
    let size = u64::from_le_bytes(word);
    let mut checksum = Checksum::new();
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ended {left} bytes before the announced {size}"),
            ));
        }
        checksum.update(&buf[..n]);
        left -= n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    stream.read_exact(&mut word)?;
    let theirs = u64::from_le_bytes(word);
    let ours = checksum.value();
    stream.write_all(&ours.to_le_bytes())?;
    Ok(TransferReport { bytes: size, checksum: ours, peer_checksum: theirs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_does_not_depend_on_how_the_stream_is_cut() {
        let mut data = vec![0u8; 10_000];
        Pattern::new(7).fill(&mut data);
        let mut whole = Checksum::new();
        whole.update(&data);
        for cut in [1, 3, 7, 8, 9, 1000, 4097] {
            let mut parts = Checksum::new();
            for chunk in data.chunks(cut) {
                parts.update(chunk);
            }
            assert_eq!(parts.value(), whole.value(), "cut every {cut}");
        }
    }

    #[test]
    fn the_checksum_sees_a_flipped_bit_a_swap_and_a_missing_byte() {
        let mut data = vec![0u8; 4096];
        Pattern::new(9).fill(&mut data);
        let sum = |d: &[u8]| {
            let mut c = Checksum::new();
            c.update(d);
            c.value()
        };
        let reference = sum(&data);
        let mut flipped = data.clone();
        flipped[1234] ^= 0x10;
        assert_ne!(sum(&flipped), reference);
        let mut swapped = data.clone();
        swapped.swap(100, 2000);
        assert_ne!(sum(&swapped), reference);
        assert_ne!(sum(&data[..4095]), reference);
        let mut zeros = data.clone();
        zeros.extend_from_slice(&[0; 8]);
        assert_ne!(sum(&zeros), reference, "trailing zeros change the length");
    }

    #[test]
    fn a_transfer_over_a_socket_pair_verifies_at_both_ends() {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let progress = AtomicU64::new(0);
        let receiver = std::thread::spawn(move || receive(&mut b, &AtomicU64::new(0)).unwrap());
        let sent = send(&mut a, 3_000_003, 42, &progress).unwrap();
        let received = receiver.join().unwrap();
        assert!(sent.verified() && received.verified());
        assert_eq!(sent.checksum, received.checksum);
        assert_eq!(progress.load(Ordering::Relaxed), 3_000_003);
    }
}
