//! The table against a naive model (a list of prefixes searched linearly), and churn tests
//! proving removal gives every node back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::trie::ShortcutPolicy;
use super::AllowedIps;

/// The obviously-correct reference: every prefix in a list, longest match by linear scan.
#[derive(Default)]
struct Model {
    entries: Vec<(IpAddr, u8, u8)>,
}

fn mask(addr: IpAddr, cidr: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = if cidr == 0 { 0 } else { u32::MAX << (32 - u32::from(cidr)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & keep))
        }
        IpAddr::V6(a) => {
            let keep = if cidr == 0 { 0 } else { u128::MAX << (128 - u32::from(cidr)) };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep))
        }
    }
}

impl Model {
    fn insert(&mut self, addr: IpAddr, cidr: u8, value: u8) -> Option<u8> {
        let addr = mask(addr, cidr);
        if let Some(entry) = self.entries.iter_mut().find(|e| e.0 == addr && e.1 == cidr) {
            return Some(std::mem::replace(&mut entry.2, value));
        }
        self.entries.push((addr, cidr, value));
        None
    }

    fn remove(&mut self, addr: IpAddr, cidr: u8) -> Option<u8> {
        let addr = mask(addr, cidr);
        let at = self.entries.iter().position(|e| e.0 == addr && e.1 == cidr)?;
        Some(self.entries.swap_remove(at).2)
    }

    fn remove_value(&mut self, value: u8) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.2 != value);
        before - self.entries.len()
    }

    fn lookup(&self, addr: IpAddr) -> Option<u8> {
        self.entries
            .iter()
            .filter(|e| e.0.is_ipv4() == addr.is_ipv4() && mask(addr, e.1) == e.0)
            .max_by_key(|e| e.1)
            .map(|e| e.2)
    }
}

/// Owners drawn by the generated operations: enough that one owner often holds under 1/16 of
/// the table (prefixes removed one by one) and sometimes more (the pruning pass).
const VALUES: u8 = 24;

#[derive(Clone, Debug)]
enum Op {
    Insert(IpAddr, u8, u8),
    Remove(IpAddr, u8),
    RemoveValue(u8),
    Lookup(IpAddr),
}

/// Addresses clustered around a few bases so that prefixes overlap, nest and share branches.
fn address() -> impl Strategy<Value = IpAddr> {
    let v4 = (prop::sample::select(vec![0u32, 0x0a00_0000, 0xc0a8_0000, 0xffff_ffff]), 0u32..=32, any::<u32>())
        .prop_map(|(base, spread, noise)| {
            let noise = noise.checked_shr(spread).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(base ^ noise))
        });
    let v6 = (
        prop::sample::select(vec![0u128, 0xfd00u128 << 112, 0x2001_0db8u128 << 96, 0xffff_0a00_0000, u128::MAX]),
        0u32..=128,
        any::<u128>(),
    )
        .prop_map(|(base, spread, noise)| {
            let noise = noise.checked_shr(spread).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(base ^ noise))
        });
    prop_oneof![v4, v6]
}

fn prefix() -> impl Strategy<Value = (IpAddr, u8)> {
    (address(), any::<u8>()).prop_map(|(addr, raw)| {
        let cidr = if addr.is_ipv4() { raw % 33 } else { raw % 129 };
        (addr, cidr)
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prefix(), 0u8..VALUES).prop_map(|((addr, cidr), v)| Op::Insert(addr, cidr, v)),
        2 => prefix().prop_map(|(addr, cidr)| Op::Remove(addr, cidr)),
        1 => (0u8..VALUES).prop_map(Op::RemoveValue),
        3 => address().prop_map(Op::Lookup),
    ]
}

fn sorted(mut entries: Vec<(IpAddr, u8, u8)>) -> Vec<(IpAddr, u8, u8)> {
    entries.sort();
    entries
}

