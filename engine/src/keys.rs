//! Every key layout of the store, in one place.
//!
//! Each keyspace starts with its own prefix byte and lives in its own column family (RocksDB) or
//! under its own prefix (sled). All integers are big-endian so that byte order equals numeric
//! order; timestamps flip the sign bit so negative times sort before positive ones. The byte
//! layouts are documented in `docs/keys.md`; the property tests at the bottom check round-trips
//! and that encoding preserves order.

use crate::error::{Error, Result};

/// Dense id of a node label or an edge type in the catalog.
pub type CatalogId = u16;
/// Dense internal id of a node, unique within its label.
pub type NodeId = u64;
/// Dense internal id of an edge, unique within its edge type.
pub type EdgeId = u64;
/// A timestamp in microseconds since the Unix epoch (UTC).
pub type Micros = i64;

/// The keyspaces of the store, each a column family in RocksDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keyspace {
    /// Catalog, id counters and load checkpoints.
    Meta,
    /// `(label, external key) → node id`.
    KeyToId,
    /// `(label, node id) → node record` (external key and properties).
    Nodes,
    /// `(label, node, edge type, direction, time, edge id) → neighbour id`.
    Adjacency,
    /// `(edge type, edge id) → edge record` (endpoints, time, properties).
    Edges,
    /// `(label, node, edge type, direction) → degree`.
    Degree,
}

impl Keyspace {
    /// Every keyspace, in prefix order.
    pub const ALL: [Keyspace; 6] = [
        Keyspace::Meta,
        Keyspace::KeyToId,
        Keyspace::Nodes,
        Keyspace::Adjacency,
        Keyspace::Edges,
        Keyspace::Degree,
    ];

    /// The first byte of every key in this keyspace.
    pub const fn prefix(self) -> u8 {
        match self {
            Keyspace::Meta => 0x01,
            Keyspace::KeyToId => 0x02,
            Keyspace::Nodes => 0x03,
            Keyspace::Adjacency => 0x04,
            Keyspace::Edges => 0x05,
            Keyspace::Degree => 0x06,
        }
    }

    /// The column family name used by the RocksDB backend.
    pub const fn name(self) -> &'static str {
        match self {
            Keyspace::Meta => "meta",
            Keyspace::KeyToId => "key_to_id",
            Keyspace::Nodes => "nodes",
            Keyspace::Adjacency => "adjacency",
            Keyspace::Edges => "edges",
            Keyspace::Degree => "degree",
        }
    }

    /// The keyspace a full key belongs to, from its prefix byte.
    pub fn of_key(key: &[u8]) -> Result<Keyspace> {
        let first = *key
            .first()
            .ok_or_else(|| Error::Corrupt("empty key".into()))?;
        Keyspace::ALL
            .into_iter()
            .find(|ks| ks.prefix() == first)
            .ok_or_else(|| Error::Corrupt(format!("unknown keyspace prefix 0x{first:02x}")))
    }

    /// The smallest key of this keyspace (inclusive lower bound of a full scan).
    pub fn lower(self) -> Vec<u8> {
        vec![self.prefix()]
    }

    /// The first key after this keyspace (exclusive upper bound of a full scan).
    pub fn upper(self) -> Vec<u8> {
        vec![self.prefix() + 1]
    }
}

/// Direction of an adjacency entry, seen from the node that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// The node is the edge's source (or either end of an undirected edge).
    Out = 0,
    /// The node is the edge's destination.
    In = 1,
}

impl Dir {
    fn from_byte(b: u8) -> Result<Dir> {
        match b {
            0 => Ok(Dir::Out),
            1 => Ok(Dir::In),
            other => Err(Error::Corrupt(format!("bad direction byte {other}"))),
        }
    }

    /// The opposite direction.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::Out => Dir::In,
            Dir::In => Dir::Out,
        }
    }
}

