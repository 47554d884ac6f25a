//! A path-compressed binary (PATRICIA) trie for one address family.
//!
//! Every node holds a masked prefix (`key`/`len`). A node's children hold strictly longer
//! prefixes that start with the node's prefix; the child in slot `b` has bit `len` equal to `b`.
//! Runs of single-child nodes are skipped (path compression), so the trie has one node per
//! stored prefix plus at most one valueless branching node per stored prefix: a node without a
//! value always has exactly two children. Removal restores that shape at once, so memory follows
//! the number of prefixes under any amount of churn.
//!
//! Nodes live in an arena (`Vec`) and link by `u32` index: no `unsafe`, small nodes, and freed
//! slots are reused through a free list threaded through the dead nodes. Values sit in a
//! parallel `Vec` under the same index, so the nodes a lookup walks stay small (16 bytes for
//! IPv4: four to a cache line, never straddling two) and the lookup reads one value at the end.
//! Depth is bounded by the address width (each level is at least one bit longer), so the lookup
//! loop runs at most `WIDTH + 1` times and the one recursive routine ([`Trie::retain`]) is at
//! most that deep. Large tries add a jump table over their top levels ([`shortcut`]).

mod shortcut;

use super::key::TrieKey;
use shortcut::Shortcut;
pub(super) use shortcut::ShortcutPolicy;

/// The "no node" index: an empty child slot, an empty trie, the end of the free list.
const NIL: u32 = u32::MAX;

/// `remove_value` removes prefixes one at a time (about `WIDTH` node visits each) while the
/// owner holds at most this fraction (1/N) of the table, and prunes the whole trie in one pass
/// (one visit per node) above it.
const ONE_BY_ONE_SHARE: usize = 16;

/// Most nodes the arena can address (every index but [`NIL`]).
const MAX_NODES: usize = NIL as usize;

/// One trie node: a prefix and its two subtrees. Its owner, if any, is in `Trie::values`.
#[derive(Clone, Copy, Debug)]
struct Node<K> {
    /// The prefix bits, host bits cleared.
    key: K,
    /// Subtrees by the value of bit `len` of their keys; [`NIL`] when empty.
    children: [u32; 2],
    /// Prefix length in bits.
    len: u8,
    /// Whether this prefix was inserted (its value slot is `Some`); false for a branching node.
    has_value: bool,
}

impl<K: TrieKey> Node<K> {
    fn new(key: K, len: u8, has_value: bool) -> Self {
        Node { key, children: [NIL; 2], len, has_value }
    }
}

/// Where a node index is stored: the root pointer or one child slot of a node.
#[derive(Clone, Copy, Debug)]
enum Link {
    Root,
    Child(u32, usize),
}

/// The trie was asked to hold more nodes than a `u32` index can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ArenaFull;

/// A longest-prefix-match table for one address family, keyed by `K`, mapping to `T`.
#[derive(Clone, Debug)]
pub(super) struct Trie<K, T> {
    nodes: Vec<Node<K>>,
    /// `values[i]` is the owner of node `i`'s prefix; `Some` exactly when `nodes[i].has_value`.
    values: Vec<Option<T>>,
    root: u32,
    /// Head of the list of free arena slots, linked through `children[0]`.
    free_head: u32,
    /// Nodes reachable from the root (arena length minus free slots).
    live_nodes: usize,
    /// Nodes carrying a value, i.e. stored prefixes.
    prefixes: usize,
    /// Jump table over the top of the trie, present while the trie is large.
    shortcut: Option<Shortcut>,
    /// When `shortcut` exists.
    policy: ShortcutPolicy,
}

impl<K: TrieKey, T: Copy + Eq> Default for Trie<K, T> {
    fn default() -> Self {
        Self::with_policy(ShortcutPolicy::DEFAULT)
    }
}

impl<K: TrieKey, T: Copy + Eq> Trie<K, T> {
    /// An empty trie that keeps a shortcut table as `policy` says.
    pub(super) fn with_policy(policy: ShortcutPolicy) -> Self {
        let mut trie = Trie {
            nodes: Vec::new(),
            values: Vec::new(),
            root: NIL,
            free_head: NIL,
            live_nodes: 0,
            prefixes: 0,
            shortcut: None,
            policy,
        };
        trie.apply_shortcut_policy();
        trie
    }

    /// Number of stored prefixes.
    pub(super) fn len(&self) -> usize {
        self.prefixes
    }

    /// Number of live nodes (stored prefixes plus branching nodes).
    pub(super) fn node_count(&self) -> usize {
        self.live_nodes
    }

