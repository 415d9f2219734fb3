//! Hash maps keyed by node index for the searches that touch a small part of a large graph, so
//! their memory follows what they visit rather than `node_count`.
//!
//! Keys are dense indexes chosen by the caller, not attacker-controlled strings, so a fast
//! multiplicative mix replaces the DoS-resistant default hasher.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-and-fold hasher for integer keys.
#[derive(Clone, Copy, Default)]
pub(crate) struct NodeHasher(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl NodeHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        let h = (self.0 ^ x).wrapping_mul(K);
        // Fold the well-mixed high bits down: the table indexes buckets with the low bits.
        self.0 = h ^ (h >> 29);
    }
}

impl Hasher for NodeHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.mix(x as u64);
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.mix(x);
    }
}

/// Map from node index.
pub(crate) type NodeMap<V> = HashMap<u32, V, BuildHasherDefault<NodeHasher>>;
/// Set of node indexes.
pub(crate) type NodeSet = HashSet<u32, BuildHasherDefault<NodeHasher>>;
