//! Known-answer cases: the Linux allowedips selftest's scenarios, re-typed as facts, plus the
//! WireGuard routing rules the table exists to enforce.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{AllowedIps, PrefixError};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// An IPv6 address from four 32-bit words, most significant first (the kernel test's notation).
fn v6(a: u32, b: u32, c: u32, d: u32) -> IpAddr {
    let bits = (u128::from(a) << 96) | (u128::from(b) << 64) | (u128::from(c) << 32) | u128::from(d);
    IpAddr::V6(Ipv6Addr::from(bits))
}

fn insert(table: &mut AllowedIps<char>, addr: IpAddr, cidr: u8, peer: char) {
    table.insert(addr, cidr, peer).expect("valid prefix");
    table.v4.assert_invariants();
    table.v6.assert_invariants();
}

/// The kernel selftest's main table: overlapping prefixes, /0 in both families, host routes,
/// replacement and host bits that must be masked off.
fn kernel_table() -> AllowedIps<char> {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(192, 168, 4, 0), 24, 'a');
    insert(&mut t, v4(192, 168, 4, 4), 32, 'b');
    insert(&mut t, v4(192, 168, 0, 0), 16, 'c');
    insert(&mut t, v4(192, 95, 5, 64), 27, 'd');
    // Same /27 with host bits set: replaces d's entry.
    insert(&mut t, v4(192, 95, 5, 65), 27, 'c');
    insert(&mut t, v6(0x2607_5300, 0x6000_6b00, 0, 0xc05f_0543), 128, 'd');
    insert(&mut t, v6(0x2607_5300, 0x6000_6b00, 0, 0), 64, 'c');
    insert(&mut t, v4(0, 0, 0, 0), 0, 'e');
    insert(&mut t, v6(0, 0, 0, 0), 0, 'e');
    // Replaces e's IPv6 default route.
    insert(&mut t, v6(0, 0, 0, 0), 0, 'f');
    insert(&mut t, v6(0x2404_6800, 0, 0, 0), 32, 'g');
    // Host bits set on a /64.
    insert(&mut t, v6(0x2404_6800, 0x4004_0800, 0xdead_beef, 0xdead_beef), 64, 'h');
    insert(&mut t, v6(0x2404_6800, 0x4004_0800, 0xdead_beef, 0xdead_beef), 128, 'a');
    insert(&mut t, v6(0x2444_6800, 0x40e4_0800, 0xdeae_beef, 0x0def_beef), 128, 'c');
    insert(&mut t, v6(0x2444_6800, 0xf0e4_0800, 0xeeae_beef, 0), 98, 'b');
    insert(&mut t, v4(64, 15, 112, 0), 20, 'g');
    // Host bits set on a /25.
    insert(&mut t, v4(64, 15, 123, 211), 25, 'h');
    insert(&mut t, v4(10, 0, 0, 0), 25, 'a');
    insert(&mut t, v4(10, 0, 0, 128), 25, 'b');
    insert(&mut t, v4(10, 1, 0, 0), 30, 'a');
    insert(&mut t, v4(10, 1, 0, 4), 30, 'b');
    insert(&mut t, v4(10, 1, 0, 8), 29, 'c');
    insert(&mut t, v4(10, 1, 0, 16), 29, 'd');
    t
}

