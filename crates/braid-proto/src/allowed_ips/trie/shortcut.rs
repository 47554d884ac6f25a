//! A jump table over the top of a large trie: the first `bits` address bits index straight to
//! where the walk would be after its short-prefix nodes.
//!
//! While a walk visits nodes shorter than `bits`, each step depends only on the address's first
//! `bits` bits (a node of length `l` is matched on `l` bits and branches on bit `l`). So every
//! address starting with the same `bits` bits passes the same nodes up to the first node of
//! length `bits` or more. Entry `x` records that state: the last node with a value passed (the
//! best match so far) and the next node to visit. A lookup reads one entry and carries on from
//! there, which removes the top ~`bits` dependent memory loads of every lookup; with 100k
//! random prefixes that is most of them.
//!
//! The entries are a pure function of the trie, so a mutation only has to recompute the entries
//! whose walk passes the place it changed: the entries under the changed link's prefix. A link
//! or node deeper than `bits` changes no entry at all, which is where nearly all changes to a
//! large table happen. The table costs `8 << bits` bytes (512 KiB at 16 bits) and exists only
//! while the trie is large ([`ShortcutPolicy`]), so small tables pay nothing.

use super::{Trie, NIL};
use crate::allowed_ips::key::TrieKey;

/// When a trie keeps a shortcut table, and how wide it is.
#[derive(Clone, Copy, Debug)]
pub(in crate::allowed_ips) struct ShortcutPolicy {
    /// Address bits indexing the table (`1 <= bits <= 16`, below the address width).
    pub(in crate::allowed_ips) bits: u8,
    /// Build the table once the trie holds this many prefixes.
    pub(in crate::allowed_ips) enable_at: usize,
    /// Drop it when the trie falls below this many (at most `enable_at`; the gap stops a table
    /// hovering at the threshold from rebuilding on every insert and remove).
    pub(in crate::allowed_ips) disable_below: usize,
}

impl ShortcutPolicy {
    /// 16 bits (512 KiB of entries) from 16384 prefixes, which is about when the nodes
    /// themselves take that much memory and lookups start missing the cache at every level.
    pub(in crate::allowed_ips) const DEFAULT: ShortcutPolicy =
        ShortcutPolicy { bits: 16, enable_at: 16_384, disable_below: 8_192 };
}

/// Where the walk for every address with a given `bits`-bit start stands after the nodes
/// shorter than `bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// Index of the last node with a value passed (the best match so far), or [`NIL`].
    pub(super) best: u32,
    /// Index of the next node to visit, or [`NIL`] if the walk has ended.
    pub(super) next: u32,
}

/// The table itself: `1 << bits` entries indexed by the first `bits` address bits.
#[derive(Clone, Debug)]
pub(super) struct Shortcut {
    bits: u8,
    entries: Vec<Entry>,
}

impl Shortcut {
    /// The entry for `addr`, if the table covers it (it always does; `None` only guards the
    /// indexing).
    #[inline]
    pub(super) fn entry<K: TrieKey>(&self, addr: K) -> Option<Entry> {
        self.entries.get(addr.top_bits(self.bits)).copied()
    }
}

impl<K: TrieKey, T: Copy + Eq> Trie<K, T> {
    /// Builds or drops the table if the prefix count crossed the policy's thresholds; returns
    /// true if it did either (the table then needs no further refresh).
    pub(super) fn apply_shortcut_policy(&mut self) -> bool {
        let policy = self.policy;
        match self.shortcut {
            None if self.prefixes >= policy.enable_at => {
                self.rebuild_shortcut_with(policy.bits);
                true
            }
            Some(_) if self.prefixes < policy.disable_below => {
                self.shortcut = None;
                true
            }
            _ => false,
        }
    }

    /// Recomputes every entry (after a bulk change such as `retain`).
    pub(super) fn rebuild_shortcut(&mut self) {
        if let Some(bits) = self.shortcut.as_ref().map(|s| s.bits) {
            self.rebuild_shortcut_with(bits);
        }
    }

    fn rebuild_shortcut_with(&mut self, bits: u8) {
        let entries = (0..1usize << bits).map(|x| self.walk_top(x, bits)).collect();
        self.shortcut = Some(Shortcut { bits, entries });
    }

    /// Recomputes the entries of addresses starting with `key/len` (`key` masked to `len`):
    /// call with the prefix of whatever link or node a mutation changed, after the change.
    pub(super) fn refresh_shortcut(&mut self, key: K, len: u8) {
        let Some(mut shortcut) = self.shortcut.take() else {
            return;
        };
        if len <= shortcut.bits {
            let first = key.top_bits(shortcut.bits);
            let count = 1usize << (shortcut.bits - len);
            for x in first..first + count {
                let entry = self.walk_top(x, shortcut.bits);
                if let Some(slot) = shortcut.entries.get_mut(x) {
                    *slot = entry;
                }
            }
        }
        self.shortcut = Some(shortcut);
    }

    /// The walk for addresses whose first `bits` bits are `x`, through the nodes shorter than
    /// `bits`.
    pub(super) fn walk_top(&self, x: usize, bits: u8) -> Entry {
        let addr = K::from_top_bits(x, bits);
        let mut best = NIL;
        let mut index = self.root;
        while let Some(node) = self.nodes.get(index as usize) {
            if node.len >= bits {
                break;
            }
            if addr.common_prefix_len(node.key) < node.len {
                index = NIL;
                break;
            }
            if node.has_value {
                best = index;
            }
            index = node.children[addr.bit(node.len)];
        }
        Entry { best, next: index }
    }
}

#[cfg(test)]
impl<K: TrieKey, T: Copy + Eq> Trie<K, T> {
    /// Whether the trie currently keeps a shortcut table.
    pub(in crate::allowed_ips) fn has_shortcut(&self) -> bool {
        self.shortcut.is_some()
    }

    /// Checks the table against a fresh computation and the policy; panics on a difference.
    pub(super) fn assert_shortcut_consistent(&self) {
        match &self.shortcut {
            None => assert!(self.prefixes < self.policy.enable_at, "large trie without a shortcut table"),
            Some(shortcut) => {
                assert!(self.prefixes >= self.policy.disable_below, "small trie kept its shortcut table");
                assert_eq!(shortcut.entries.len(), 1 << shortcut.bits);
                for (x, entry) in shortcut.entries.iter().enumerate() {
                    assert_eq!(*entry, self.walk_top(x, shortcut.bits), "stale shortcut entry {x}");
                }
            }
        }
    }
}