/// Shortcut-table settings to run the model test under: none (the default for small tables)
/// or tiny thresholds and widths, so that every mutation also maintains a table.
fn policy() -> impl Strategy<Value = ShortcutPolicy> {
    prop_oneof![
        Just(ShortcutPolicy::DEFAULT),
        (1u8..=8, 0usize..8, 0usize..8).prop_map(|(bits, a, b)| ShortcutPolicy {
            bits,
            enable_at: a.max(b),
            disable_below: a.min(b),
        }),
    ]
}

proptest! {
    #[test]
    fn table_matches_the_linear_model(policy in policy(), ops in prop::collection::vec(op(), 1..200)) {
        let mut table = AllowedIps::with_shortcut_policy(policy);
        let mut model = Model::default();
        for op in &ops {
            match *op {
                Op::Insert(addr, cidr, v) => {
                    prop_assert_eq!(table.insert(addr, cidr, v), Ok(model.insert(addr, cidr, v)), "{:?}", op);
                }
                Op::Remove(addr, cidr) => {
                    prop_assert_eq!(table.remove(addr, cidr), model.remove(addr, cidr), "{:?}", op);
                }
                Op::RemoveValue(v) => prop_assert_eq!(table.remove_value(v), model.remove_value(v)),
                Op::Lookup(addr) => prop_assert_eq!(table.lookup(addr), model.lookup(addr), "{:?}", op),
            }
            table.v4.assert_invariants();
            table.v6.assert_invariants();
            prop_assert_eq!(table.len(), model.entries.len());
        }
        // Every stored prefix's own address and its neighbours resolve like the model.
        for &(addr, _, _) in &model.entries {
            prop_assert_eq!(table.lookup(addr), model.lookup(addr));
            let (before, after) = match addr {
                IpAddr::V4(a) => {
                    let a = u32::from(a);
                    (IpAddr::V4(a.wrapping_sub(1).into()), IpAddr::V4(a.wrapping_add(1).into()))
                }
                IpAddr::V6(a) => {
                    let a = u128::from(a);
                    (IpAddr::V6(a.wrapping_sub(1).into()), IpAddr::V6(a.wrapping_add(1).into()))
                }
            };
            prop_assert_eq!(table.lookup(before), model.lookup(before));
            prop_assert_eq!(table.lookup(after), model.lookup(after));
        }
        prop_assert_eq!(sorted(table.iter().collect()), sorted(model.entries.clone()));
        for v in 0..VALUES {
            let mut listed: Vec<_> = table.prefixes_of(v).collect();
            let mut expected: Vec<_> = model.entries.iter().filter(|e| e.2 == v).map(|e| (e.0, e.1)).collect();
            listed.sort();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }
}

fn random_prefix(rng: &mut ChaCha8Rng) -> (IpAddr, u8) {
    if rng.next_u32() & 3 == 0 {
        let addr = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        (IpAddr::V6(addr.into()), (rng.next_u32() % 129) as u8)
    } else {
        (IpAddr::V4(rng.next_u32().into()), (rng.next_u32() % 33) as u8)
    }
}

#[test]
fn inserting_then_removing_100k_prefixes_frees_every_node() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xb4a1d);
    let mut table = AllowedIps::new();
    let mut inserted = Vec::new();
    for i in 0..100_000u32 {
        let (addr, cidr) = random_prefix(&mut rng);
        if table.insert(addr, cidr, i % 7).expect("valid prefix").is_none() {
            inserted.push((addr, cidr));
        }
    }
    assert_eq!(table.len(), inserted.len());
    assert!(table.node_count() < 2 * table.len());
    assert!(table.v4.has_shortcut() && table.v6.has_shortcut(), "both families are large");
    // The same prefixes in tries without a shortcut table must answer every lookup the same.
    let never = ShortcutPolicy { enable_at: usize::MAX, disable_below: usize::MAX, ..ShortcutPolicy::DEFAULT };
    let mut plain = AllowedIps::with_shortcut_policy(never);
    for (addr, cidr, v) in table.iter() {
        plain.insert(addr, cidr, v).expect("valid prefix");
    }
    assert!(!plain.v4.has_shortcut());
    for &(addr, cidr) in inserted.iter().step_by(7) {
        let (probe, _) = random_prefix(&mut rng);
        let inside = match (addr, probe) {
            (IpAddr::V4(a), IpAddr::V4(p)) => {
                IpAddr::V4((u32::from(a) | u32::from(p).checked_shr(cidr.into()).unwrap_or(0)).into())
            }
            (IpAddr::V6(a), IpAddr::V6(p)) => {
                IpAddr::V6((u128::from(a) | u128::from(p).checked_shr(cidr.into()).unwrap_or(0)).into())
            }
            _ => addr,
        };
        assert_eq!(table.lookup(inside), plain.lookup(inside), "{inside}");
        assert_eq!(table.lookup(probe), plain.lookup(probe), "{probe}");
    }
    table.v4.assert_invariants();
    table.v6.assert_invariants();
    for (i, &(addr, cidr)) in inserted.iter().enumerate().rev() {
        assert!(table.remove(addr, cidr).is_some(), "{addr}/{cidr} was stored");
        if i % 20_000 == 0 {
            table.v4.assert_invariants();
            table.v6.assert_invariants();
        }
    }
    assert!(!table.v4.has_shortcut() && !table.v6.has_shortcut(), "empty tries keep no table");
    assert_eq!(table.len(), 0);
    assert_eq!(table.node_count(), 0);
    assert_eq!(table.v4.arena_slots() + table.v6.arena_slots(), 0);
}

