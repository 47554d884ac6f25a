//! A slot map whose keys carry a generation, so a key to a removed entry can never reach the entry
//! that later reuses its slot.
//!
//! Sockets and TCP connections live here. A user may keep a handle after the socket is gone (the
//! peer reset, the connection timed out and was reaped); without the generation, that stale handle
//! would silently read another connection's data. Slots are reused most-recently-freed first and
//! the table only grows when every slot is busy, so steady-state churn does not allocate.

/// Names one entry of a [`Slab`]: its slot and the generation the slot had when it was filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    index: u32,
    generation: u32,
}

impl SlotKey {
    /// The slot number (stable for the entry's life; reused after removal).
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when the entry was inserted.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Generation-checked storage: `insert` returns a [`SlotKey`], and `get`/`remove` with a key
/// whose entry was removed return `None` even after the slot is reused.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores `value`, reusing a free slot when there is one.
    ///
    /// # Panics
    /// When more than 2^32 − 1 slots would be needed (memory runs out long before).
    pub fn insert(&mut self, value: T) -> SlotKey {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.value = Some(value);
            return SlotKey { index, generation: slot.generation };
        }
        let index = u32::try_from(self.slots.len()).expect("slab holds fewer than 2^32 entries");
        self.slots.push(Slot { generation: 0, value: Some(value) });
        SlotKey { index, generation: 0 }
    }

    /// The entry `key` names, if it is still there.
    pub fn get(&self, key: SlotKey) -> Option<&T> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.value.as_ref()
    }

    /// The entry `key` names, writable, if it is still there.
    pub fn get_mut(&mut self, key: SlotKey) -> Option<&mut T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// True when `key` still names an entry.
    pub fn contains(&self, key: SlotKey) -> bool {
        self.get(key).is_some()
    }

    /// Takes the entry out; the slot's generation moves on so `key` (and every copy) goes stale.
    pub fn remove(&mut self, key: SlotKey) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// Every entry with its key, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (SlotKey, &T)> {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let key = SlotKey { index: index as u32, generation: slot.generation };
            slot.value.as_ref().map(|value| (key, value))
        })
    }

    /// Every entry with its key, writable, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SlotKey, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(index, slot)| {
            let key = SlotKey { index: index as u32, generation: slot.generation };
            slot.value.as_mut().map(|value| (key, value))
        })
    }

    /// The key of the entry in slot `index`, if one is there (for round-robin walks).
    pub fn key_at(&self, index: usize) -> Option<SlotKey> {
        let slot = self.slots.get(index)?;
        slot.value.as_ref().map(|_| SlotKey { index: index as u32, generation: slot.generation })
    }

    /// Number of slots, busy or free (the bound for [`Slab::key_at`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_stale_key_never_reaches_the_entry_reusing_its_slot() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(a.index(), b.index(), "the slot is reused");
        assert_ne!(a, b);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get_mut(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
    }

    proptest! {
        /// The slab behaves like a map from live keys to values, whatever the order of operations.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((any::<bool>(), any::<u8>()), 0..200)) {
            let mut slab = Slab::new();
            let mut model: Vec<(SlotKey, u8)> = Vec::new();
            let mut dead: Vec<SlotKey> = Vec::new();
            for (insert, value) in ops {
                if insert || model.is_empty() {
                    let key = slab.insert(value);
                    prop_assert!(!model.iter().any(|&(k, _)| k == key));
                    model.push((key, value));
                } else {
                    let (key, value) = model.remove(usize::from(value) % model.len());
                    prop_assert_eq!(slab.remove(key), Some(value));
                    dead.push(key);
                }
                prop_assert_eq!(slab.len(), model.len());
                for &(key, value) in &model {
                    prop_assert_eq!(slab.get(key), Some(&value));
                }
                for &key in &dead {
                    prop_assert_eq!(slab.get(key), None);
                }
                prop_assert_eq!(slab.iter().count(), model.len());
            }
        }
    }
}