#[test]
fn kernel_selftest_lookups() {
    let t = kernel_table();
    let cases = [
        (v4(192, 168, 4, 20), 'a'),
        (v4(192, 168, 4, 0), 'a'),
        (v4(192, 168, 4, 4), 'b'),
        (v4(192, 168, 200, 182), 'c'),
        (v4(192, 95, 5, 68), 'c'),
        (v4(192, 95, 5, 96), 'e'),
        (v6(0x2607_5300, 0x6000_6b00, 0, 0xc05f_0543), 'd'),
        (v6(0x2607_5300, 0x6000_6b00, 0, 0xc02e_01ee), 'c'),
        (v6(0x2607_5300, 0x6000_6b01, 0, 0), 'f'),
        (v6(0x2404_6800, 0x4004_0806, 0, 0x1006), 'g'),
        (v6(0x2404_6800, 0x4004_0806, 0x1234, 0x5678), 'g'),
        (v6(0x2404_67ff, 0x4004_0806, 0x1234, 0x5678), 'f'),
        (v6(0x2404_6801, 0x4004_0806, 0x1234, 0x5678), 'f'),
        (v6(0x2404_6800, 0x4004_0800, 0x1234, 0x5678), 'h'),
        (v6(0x2404_6800, 0x4004_0800, 0, 0), 'h'),
        (v6(0x2404_6800, 0x4004_0800, 0x1010_1010, 0x1010_1010), 'h'),
        (v6(0x2404_6800, 0x4004_0800, 0xdead_beef, 0xdead_beef), 'a'),
        (v4(64, 15, 116, 26), 'g'),
        (v4(64, 15, 127, 3), 'g'),
        (v4(64, 15, 123, 1), 'g'),
        (v4(64, 15, 123, 128), 'h'),
        (v4(64, 15, 123, 129), 'h'),
        (v4(10, 0, 0, 52), 'a'),
        (v4(10, 0, 0, 220), 'b'),
        (v4(10, 1, 0, 2), 'a'),
        (v4(10, 1, 0, 6), 'b'),
        (v4(10, 1, 0, 10), 'c'),
        (v4(10, 1, 0, 20), 'd'),
    ];
    for (addr, peer) in cases {
        assert_eq!(t.lookup(addr), Some(peer), "lookup {addr}");
    }
    // The two b-prefixes in 2444:6800::/32 that nothing above probes: a /98 and a /128.
    assert_eq!(t.lookup(v6(0x2444_6800, 0xf0e4_0800, 0xeeae_beef, 0x3fff_ffff)), Some('b'));
    assert_eq!(t.lookup(v6(0x2444_6800, 0xf0e4_0800, 0xeeae_beef, 0x4000_0000)), Some('f'));
    assert_eq!(t.lookup(v6(0x2444_6800, 0x40e4_0800, 0xdeae_beef, 0x0def_beef)), Some('c'));
    assert_eq!(t.lookup(v6(0x2444_6800, 0x40e4_0800, 0xdeae_beef, 0x0def_beee)), Some('f'));
}

#[test]
fn replaced_prefixes_are_counted_once_and_listed_masked() {
    let t = kernel_table();
    // 23 inserts, two of which replaced an existing prefix.
    assert_eq!(t.len(), 21);
    assert!(t.node_count() < 2 * t.len());
    let of_c: Vec<_> = t.prefixes_of('c').collect();
    assert_eq!(
        of_c,
        vec![
            (v4(10, 1, 0, 8), 29),
            (v4(192, 95, 5, 64), 27),
            (v4(192, 168, 0, 0), 16),
            (v6(0x2444_6800, 0x40e4_0800, 0xdeae_beef, 0x0def_beef), 128),
            (v6(0x2607_5300, 0x6000_6b00, 0, 0), 64),
        ]
    );
    assert_eq!(t.prefixes_of('e').collect::<Vec<_>>(), vec![(v4(0, 0, 0, 0), 0)]);
}

#[test]
fn remove_value_drops_host_routes_at_the_edges_of_the_space() {
    let mut t = kernel_table();
    for first in [1, 64, 128, 192, 255] {
        insert(&mut t, v4(first, 0, 0, 0), 32, 'a');
    }
    let before = t.len();
    let of_a = t.prefixes_of('a').count();
    assert_eq!(t.remove_value('a'), of_a);
    t.v4.assert_invariants();
    t.v6.assert_invariants();
    assert_eq!(t.len(), before - of_a);
    for first in [1, 64, 128, 192, 255] {
        assert_ne!(t.lookup(v4(first, 0, 0, 0)), Some('a'));
        assert_eq!(t.lookup(v4(first, 0, 0, 0)), Some('e'), "falls back to the default route");
    }
    assert_eq!(t.prefixes_of('a').count(), 0);
    // Everyone else's routes are intact.
    assert_eq!(t.lookup(v4(10, 0, 0, 220)), Some('b'));
    assert_eq!(t.lookup(v4(192, 168, 4, 20)), Some('c'), "a's /24 is gone, c's /16 shows");
}