/// Order-preserving encoding of a signed timestamp: big-endian with the sign bit flipped.
pub fn encode_time(t: Micros) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_time`].
pub fn decode_time(b: [u8; 8]) -> Micros {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// Time stored for an edge that has none: it sorts before every real time.
pub const NO_TIME: Micros = i64::MIN;

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], ks: Keyspace, what: &'static str) -> Result<Self> {
        match bytes.split_first() {
            Some((&p, rest)) if p == ks.prefix() => Ok(Reader { bytes: rest, what }),
            _ => Err(Error::Corrupt(format!("{what}: wrong keyspace prefix"))),
        }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        if self.bytes.len() < N {
            return Err(Error::Corrupt(format!("{}: key too short", self.what)));
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        Ok(head.try_into().expect("length checked"))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take()?))
    }
    fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::Corrupt(format!(
                "{}: trailing bytes in key",
                self.what
            )))
        }
    }
}

// ---- meta -------------------------------------------------------------------------------

/// Key of the persisted catalog.
pub fn catalog_key() -> Vec<u8> {
    meta_key(b"catalog")
}

/// Key of a named meta entry (counters, load checkpoints).
pub fn meta_key(name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(Keyspace::Meta.prefix());
    k.extend_from_slice(name);
    k
}

/// Key of the next free node id of a label.
pub fn next_node_id_key(label: CatalogId) -> Vec<u8> {
    let mut k = meta_key(b"next_node/");
    k.extend_from_slice(&label.to_be_bytes());
    k
}

/// Key of the next free edge id of an edge type.
pub fn next_edge_id_key(edge_type: CatalogId) -> Vec<u8> {
    let mut k = meta_key(b"next_edge/");
    k.extend_from_slice(&edge_type.to_be_bytes());
    k
}

/// Key of the live node count of a label.
pub fn node_count_key(label: CatalogId) -> Vec<u8> {
    let mut k = meta_key(b"node_count/");
    k.extend_from_slice(&label.to_be_bytes());
    k
}

/// Key of the live edge count of an edge type.
pub fn edge_count_key(edge_type: CatalogId) -> Vec<u8> {
    let mut k = meta_key(b"edge_count/");
    k.extend_from_slice(&edge_type.to_be_bytes());
    k
}

// ---- key_to_id --------------------------------------------------------------------------

/// `0x02 | label u16 | key bytes`: the external key is last, so raw bytes keep order.
pub fn key_to_id_key(label: CatalogId, external: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + external.len());
    k.push(Keyspace::KeyToId.prefix());
    k.extend_from_slice(&label.to_be_bytes());
    k.extend_from_slice(external);
    k
}

/// Inverse of [`key_to_id_key`].
pub fn decode_key_to_id_key(key: &[u8]) -> Result<(CatalogId, &[u8])> {
    let mut r = Reader::new(key, Keyspace::KeyToId, "key_to_id")?;
    let label = r.u16()?;
    Ok((label, r.bytes))
}

/// Prefix of every key-dictionary entry of one label.
pub fn key_to_id_prefix(label: CatalogId) -> Vec<u8> {
    key_to_id_key(label, &[])
}

// ---- nodes ------------------------------------------------------------------------------

/// `0x03 | label u16 | node id u64`.
pub fn node_key(label: CatalogId, id: NodeId) -> [u8; 11] {
    let mut k = [0u8; 11];
    k[0] = Keyspace::Nodes.prefix();
    k[1..3].copy_from_slice(&label.to_be_bytes());
    k[3..11].copy_from_slice(&id.to_be_bytes());
    k
}

/// Inverse of [`node_key`].
pub fn decode_node_key(key: &[u8]) -> Result<(CatalogId, NodeId)> {
    let mut r = Reader::new(key, Keyspace::Nodes, "node")?;
    let out = (r.u16()?, r.u64()?);
    r.finish()?;
    Ok(out)
}

/// Prefix of every node record of one label.
pub fn node_prefix(label: CatalogId) -> Vec<u8> {
    let mut k = vec![Keyspace::Nodes.prefix()];
    k.extend_from_slice(&label.to_be_bytes());
    k
}

// ---- adjacency --------------------------------------------------------------------------

/// One adjacency entry, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdjKey {
    /// Label of the node owning the entry.
    pub label: CatalogId,
    /// The node owning the entry.
    pub node: NodeId,
    /// Edge type.
    pub edge_type: CatalogId,
    /// Direction seen from `node`.
    pub dir: Dir,
    /// Edge time ([`NO_TIME`] when the edge has none).
    pub time: Micros,
    /// Edge id within its type.
    pub edge: EdgeId,
}

/// Length of an encoded adjacency key.
pub const ADJ_KEY_LEN: usize = 1 + 2 + 8 + 2 + 1 + 8 + 8;
/// Length of the `(label, node, edge type, direction)` prefix used by prefix bloom filters.
pub const ADJ_PREFIX_LEN: usize = 1 + 2 + 8 + 2 + 1;

impl AdjKey {
    /// `0x04 | label u16 | node u64 | edge type u16 | dir u8 | time (sign-flipped) | edge id u64`.
    pub fn encode(&self) -> [u8; ADJ_KEY_LEN] {
        let mut k = [0u8; ADJ_KEY_LEN];
        k[..ADJ_PREFIX_LEN].copy_from_slice(&adj_prefix(
            self.label,
            self.node,
            self.edge_type,
            self.dir,
        ));
        k[14..22].copy_from_slice(&encode_time(self.time));
        k[22..30].copy_from_slice(&self.edge.to_be_bytes());
        k
    }

    /// Inverse of [`AdjKey::encode`].
    pub fn decode(key: &[u8]) -> Result<AdjKey> {
        let mut r = Reader::new(key, Keyspace::Adjacency, "adjacency")?;
        let label = r.u16()?;
        let node = r.u64()?;
        let edge_type = r.u16()?;
        let dir = Dir::from_byte(r.take::<1>()?[0])?;
        let time = decode_time(r.take()?);
        let edge = r.u64()?;
        r.finish()?;
        Ok(AdjKey {
            label,
            node,
            edge_type,
            dir,
            time,
            edge,
        })
    }
}

/// Prefix of the adjacency of one node for one edge type and direction.
pub fn adj_prefix(
    label: CatalogId,
    node: NodeId,
    edge_type: CatalogId,
    dir: Dir,
) -> [u8; ADJ_PREFIX_LEN] {
    let mut k = [0u8; ADJ_PREFIX_LEN];
    k[0] = Keyspace::Adjacency.prefix();
    k[1..3].copy_from_slice(&label.to_be_bytes());
    k[3..11].copy_from_slice(&node.to_be_bytes());
    k[11..13].copy_from_slice(&edge_type.to_be_bytes());
    k[13] = dir as u8;
    k
}

/// Prefix of all adjacency entries of one node (every type and direction).
pub fn adj_node_prefix(label: CatalogId, node: NodeId) -> Vec<u8> {
    adj_prefix(label, node, 0, Dir::Out)[..11].to_vec()
}

/// `[lower, upper)` bounds of the entries of one node, type and direction with time in
/// `[since, until]` (both inclusive).
pub fn adj_time_range(
    label: CatalogId,
    node: NodeId,
    edge_type: CatalogId,
    dir: Dir,
    since: Micros,
    until: Micros,
) -> (Vec<u8>, Vec<u8>) {
    let prefix = adj_prefix(label, node, edge_type, dir);
    let mut lower = prefix.to_vec();
    lower.extend_from_slice(&encode_time(since));
    let mut upper = prefix.to_vec();
    match until.checked_add(1) {
        Some(next) => upper.extend_from_slice(&encode_time(next)),
        None => return (lower, prefix_successor(&prefix)),
    }
    (lower, upper)
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_successor(prefix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return out;
        }
    }
    // Every byte was 0xff: no finite successor; the keyspace prefix bytes never get here.
    vec![0xff; prefix.len() + 1]
}

/// The byte order of two fixed-length keys (what `a.cmp(b)` gives), compared eight bytes at a
/// time as big-endian words: sorting a bulk load's entries this way avoids a `memcmp` call per
/// comparison. The last word may overlap the one before it; bytes it shares were equal.
pub fn compare_fixed<const K: usize>(a: &[u8; K], b: &[u8; K]) -> std::cmp::Ordering {
    if K < 8 {
        return a.cmp(b);
    }
    let word =
        |k: &[u8; K], at: usize| u64::from_be_bytes(k[at..at + 8].try_into().expect("eight bytes"));
    let mut at = 0;
    loop {
        let start = at.min(K - 8);
        match word(a, start).cmp(&word(b, start)) {
            std::cmp::Ordering::Equal if start + 8 < K => at += 8,
            other => return other,
        }
    }
}

// ---- edges ------------------------------------------------------------------------------

/// Length of an encoded `edges` key.
pub const EDGE_KEY_LEN: usize = 1 + 2 + 8;

/// `0x05 | edge type u16 | edge id u64`.
pub fn edge_key(edge_type: CatalogId, id: EdgeId) -> [u8; EDGE_KEY_LEN] {
    let mut k = [0u8; 11];
    k[0] = Keyspace::Edges.prefix();
    k[1..3].copy_from_slice(&edge_type.to_be_bytes());
    k[3..11].copy_from_slice(&id.to_be_bytes());
    k
}

/// Inverse of [`edge_key`].
pub fn decode_edge_key(key: &[u8]) -> Result<(CatalogId, EdgeId)> {
    let mut r = Reader::new(key, Keyspace::Edges, "edge")?;
    let out = (r.u16()?, r.u64()?);
    r.finish()?;
    Ok(out)
}

/// Prefix of every edge record of one type.
pub fn edge_prefix(edge_type: CatalogId) -> Vec<u8> {
    let mut k = vec![Keyspace::Edges.prefix()];
    k.extend_from_slice(&edge_type.to_be_bytes());
    k
}

// ---- degree -----------------------------------------------------------------------------

/// `0x06 | label u16 | node u64 | edge type u16 | dir u8`.
pub fn degree_key(label: CatalogId, node: NodeId, edge_type: CatalogId, dir: Dir) -> [u8; 14] {
    let mut k = adj_prefix(label, node, edge_type, dir);
    k[0] = Keyspace::Degree.prefix();
    k
}

/// The degree counter that an adjacency entry (a full `adjacency` key) counts towards.
pub fn degree_key_of_adjacency(adjacency: &[u8; ADJ_KEY_LEN]) -> [u8; ADJ_PREFIX_LEN] {
    let mut k = [0; ADJ_PREFIX_LEN];
    k.copy_from_slice(&adjacency[..ADJ_PREFIX_LEN]);
    k[0] = Keyspace::Degree.prefix();
    k
}

/// The edge type of an `edges` key.
pub fn edge_type_of_edge_key(key: &[u8; EDGE_KEY_LEN]) -> CatalogId {
    u16::from_be_bytes([key[1], key[2]])
}

/// Inverse of [`degree_key`].
pub fn decode_degree_key(key: &[u8]) -> Result<(CatalogId, NodeId, CatalogId, Dir)> {
    let mut r = Reader::new(key, Keyspace::Degree, "degree")?;
    let label = r.u16()?;
    let node = r.u64()?;
    let edge_type = r.u16()?;
    let dir = Dir::from_byte(r.take::<1>()?[0])?;
    r.finish()?;
    Ok((label, node, edge_type, dir))
}

/// Encoding of a counter (degrees, counts): `i64` big-endian.
pub fn encode_counter(v: i64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Inverse of [`encode_counter`].
pub fn decode_counter(bytes: &[u8]) -> Result<i64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("counter of {} bytes, expected 8", bytes.len())))?;
    Ok(i64::from_be_bytes(arr))
}

/// Encoding of an id value (next free ids, adjacency neighbour ids): `u64` big-endian.
pub fn encode_u64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Inverse of [`encode_u64`].
pub fn decode_u64(bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("counter of {} bytes, expected 8", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dir() -> impl Strategy<Value = Dir> {
        prop_oneof![Just(Dir::Out), Just(Dir::In)]
    }

    fn adj() -> impl Strategy<Value = AdjKey> {
        (
            any::<u16>(),
            any::<u64>(),
            any::<u16>(),
            dir(),
            any::<i64>(),
            any::<u64>(),
        )
            .prop_map(|(label, node, edge_type, dir, time, edge)| AdjKey {
                label,
                node,
                edge_type,
                dir,
                time,
                edge,
            })
    }

    proptest! {
        #[test]
        fn word_comparison_is_byte_order(a in adj(), b in adj(), e1 in any::<u64>(), e2 in any::<u64>()) {
            let (ka, kb) = (a.encode(), b.encode());
            prop_assert_eq!(compare_fixed(&ka, &kb), ka.cmp(&kb));
            prop_assert_eq!(compare_fixed(&ka, &ka), std::cmp::Ordering::Equal);
            // Keys that differ only in their last bytes, where the final word overlaps.
            let (ta, tb) = (AdjKey { edge: e1, ..a }.encode(), AdjKey { edge: e2, ..a }.encode());
            prop_assert_eq!(compare_fixed(&ta, &tb), ta.cmp(&tb));
            let (ea, eb) = (edge_key(a.edge_type, e1), edge_key(a.edge_type, e2));
            prop_assert_eq!(compare_fixed(&ea, &eb), ea.cmp(&eb));
            let (short_a, short_b) = ([a.dir as u8, 1, 2], [b.dir as u8, 1, 2]);
            prop_assert_eq!(compare_fixed(&short_a, &short_b), short_a.cmp(&short_b));
        }

        #[test]
        fn time_round_trip_and_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(decode_time(encode_time(a)), a);
            prop_assert_eq!(a.cmp(&b), encode_time(a).cmp(&encode_time(b)));
        }

        #[test]
        fn adjacency_round_trip_and_order(a in adj(), b in adj()) {
            prop_assert_eq!(AdjKey::decode(&a.encode()).unwrap(), a);
            // Field order of the struct is the intended sort order of the keys.
            prop_assert_eq!(a.cmp(&b), a.encode().cmp(&b.encode()));
        }

        #[test]
        fn node_and_edge_keys(l1 in any::<u16>(), i1 in any::<u64>(), l2 in any::<u16>(), i2 in any::<u64>()) {
            prop_assert_eq!(decode_node_key(&node_key(l1, i1)).unwrap(), (l1, i1));
            prop_assert_eq!((l1, i1).cmp(&(l2, i2)), node_key(l1, i1).cmp(&node_key(l2, i2)));
            prop_assert_eq!(decode_edge_key(&edge_key(l1, i1)).unwrap(), (l1, i1));
            prop_assert_eq!((l1, i1).cmp(&(l2, i2)), edge_key(l1, i1).cmp(&edge_key(l2, i2)));
        }

        #[test]
        fn key_dictionary_order(l1 in any::<u16>(), k1 in proptest::collection::vec(any::<u8>(), 0..24),
                                l2 in any::<u16>(), k2 in proptest::collection::vec(any::<u8>(), 0..24)) {
            let (e1, e2) = (key_to_id_key(l1, &k1), key_to_id_key(l2, &k2));
            let (dl, dk) = decode_key_to_id_key(&e1).unwrap();
            prop_assert_eq!((dl, dk), (l1, &k1[..]));
            prop_assert_eq!((l1, &k1).cmp(&(l2, &k2)), e1.cmp(&e2));
        }

        #[test]
        fn degree_round_trip(l in any::<u16>(), n in any::<u64>(), t in any::<u16>(), d in dir()) {
            prop_assert_eq!(decode_degree_key(&degree_key(l, n, t, d)).unwrap(), (l, n, t, d));
        }

        #[test]
        fn time_range_bounds_select_exactly_the_window(a in adj(), since in any::<i64>(), until in any::<i64>()) {
            let (lo, hi) = adj_time_range(a.label, a.node, a.edge_type, a.dir, since, until);
            let k = a.encode().to_vec();
            let inside = k >= lo && k < hi;
            prop_assert_eq!(inside, a.time >= since && a.time <= until);
        }
    }

    #[test]
    fn keyspaces_are_distinct_and_ordered() {
        for w in Keyspace::ALL.windows(2) {
            assert!(w[0].prefix() < w[1].prefix());
        }
        for ks in Keyspace::ALL {
            assert_eq!(Keyspace::of_key(&ks.lower()).unwrap(), ks);
        }
        assert!(Keyspace::of_key(&[0x7f]).is_err());
    }

    #[test]
    fn successor_of_prefix() {
        assert_eq!(prefix_successor(&[1, 2, 0xff]), vec![1, 3]);
        assert_eq!(prefix_successor(&[4]), vec![5]);
    }
}