    /// Drops every prefix and releases the arena's memory.
    pub(super) fn clear(&mut self) {
        *self = Self::with_policy(self.policy);
    }

    /// The value of the longest stored prefix containing `addr`.
    ///
    /// Walks down from the root (or from where the shortcut table says the walk stands after
    /// the short prefixes), remembering the last node with a value on the path; stops at the
    /// first node whose prefix does not contain `addr`. No allocation, at most `WIDTH + 1` steps.
    #[inline]
    pub(super) fn lookup(&self, addr: K) -> Option<T> {
        let (mut best, mut index) = match self.shortcut.as_ref().and_then(|s| s.entry(addr)) {
            Some(entry) => (entry.best, entry.next),
            None => (NIL, self.root),
        };
        while let Some(node) = self.nodes.get(index as usize) {
            if addr.common_prefix_len(node.key) < node.len {
                break;
            }
            if node.has_value {
                best = index;
            }
            if node.len >= K::WIDTH {
                break;
            }
            index = node.children[addr.bit(node.len)];
        }
        self.values.get(best as usize).copied().flatten()
    }

    /// Stores `key/len` (host bits are cleared here) for `value`, returning the previous owner.
    /// `len` must be at most `K::WIDTH` (the caller checks).
    pub(super) fn insert(&mut self, key: K, len: u8, value: T) -> Result<Option<T>, ArenaFull> {
        // An insert allocates at most two nodes; refuse before touching anything.
        if self.live_nodes > MAX_NODES - 2 {
            return Err(ArenaFull);
        }
        let key = key.masked(len);
        let mut link = Link::Root;
        loop {
            let index = self.target(link);
            let Some(&node) = self.nodes.get(index as usize) else {
                let leaf = self.alloc(Node::new(key, len, true), Some(value));
                self.set(link, leaf);
                self.prefixes += 1;
                let (region_key, region_len) = self.link_prefix(link);
                self.after_change(region_key, region_len);
                return Ok(None);
            };
            let common = key.common_prefix_len(node.key).min(len).min(node.len);
            if common == node.len {
                if node.len == len {
                    // The exact prefix exists: take it over (ownership moves to `value`).
                    self.nodes[index as usize].has_value = true;
                    let previous = self.values[index as usize].replace(value);
                    if previous.is_none() {
                        // A branching node became a stored prefix: walks through it now match it.
                        self.prefixes += 1;
                        self.after_change(node.key, node.len);
                    }
                    return Ok(previous);
                }
                // `node` is a proper prefix of `key`: descend by the next bit of `key`.
                link = Link::Child(index, key.bit(node.len));
                continue;
            }
            let inserted = if common == len {
                // `key/len` is a proper prefix of `node`: it becomes `node`'s parent.
                let mut parent = Node::new(key, len, true);
                parent.children[node.key.bit(len)] = index;
                self.alloc(parent, Some(value))
            } else {
                // They diverge at bit `common`: a branching node takes both as children.
                let leaf = self.alloc(Node::new(key, len, true), Some(value));
                let mut branch = Node::new(key.masked(common), common, false);
                branch.children[key.bit(common)] = leaf;
                branch.children[node.key.bit(common)] = index;
                self.alloc(branch, None)
            };
            self.set(link, inserted);
            self.prefixes += 1;
            let (region_key, region_len) = self.link_prefix(link);
            self.after_change(region_key, region_len);
            return Ok(None);
        }
    }

    /// Removes exactly `key/len` (host bits cleared here), returning its owner if it was stored.
    /// `len` must be at most `K::WIDTH`.
    pub(super) fn remove(&mut self, key: K, len: u8) -> Option<T> {
        let key = key.masked(len);
        let mut parent_link = None;
        let mut link = Link::Root;
        loop {
            let index = self.target(link);
            let node = *self.nodes.get(index as usize)?;
            if node.len > len || key.common_prefix_len(node.key) < node.len {
                return None;
            }
            if node.len == len {
                let previous = self.values[index as usize].take()?;
                self.nodes[index as usize].has_value = false;
                self.prefixes -= 1;
                // The widest region whose walks change: the node's own, or its link's if the node
                // goes, or its parent's link's if the parent goes too.
                let mut region = (node.key, node.len);
                // A leaf that goes away may leave its (valueless) parent with one child.
                if self.splice_if_redundant(link) {
                    region = self.link_prefix(link);
                    if let Some(parent_link) = parent_link {
                        if self.splice_if_redundant(parent_link) {
                            region = self.link_prefix(parent_link);
                        }
                    }
                }
                self.after_change(region.0, region.1);
                return Some(previous);
            }
            parent_link = Some(link);
            link = Link::Child(index, key.bit(node.len));
        }
    }