#[test]
fn remove_value_of_nested_prefixes_empties_the_table() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(192, 168, 0, 0), 16, 'a');
    insert(&mut t, v4(192, 168, 0, 0), 24, 'a');
    assert_eq!(t.remove_value('a'), 2);
    assert_eq!(t.lookup(v4(192, 168, 0, 1)), None);
    assert!(t.is_empty());
    assert_eq!(t.node_count(), 0);
}

#[test]
fn single_bit_neighbours_at_full_depth_free_cleanly() {
    // 128 host routes, each the all-ones address with one bit cleared: the deepest possible
    // trie shape, with a branching node at every bit position.
    let mut t = AllowedIps::new();
    for bit in 0..128 {
        insert(&mut t, IpAddr::V6(Ipv6Addr::from(!(1u128 << bit))), 128, 'a');
    }
    assert_eq!(t.len(), 128);
    assert_eq!(t.lookup(IpAddr::V6(Ipv6Addr::from(!1u128))), Some('a'));
    assert_eq!(t.lookup(IpAddr::V6(Ipv6Addr::from(u128::MAX))), None);
    assert_eq!(t.remove_value('a'), 128);
    assert_eq!(t.node_count(), 0);
}

#[test]
fn prefixes_of_lists_both_families_with_host_bits_cleared() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(192, 95, 5, 93), 27, 'a');
    insert(&mut t, v6(0x2607_5300, 0x6000_6b00, 0, 0xc05f_0543), 128, 'a');
    insert(&mut t, v4(10, 1, 0, 20), 29, 'a');
    insert(&mut t, v6(0x2607_5300, 0x6d8a_6bf8, 0xdab1_f1df, 0xc05f_1523), 83, 'a');
    insert(&mut t, v6(0x2607_5300, 0x6d8a_6bf8, 0xdab1_f1df, 0xc05f_1523), 21, 'a');
    insert(&mut t, v4(10, 1, 0, 0), 24, 'b');
    let of_a: Vec<_> = t.prefixes_of('a').collect();
    assert_eq!(
        of_a,
        vec![
            (v4(10, 1, 0, 16), 29),
            (v4(192, 95, 5, 64), 27),
            (v6(0x2607_5000, 0, 0, 0), 21),
            (v6(0x2607_5300, 0x6000_6b00, 0, 0xc05f_0543), 128),
            (v6(0x2607_5300, 0x6d8a_6bf8, 0xdab1_e000, 0), 83),
        ]
    );
}

#[test]
fn prefix_length_beyond_the_address_width_is_refused() {
    let mut t = AllowedIps::new();
    assert_eq!(t.insert(v4(10, 0, 0, 0), 33, 'a'), Err(PrefixError::CidrTooLong { cidr: 33, max: 32 }));
    assert_eq!(t.insert(v6(0, 0, 0, 1), 129, 'a'), Err(PrefixError::CidrTooLong { cidr: 129, max: 128 }));
    assert_eq!(t.insert(v6(0, 0, 0, 1), 255, 'a'), Err(PrefixError::CidrTooLong { cidr: 255, max: 128 }));
    assert!(t.is_empty());
    assert_eq!(t.remove(v4(10, 0, 0, 0), 33), None);
    assert_eq!(t.remove(v6(0, 0, 0, 0), 200), None);
    // The extremes of the valid range work.
    assert_eq!(t.insert(v4(10, 0, 0, 1), 32, 'a'), Ok(None));
    assert_eq!(t.insert(v6(0, 0, 0, 1), 128, 'b'), Ok(None));
    assert_eq!(t.lookup(v4(10, 0, 0, 1)), Some('a'));
    assert_eq!(t.lookup(v4(10, 0, 0, 2)), None);
    assert_eq!(t.lookup(v6(0, 0, 0, 1)), Some('b'));
    assert_eq!(t.lookup(v6(0, 0, 0, 0)), None);
}

