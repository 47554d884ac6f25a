//! Session indices: the random 32-bit numbers a peer puts in front of every message so we
//! find the session without trying keys. Sequential indices would leak how many sessions a
//! device has made (a pitfall other implementations shipped), so they are drawn at random.

use super::PeerId;
use std::collections::HashMap;

/// Maps our local indices (pending initiations and live sessions) to their peer.
#[derive(Debug, Default)]
pub(crate) struct IndexTable {
    map: HashMap<u32, PeerId>,
}

impl IndexTable {
    /// Draws a fresh random index not in use and assigns it to `peer`.
    pub fn allocate(&mut self, peer: PeerId, rng: &mut dyn rand_core::CryptoRng) -> u32 {
        // The table holds a few indices per peer; a collision in 2^32 is rare, and each retry
        // halves the odds again, so this loop ends after one or two draws.
        loop {
            let index = rng.next_u32();
            if let std::collections::hash_map::Entry::Vacant(e) = self.map.entry(index) {
                e.insert(peer);
                return index;
            }
        }
    }

    /// The peer owning `index`, if any.
    pub fn get(&self, index: u32) -> Option<PeerId> {
        self.map.get(&index).copied()
    }

    /// Releases `index` (the session or handshake it named is gone).
    pub fn free(&mut self, index: u32) {
        self.map.remove(&index);
    }

    /// How many indices are in use.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
