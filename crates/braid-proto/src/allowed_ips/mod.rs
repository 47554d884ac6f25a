//! Cryptokey routing: which peer owns which IP prefixes.
//!
//! Each allowed-IPs prefix (IPv4 or IPv6, host bits cleared) belongs to exactly one peer. The
//! table answers two questions on the packet path:
//!
//! * **outbound** — which peer does a packet to `dst` go to? The owner of the longest prefix
//!   containing `dst` ([`AllowedIps::lookup`]);
//! * **inbound** — may a packet that decrypted under peer `p` carry source `src`? Only if the
//!   longest prefix containing `src` belongs to `p` ([`AllowedIps::allows`]). Using the *longest*
//!   match (not "any prefix of `p` contains `src`") is what stops a peer holding `10.0.0.0/16`
//!   from sending as `10.0.1.5` when another peer holds `10.0.1.0/24`.
//!
//! Inserting a prefix that another peer holds moves it to the new peer, as in the kernel. IPv4
//! and IPv6 are separate tables: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up as
//! IPv6 and never matches an IPv4 prefix.
//!
//! Each family is a path-compressed binary trie (module `trie`): lookups take at most one step per
//! address bit and never allocate; memory is at most two nodes per prefix and is reclaimed as
//! prefixes are removed. Once a family holds 16384 prefixes its trie also keeps a jump table
//! indexed by the first 16 address bits, so a lookup skips the top of the walk (about 17 ns
//! per IPv4 lookup with 100k routing-table-like prefixes, against about 100 ns without).

mod key;
mod trie;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use trie::Trie;

/// Why a prefix could not be inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The prefix length exceeds the address width (more than 32 for IPv4, 128 for IPv6).
    #[error("prefix length /{cidr} is longer than the {max}-bit address")]
    CidrTooLong {
        /// The requested prefix length.
        cidr: u8,
        /// The address width of the family.
        max: u8,
    },
    /// The table already holds as many nodes as it can index (about four billion).
    #[error("the allowed-IPs table is full")]
    TableFull,
}

/// The allowed-IPs table of a device: IPv4 and IPv6 prefixes, each owned by one `T` (a peer id).
///
/// `T` is a small copyable handle; the table stores it once per prefix and hands copies back.
#[derive(Clone)]
pub struct AllowedIps<T> {
    v4: Trie<u32, T>,
    v6: Trie<u128, T>,
}

impl<T: Copy + Eq> Default for AllowedIps<T> {
    fn default() -> Self {
        AllowedIps { v4: Trie::default(), v6: Trie::default() }
    }
}

impl<T: Copy + Eq> AllowedIps<T> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `addr/cidr` to `value`, clearing host bits of `addr` first. If the prefix was
    /// already present it moves to `value` and its previous owner is returned (possibly `value`
    /// itself); otherwise `Ok(None)`.
    ///
    /// Fails without changing anything if `cidr` exceeds the address width.
    pub fn insert(&mut self, addr: IpAddr, cidr: u8, value: T) -> Result<Option<T>, PrefixError> {
        let result = match addr {
            IpAddr::V4(a) => {
                check_cidr(cidr, 32)?;
                self.v4.insert(u32::from(a), cidr, value)
            }
            IpAddr::V6(a) => {
                check_cidr(cidr, 128)?;
                self.v6.insert(u128::from(a), cidr, value)
            }
        };
        result.map_err(|_| PrefixError::TableFull)
    }

    /// Removes exactly the prefix `addr/cidr` (host bits of `addr` ignored) and returns its
    /// owner; `None` if that exact prefix was not stored or `cidr` is out of range. Shorter or
    /// longer prefixes around it are untouched, so lookups fall back to the next shorter one.
    pub fn remove(&mut self, addr: IpAddr, cidr: u8) -> Option<T> {
        match addr {
            IpAddr::V4(a) if cidr <= 32 => self.v4.remove(u32::from(a), cidr),
            IpAddr::V6(a) if cidr <= 128 => self.v6.remove(u128::from(a), cidr),
            _ => None,
        }
    }

    /// Removes every prefix owned by `value` (a peer being removed, or `replace_allowed_ips`)
    /// and returns how many there were. Costs a sequential scan of the table plus a trie walk
    /// per removed prefix (or one pruning pass when `value` owns a large share): linear in the
    /// table size at worst, never quadratic.
    pub fn remove_value(&mut self, value: T) -> usize {
        self.v4.remove_value(value) + self.v6.remove_value(value)
    }

    /// The owner of the longest prefix containing `addr`: the peer an outbound packet to `addr`
    /// is sent to. Allocation-free; at most 33 (IPv4) or 129 (IPv6) trie steps.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<T> {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
    }

    /// The inbound source check: true only if the longest prefix containing `src` belongs to
    /// `value`, so a peer cannot send from an address routed to another peer.
    #[inline]
    pub fn allows(&self, src: IpAddr, value: T) -> bool {
        self.lookup(src) == Some(value)
    }

    /// Every prefix with its owner: IPv4 first, then IPv6, each in address order with a prefix
    /// before the longer prefixes inside it. Addresses come back with host bits cleared.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, u8, T)> + '_ {
        let v4 = self.v4.iter().map(|(key, len, v)| (IpAddr::V4(Ipv4Addr::from(key)), len, v));
        let v6 = self.v6.iter().map(|(key, len, v)| (IpAddr::V6(Ipv6Addr::from(key)), len, v));
        v4.chain(v6)
    }

    /// The prefixes owned by `value`, in [`iter`](Self::iter) order (what UAPI `get` lists as a
    /// peer's `allowed_ip` lines). Scans the table sequentially and collects the matches, so
    /// the result does not borrow the table. To list every peer, one [`iter`](Self::iter) pass
    /// grouped by owner is cheaper than calling this per peer.
    pub fn prefixes_of(&self, value: T) -> impl Iterator<Item = (IpAddr, u8)> {
        let v4 = self.v4.prefixes_of(value).into_iter().map(|(key, len)| (IpAddr::V4(Ipv4Addr::from(key)), len));
        let v6 = self.v6.prefixes_of(value).into_iter().map(|(key, len)| (IpAddr::V6(Ipv6Addr::from(key)), len));
        v4.chain(v6)
    }

    /// Number of stored prefixes in both families.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no prefix is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every prefix and releases the table's memory.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }

    /// Trie nodes in use (stored prefixes plus branching nodes; never more than twice
    /// [`len`](Self::len)). For memory accounting and for tests that prove removal frees nodes.
    pub fn node_count(&self) -> usize {
        self.v4.node_count() + self.v6.node_count()
    }
}

#[cfg(test)]
impl<T: Copy + Eq> AllowedIps<T> {
    /// A table whose tries keep a shortcut table per `policy` (tests use tiny thresholds so
    /// that small tables exercise it).
    fn with_shortcut_policy(policy: trie::ShortcutPolicy) -> Self {
        AllowedIps { v4: Trie::with_policy(policy), v6: Trie::with_policy(policy) }
    }
}

fn check_cidr(cidr: u8, max: u8) -> Result<(), PrefixError> {
    if cidr > max {
        return Err(PrefixError::CidrTooLong { cidr, max });
    }
    Ok(())
}

impl<T: Copy + Eq + fmt::Debug> fmt::Debug for AllowedIps<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Prefix(IpAddr, u8);
        impl fmt::Debug for Prefix {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.0, self.1)
            }
        }
        f.debug_map().entries(self.iter().map(|(addr, cidr, v)| (Prefix(addr, cidr), v))).finish()
    }
}