#[test]
fn default_routes_cover_everything_in_their_family_only() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(1, 2, 3, 4), 0, 'a');
    assert_eq!(t.iter().collect::<Vec<_>>(), vec![(v4(0, 0, 0, 0), 0, 'a')]);
    assert_eq!(t.lookup(v4(255, 255, 255, 255)), Some('a'));
    assert_eq!(t.lookup(v4(0, 0, 0, 0)), Some('a'));
    assert_eq!(t.lookup(v6(0, 0, 0, 0)), None);
    insert(&mut t, v6(0xffff_ffff, 0, 0, 0), 0, 'b');
    assert_eq!(t.lookup(v6(0xffff_ffff, 1, 2, 3)), Some('b'));
    assert_eq!(t.remove(v4(9, 9, 9, 9), 0), Some('a'));
    assert_eq!(t.lookup(v4(1, 2, 3, 4)), None);
    assert_eq!(t.lookup(v6(0, 0, 0, 0)), Some('b'));
}

#[test]
fn ipv4_mapped_ipv6_is_not_an_ipv4_address() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(10, 0, 0, 0), 8, 'a');
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped());
    assert_eq!(t.lookup(mapped), None);
    insert(&mut t, IpAddr::V6(Ipv4Addr::new(0, 0, 0, 0).to_ipv6_mapped()), 96, 'b');
    assert_eq!(t.lookup(mapped), Some('b'));
    assert_eq!(t.lookup(v4(10, 1, 2, 3)), Some('a'));
    assert!(!t.allows(mapped, 'a'), "a mapped source must not pass as a's IPv4 address");
}

#[test]
fn removing_an_inner_prefix_uncovers_the_outer_one() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(10, 0, 0, 0), 8, 'a');
    insert(&mut t, v4(10, 1, 0, 0), 16, 'b');
    insert(&mut t, v4(10, 1, 2, 0), 24, 'c');
    assert_eq!(t.lookup(v4(10, 1, 2, 3)), Some('c'));
    // Host bits in the removal address are ignored.
    assert_eq!(t.remove(v4(10, 1, 2, 99), 24), Some('c'));
    t.v4.assert_invariants();
    assert_eq!(t.lookup(v4(10, 1, 2, 3)), Some('b'));
    assert_eq!(t.remove(v4(10, 1, 0, 0), 16), Some('b'));
    t.v4.assert_invariants();
    assert_eq!(t.lookup(v4(10, 1, 2, 3)), Some('a'));
    // Removing something absent (or already removed, or a different length) changes nothing.
    assert_eq!(t.remove(v4(10, 1, 0, 0), 16), None);
    assert_eq!(t.remove(v4(10, 0, 0, 0), 9), None);
    assert_eq!(t.remove(v4(11, 0, 0, 0), 8), None);
    assert_eq!(t.len(), 1);
    assert_eq!(t.node_count(), 1);
}

#[test]
fn removing_an_outer_prefix_keeps_the_inner_ones() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(10, 0, 0, 0), 8, 'a');
    insert(&mut t, v4(10, 1, 0, 0), 16, 'b');
    insert(&mut t, v4(10, 2, 0, 0), 16, 'c');
    assert_eq!(t.remove(v4(10, 0, 0, 0), 8), Some('a'));
    t.v4.assert_invariants();
    assert_eq!(t.lookup(v4(10, 1, 0, 1)), Some('b'));
    assert_eq!(t.lookup(v4(10, 2, 0, 1)), Some('c'));
    assert_eq!(t.lookup(v4(10, 3, 0, 1)), None);
    assert_eq!(t.node_count(), 3, "the /8 stays as the branching node of the two /16s");
}

