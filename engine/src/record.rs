//! Value encodings of node and edge records.
//!
//! Properties are stored sparsely as `(index u16, tag u8, payload)` so that adding a property to
//! a label never rewrites existing records, and so that `argus check` can compare every stored
//! value's tag with the catalog's type. Layouts are in `docs/keys.md`.

use crate::catalog::Value;
use crate::error::{Error, Result};
use crate::keys::{Dir, Micros, NodeId};

/// Properties of one record: `(property index, value)`, sorted by index, no nulls.
pub type Props = Vec<(u16, Value)>;

const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_STRING: u8 = 4;
const TAG_TIMESTAMP: u8 = 5;
const TAG_VECTOR: u8 = 6;

/// A decoded node record.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    /// External key.
    pub key: String,
    /// Properties present on the node.
    pub props: Props,
}

/// A decoded edge record.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRecord {
    /// Source node id (in the edge type's source label).
    pub src: NodeId,
    /// Destination node id.
    pub dst: NodeId,
    /// Edge time, [`crate::keys::NO_TIME`] when it has none.
    pub time: Micros,
    /// Properties present on the edge.
    pub props: Props,
}

fn put_props(out: &mut Vec<u8>, props: &Props) {
    out.extend_from_slice(&(props.len() as u16).to_le_bytes());
    for (idx, v) in props {
        out.extend_from_slice(&idx.to_le_bytes());
        match v {
            Value::Int(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(x) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(*b as u8);
            }
            Value::String(s) => {
                out.push(TAG_STRING);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Timestamp(t) => {
                out.push(TAG_TIMESTAMP);
                out.extend_from_slice(&t.to_le_bytes());
            }
            Value::Vector(v) => {
                out.push(TAG_VECTOR);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::Corrupt(format!("{} record truncated", self.what)));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn string(&mut self) -> Result<String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::Corrupt(format!("{} record: invalid UTF-8", self.what)))
    }
    fn props(&mut self) -> Result<Props> {
        let n = self.u16()? as usize;
        let mut props = Vec::with_capacity(n);
        for _ in 0..n {
            let idx = self.u16()?;
            let tag = self.array::<1>()?[0];
            let v = match tag {
                TAG_INT => Value::Int(self.u64()? as i64),
                TAG_FLOAT => Value::Float(f64::from_le_bytes(self.array()?)),
                TAG_BOOL => Value::Bool(self.array::<1>()?[0] != 0),
                TAG_STRING => Value::String(self.string()?),
                TAG_TIMESTAMP => Value::Timestamp(self.u64()? as i64),
                TAG_VECTOR => {
                    let len = self.u32()? as usize;
                    let raw = self.take(len * 4)?;
                    Value::Vector(
                        raw.chunks_exact(4)
                            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                            .collect(),
                    )
                }
                other => {
                    return Err(Error::Corrupt(format!(
                        "{} record: unknown value tag {other}",
                        self.what
                    )))
                }
            };
            props.push((idx, v));
        }
        if !self.bytes.is_empty() {
            return Err(Error::Corrupt(format!(
                "{} record: trailing bytes",
                self.what
            )));
        }
        Ok(props)
    }
}

impl NodeRecord {
    /// `key_len u32 | key | n u16 | (index u16, tag u8, payload)*`, little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.key.len() + 16 * self.props.len());
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        put_props(&mut out, &self.props);
        out
    }

    /// Inverse of [`NodeRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<NodeRecord> {
        let mut c = Cursor {
            bytes,
            what: "node",
        };
        let key = c.string()?;
        let props = c.props()?;
        Ok(NodeRecord { key, props })
    }

    /// Decode only the external key (cheap: no property decoding).
    pub fn decode_key(bytes: &[u8]) -> Result<String> {
        Cursor {
            bytes,
            what: "node",
        }
        .string()
    }

    /// Overlay `new` onto the existing properties (upsert semantics: new values win, others stay).
    pub fn merge(&mut self, new: Props) {
        for (idx, v) in new {
            match self.props.binary_search_by_key(&idx, |(i, _)| *i) {
                Ok(pos) => self.props[pos].1 = v,
                Err(pos) => self.props.insert(pos, (idx, v)),
            }
        }
    }
}