    /// Removes every prefix owned by `value`; returns how many there were.
    ///
    /// The owners are found by a sequential scan of the value array (cheap even for 100k+
    /// prefixes, unlike a pointer-chasing walk). A few prefixes are then removed one by one
    /// (depth steps each); when the owner holds a large share of the table, a single pruning
    /// pass over the trie is cheaper. Either way the cost is linear in the table size at worst.
    pub(super) fn remove_value(&mut self, value: T) -> usize {
        let doomed = self.prefixes_of(value);
        if doomed.len() > self.prefixes / ONE_BY_ONE_SHARE {
            return self.retain(|_, _, v| v != value);
        }
        for &(key, len) in &doomed {
            self.remove(key, len);
        }
        doomed.len()
    }

    /// The prefixes owned by `value`, sorted like [`Trie::iter`] (by key, then length). A
    /// sequential scan of the value array plus a sort of the result.
    pub(super) fn prefixes_of(&self, value: T) -> Vec<(K, u8)> {
        let mut found: Vec<(K, u8)> = self
            .values
            .iter()
            .zip(&self.nodes)
            .filter(|&(v, _)| *v == Some(value))
            .map(|(_, node)| (node.key, node.len))
            .collect();
        found.sort_unstable();
        found
    }

    /// Keeps only the prefixes for which `keep(key, len, value)` is true, in one pass over the
    /// trie (linear in its size), collapsing nodes that become redundant. Returns how many
    /// prefixes were removed.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(K, u8, T) -> bool) -> usize {
        let before = self.prefixes;
        self.root = self.retain_subtree(self.root, &mut keep);
        if !self.apply_shortcut_policy() {
            self.rebuild_shortcut();
        }
        before - self.prefixes
    }

    /// Every stored prefix with its value, in address order (a prefix before the longer prefixes
    /// inside it).
    pub(super) fn iter(&self) -> Iter<'_, K, T> {
        let mut stack = Vec::new();
        if self.root != NIL {
            stack.push(self.root);
        }
        Iter { trie: self, stack }
    }

    /// Applies `retain`'s rule to the subtree at `index` and returns its new root. Recursion
    /// depth is bounded by the trie depth, at most `K::WIDTH + 1`.
    fn retain_subtree(&mut self, index: u32, keep: &mut impl FnMut(K, u8, T) -> bool) -> u32 {
        let Some(&node) = self.nodes.get(index as usize) else {
            return NIL;
        };
        let left = self.retain_subtree(node.children[0], keep);
        let right = self.retain_subtree(node.children[1], keep);
        let slot = &mut self.nodes[index as usize];
        slot.children = [left, right];
        if let Some(value) = self.values[index as usize] {
            if keep(node.key, node.len, value) {
                return index;
            }
            self.values[index as usize] = None;
            self.nodes[index as usize].has_value = false;
            self.prefixes -= 1;
        }
        match (left, right) {
            (NIL, NIL) => {
                self.free(index);
                NIL
            }
            (only, NIL) | (NIL, only) => {
                self.free(index);
                only
            }
            _ => index,
        }
    }

    /// If the node at `link` has no value and fewer than two children, replaces it by its only
    /// child (or nothing) and frees it. Returns whether it was removed.
    fn splice_if_redundant(&mut self, link: Link) -> bool {
        let index = self.target(link);
        let Some(node) = self.nodes.get(index as usize) else {
            return false;
        };
        if node.has_value {
            return false;
        }
        let replacement = match node.children {
            [NIL, NIL] => NIL,
            [only, NIL] | [NIL, only] => only,
            _ => return false,
        };
        self.set(link, replacement);
        self.free(index);
        true
    }

    /// Brings the shortcut table up to date after a change whose affected walks all start with
    /// `key/len`.
    fn after_change(&mut self, key: K, len: u8) {
        if !self.apply_shortcut_policy() {
            self.refresh_shortcut(key, len);
        }
    }

    /// The prefix every address whose walk passes `link` starts with: nothing for the root, the
    /// parent's prefix extended by the slot's bit for a child slot. The parent must be live.
    fn link_prefix(&self, link: Link) -> (K, u8) {
        match link {
            Link::Root => (K::from_top_bits(0, 1), 0),
            Link::Child(parent, bit) => {
                let parent = &self.nodes[parent as usize];
                (parent.key.with_bit(parent.len, bit), parent.len + 1)
            }
        }
    }

    fn target(&self, link: Link) -> u32 {
        match link {
            Link::Root => self.root,
            Link::Child(parent, bit) => self.nodes[parent as usize].children[bit],
        }
    }

    fn set(&mut self, link: Link, index: u32) {
        match link {
            Link::Root => self.root = index,
            Link::Child(parent, bit) => self.nodes[parent as usize].children[bit] = index,
        }
    }

    /// Places `node` in a free slot (or a new one). `insert` has checked that an index is left.
    fn alloc(&mut self, node: Node<K>, value: Option<T>) -> u32 {
        self.live_nodes += 1;
        if let Some(slot) = self.nodes.get_mut(self.free_head as usize) {
            let index = self.free_head;
            self.free_head = slot.children[0];
            *slot = node;
            self.values[index as usize] = value;
            index
        } else {
            // live_nodes <= MAX_NODES, and with no free slot the arena length equals live_nodes - 1.
            let index = self.nodes.len() as u32;
            self.nodes.push(node);
            self.values.push(value);
            index
        }
    }

    fn free(&mut self, index: u32) {
        self.live_nodes -= 1;
        if self.live_nodes == 0 {
            // Nothing is reachable any more: forget the free list, keep the capacity.
            self.nodes.clear();
            self.values.clear();
            self.free_head = NIL;
            return;
        }
        let slot = &mut self.nodes[index as usize];
        slot.has_value = false;
        slot.children = [self.free_head, NIL];
        self.values[index as usize] = None;
        self.free_head = index;
    }
}