#[test]
fn sustained_churn_reuses_nodes_instead_of_growing() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut table = AllowedIps::new();
    let mut live: Vec<(IpAddr, u8)> = Vec::new();
    for step in 0..100_000u32 {
        // Hover between 900 and 1100 prefixes: insert below a random threshold, else remove.
        if live.len() < 900 + (rng.next_u32() % 200) as usize {
            let (addr, cidr) = random_prefix(&mut rng);
            if table.insert(addr, cidr, step % 5).expect("valid prefix").is_none() {
                live.push((addr, cidr));
            }
        } else {
            let at = rng.next_u32() as usize % live.len();
            let (addr, cidr) = live.swap_remove(at);
            assert!(table.remove(addr, cidr).is_some());
        }
        assert_eq!(table.len(), live.len());
        assert!(table.node_count() < 2 * live.len().max(1));
        // Freed nodes are reused: the arena never holds more slots than were ever live at once.
        let slots = table.v4.arena_slots() + table.v6.arena_slots();
        assert!(slots < 2 * 1100, "arena grew to {slots} slots at step {step}");
    }
    table.v4.assert_invariants();
    table.v6.assert_invariants();
    for v in 0..5 {
        table.remove_value(v);
    }
    assert!(table.is_empty());
    assert_eq!(table.node_count(), 0);
}

#[test]
fn remove_value_on_a_large_table_removes_exactly_that_peer() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut table = AllowedIps::new();
    // Peer 1000 owns a third of the table (pruning pass); peers 0..1000 share the rest (a few
    // dozen prefixes each, removed one by one).
    for i in 0..130_000u32 {
        let (addr, cidr) = random_prefix(&mut rng);
        let peer = if i % 3 == 0 { 1000 } else { i % 1000 };
        table.insert(addr, cidr, peer).expect("valid prefix");
    }
    for peer in [7, 1000, 8] {
        let owned: Vec<_> = table.prefixes_of(peer).collect();
        let others: Vec<_> = table.iter().filter(|e| e.2 != peer).collect();
        assert!(!owned.is_empty());
        assert_eq!(table.remove_value(peer), owned.len());
        assert_eq!(table.prefixes_of(peer).count(), 0);
        assert_eq!(table.iter().collect::<Vec<_>>(), others, "everyone else's prefixes are untouched");
        for (addr, _) in owned {
            assert_ne!(table.lookup(addr), Some(peer));
        }
        table.v4.assert_invariants();
        table.v6.assert_invariants();
    }
}