impl EdgeRecord {
    /// `src u64 | dst u64 | time i64 | n u16 | (index u16, tag u8, payload)*`, little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(26 + 16 * self.props.len());
        self.encode_into(&mut out);
        out
    }

    /// [`EdgeRecord::encode`], appended to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.src.to_le_bytes());
        out.extend_from_slice(&self.dst.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        put_props(out, &self.props);
    }

    /// Inverse of [`EdgeRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<EdgeRecord> {
        let mut c = Cursor {
            bytes,
            what: "edge",
        };
        let src = c.u64()?;
        let dst = c.u64()?;
        let time = c.u64()? as i64;
        let props = c.props()?;
        Ok(EdgeRecord {
            src,
            dst,
            time,
            props,
        })
    }
}

/// Where the property section starts in an encoded edge record (after `src`, `dst`, `time`).
pub const EDGE_PROPS_OFFSET: usize = 24;

/// The property section of an encoded edge record (`n u16 · properties`), as copied into the
/// edge's adjacency entries.
pub fn edge_record_props(record: &[u8]) -> Result<&[u8]> {
    record
        .get(EDGE_PROPS_OFFSET..)
        .ok_or_else(|| Error::Corrupt("edge record truncated".into()))
}

/// The adjacency value of one entry of an edge whose encoded record is `record`: the node at
/// the other end (`u64` big-endian), and for out-entries (both entries of an undirected edge)
/// the record's property section after it. Copying the properties there makes "a node's edges
/// with their properties" one range scan from the side queries start from (a card's payments,
/// an account's transfers out), while in-entries stay small for traversals that only need ids.
pub fn adjacency_value(dir: Dir, other: NodeId, record: &[u8]) -> Result<Vec<u8>> {
    let props = match dir {
        Dir::Out => edge_record_props(record)?,
        Dir::In => &[],
    };
    let mut out = Vec::with_capacity(8 + props.len());
    out.extend_from_slice(&other.to_be_bytes());
    out.extend_from_slice(props);
    Ok(out)
}

/// The other end of an adjacency value.
pub fn adjacency_other(value: &[u8]) -> Result<NodeId> {
    let head: [u8; 8] = value
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| Error::Corrupt(format!("adjacency value of {} bytes", value.len())))?;
    Ok(u64::from_be_bytes(head))
}

/// The property section of an adjacency value: `None` for an in-entry, which has none.
pub fn adjacency_props_section(value: &[u8]) -> Option<&[u8]> {
    value.get(8..).filter(|rest| !rest.is_empty())
}

/// Decode a property section (`n u16 · properties`).
pub fn decode_props(section: &[u8]) -> Result<Props> {
    Cursor {
        bytes: section,
        what: "edge",
    }
    .props()
}

/// Sort properties by index and drop duplicates, keeping the last value given.
pub fn normalize_props(mut props: Props) -> Props {
    props.reverse();
    props.sort_by_key(|(i, _)| *i); // stable: for equal indexes the last given comes first
    props.dedup_by_key(|(i, _)| *i);
    props
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_round_trip_and_merge() {
        let mut n = NodeRecord {
            key: "card:4242".into(),
            props: vec![
                (0, Value::Int(-5)),
                (2, Value::String("fr".into())),
                (3, Value::Vector(vec![1.5, -2.0])),
            ],
        };
        assert_eq!(NodeRecord::decode(&n.encode()).unwrap(), n);
        assert_eq!(NodeRecord::decode_key(&n.encode()).unwrap(), "card:4242");
        n.merge(vec![
            (1, Value::Bool(true)),
            (2, Value::String("de".into())),
        ]);
        assert_eq!(n.props[1], (1, Value::Bool(true)));
        assert_eq!(n.props[2], (2, Value::String("de".into())));
        assert!(NodeRecord::decode(&n.encode()[..5]).is_err());
    }

    #[test]
    fn edge_round_trip() {
        let e = EdgeRecord {
            src: 7,
            dst: 9,
            time: -3,
            props: vec![(0, Value::Float(12.5)), (1, Value::Timestamp(99))],
        };
        assert_eq!(EdgeRecord::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn normalize_keeps_last() {
        let p = normalize_props(vec![
            (2, Value::Int(1)),
            (0, Value::Int(2)),
            (2, Value::Int(3)),
        ]);
        assert_eq!(p, vec![(0, Value::Int(2)), (2, Value::Int(3))]);
    }
}