/// Preorder walk over a [`Trie`]'s stored prefixes; holds a stack no deeper than the trie.
pub(super) struct Iter<'a, K, T> {
    trie: &'a Trie<K, T>,
    stack: Vec<u32>,
}

impl<K: TrieKey, T: Copy + Eq> Iterator for Iter<'_, K, T> {
    type Item = (K, u8, T);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(index) = self.stack.pop() {
            let Some(node) = self.trie.nodes.get(index as usize) else {
                continue;
            };
            for child in [node.children[1], node.children[0]] {
                if child != NIL {
                    self.stack.push(child);
                }
            }
            if let Some(&Some(value)) = self.trie.values.get(index as usize) {
                return Some((node.key, node.len, value));
            }
        }
        None
    }
}

#[cfg(test)]
impl<K: TrieKey, T: Copy + Eq + core::fmt::Debug> Trie<K, T> {
    /// Arena slots in use or free: memory held, in nodes.
    pub(super) fn arena_slots(&self) -> usize {
        self.nodes.len()
    }

    /// Checks every structural invariant the module comment promises; panics on a violation.
    pub(super) fn assert_invariants(&self) {
        let mut reachable = 0;
        let mut with_value = 0;
        let mut stack = Vec::new();
        if self.root != NIL {
            stack.push(self.root);
        }
        while let Some(index) = stack.pop() {
            let node = &self.nodes[index as usize];
            reachable += 1;
            assert!(node.len <= K::WIDTH, "node {index} has length {}", node.len);
            assert_eq!(node.key, node.key.masked(node.len), "node {index} has host bits set");
            assert_eq!(node.has_value, self.values[index as usize].is_some(), "node {index} value flag");
            if node.has_value {
                with_value += 1;
            } else {
                assert!(
                    node.children.iter().all(|&c| c != NIL),
                    "valueless node {index} ({:?}/{}) has fewer than two children",
                    node.key,
                    node.len
                );
            }
            for (bit, &child_index) in node.children.iter().enumerate() {
                if child_index == NIL {
                    continue;
                }
                let child = &self.nodes[child_index as usize];
                assert!(child.len > node.len, "child is not longer than its parent");
                assert!(child.key.common_prefix_len(node.key) >= node.len, "child outside its parent");
                assert_eq!(child.key.bit(node.len), bit, "child in the wrong slot");
                stack.push(child_index);
            }
        }
        assert_eq!(reachable, self.live_nodes, "live node count drifted");
        assert_eq!(with_value, self.prefixes, "prefix count drifted");
        assert!(self.prefixes == 0 || self.live_nodes < 2 * self.prefixes, "more branching nodes than prefixes");
        let mut free = 0;
        let mut index = self.free_head;
        while index != NIL {
            free += 1;
            assert!(free <= self.nodes.len(), "free list has a cycle");
            index = self.nodes[index as usize].children[0];
        }
        assert_eq!(free + self.live_nodes, self.nodes.len(), "arena slots leaked");
        assert_eq!(self.values.len(), self.nodes.len(), "value slots out of step with nodes");
        self.assert_shortcut_consistent();
    }
}