#[test]
fn reinserting_a_prefix_moves_it_to_the_new_peer() {
    let mut t = AllowedIps::new();
    assert_eq!(t.insert(v4(10, 0, 0, 0), 24, 'a'), Ok(None));
    assert_eq!(t.insert(v4(10, 0, 0, 7), 24, 'b'), Ok(Some('a')));
    assert_eq!(t.insert(v4(10, 0, 0, 0), 24, 'b'), Ok(Some('b')));
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup(v4(10, 0, 0, 1)), Some('b'));
    assert_eq!(t.prefixes_of('a').count(), 0);
    assert_eq!(t.remove_value('a'), 0);
    assert_eq!(t.lookup(v4(10, 0, 0, 1)), Some('b'));
}

#[test]
fn a_peer_cannot_send_from_another_peers_more_specific_prefix() {
    let mut t = AllowedIps::new();
    insert(&mut t, v4(10, 0, 0, 0), 16, 'b');
    insert(&mut t, v4(10, 0, 1, 0), 24, 'a');
    insert(&mut t, v6(0xfd00_0000, 0, 0, 0), 8, 'b');
    insert(&mut t, v6(0xfd00_0000, 0, 0, 2), 128, 'a');
    assert!(t.allows(v4(10, 0, 2, 5), 'b'));
    assert!(!t.allows(v4(10, 0, 1, 5), 'b'), "inside a's /24");
    assert!(t.allows(v4(10, 0, 1, 5), 'a'));
    assert!(!t.allows(v4(10, 0, 2, 5), 'a'));
    assert!(!t.allows(v4(10, 1, 0, 1), 'a'));
    assert!(!t.allows(v4(10, 1, 0, 1), 'b'));
    assert!(!t.allows(v6(0xfd00_0000, 0, 0, 2), 'b'));
    assert!(t.allows(v6(0xfd00_0000, 0, 0, 3), 'b'));
}

#[test]
fn iteration_is_v4_then_v6_in_address_order() {
    let mut t = AllowedIps::new();
    insert(&mut t, v6(0x2001_0db8, 0, 0, 0), 32, 'x');
    insert(&mut t, v4(192, 168, 1, 0), 24, 'y');
    insert(&mut t, v4(10, 0, 0, 0), 8, 'x');
    insert(&mut t, v4(10, 0, 0, 0), 16, 'y');
    insert(&mut t, v6(0, 0, 0, 0), 0, 'y');
    let all: Vec<_> = t.iter().collect();
    assert_eq!(
        all,
        vec![
            (v4(10, 0, 0, 0), 8, 'x'),
            (v4(10, 0, 0, 0), 16, 'y'),
            (v4(192, 168, 1, 0), 24, 'y'),
            (v6(0, 0, 0, 0), 0, 'y'),
            (v6(0x2001_0db8, 0, 0, 0), 32, 'x'),
        ]
    );
    assert_eq!(
        format!("{t:?}"),
        "{10.0.0.0/8: 'x', 10.0.0.0/16: 'y', 192.168.1.0/24: 'y', ::/0: 'y', 2001:db8::/32: 'x'}"
    );
}

#[test]
fn clear_empties_both_families_and_the_table_is_reusable() {
    let mut t = kernel_table();
    t.clear();
    assert!(t.is_empty());
    assert_eq!(t.node_count(), 0);
    assert_eq!(t.lookup(v4(10, 1, 0, 2)), None);
    assert_eq!(t.lookup(v6(0, 0, 0, 0)), None);
    assert_eq!(t.iter().count(), 0);
    insert(&mut t, v4(10, 0, 0, 0), 8, 'z');
    assert_eq!(t.lookup(v4(10, 1, 0, 2)), Some('z'));
}
