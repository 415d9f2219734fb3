//! `argus check`: verify what can drift between keyspaces, on one snapshot.
//!
//! - key dictionary ↔ node records, both ways;
//! - every stored value against its catalog type, and id counters against the ids in use;
//! - edge records ↔ adjacency entries: every edge has exactly the entries its direction
//!   implies and no entry lacks its edge. Compared as order-independent fingerprints (sums of
//!   two 64-bit hashes of each entry) so both keyspaces are read once, in key order; only when
//!   the fingerprints differ is every edge looked up to name the culprits;
//! - degree counters against the counted adjacency entries (a merge of two scans that are both
//!   ordered by `(label, node, edge type, direction)`);
//! - node and edge counts against their counters.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::catalog::{Catalog, HasProperties, PropertyDef};
use crate::error::Result;
use crate::graph::{adjacency_entries, Snapshot};
use crate::keys::{self, AdjKey, CatalogId, Dir, Keyspace, NodeId};
use crate::record::{adjacency_other, adjacency_value, EdgeRecord, NodeRecord, Props};

/// Outcome of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Nodes seen.
    pub nodes: u64,
    /// Edges seen.
    pub edges: u64,
    /// Adjacency entries seen.
    pub adjacency_entries: u64,
    /// Number of problems found (may exceed `problems.len()`).
    pub problem_count: u64,
    /// Descriptions of the first problems found.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, message: String) {
        self.problem_count += 1;
        if self.problems.len() < 100 {
            self.problems.push(message);
        }
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Fingerprint(u64, u64, u64);

impl Fingerprint {
    /// One adjacency entry: its key and value.
    fn add(&mut self, key: &[u8], value: &[u8]) {
        let mut a = std::collections::hash_map::DefaultHasher::new();
        (key, value).hash(&mut a);
        let mut b = std::collections::hash_map::DefaultHasher::new();
        (value, key, 0x9e37_79b9_u32).hash(&mut b);
        self.0 = self.0.wrapping_add(a.finish());
        self.1 = self.1.wrapping_add(b.finish());
        self.2 += 1;
    }
}

fn check_props(report: &mut CheckReport, what: &str, defs: &[PropertyDef], props: &Props) {
    for (idx, v) in props {
        match defs.get(*idx as usize) {
            None => report.problem(format!("{what}: property #{idx} is not in the catalog")),
            Some(def) if def.ty != v.prop_type() => report.problem(format!(
                "{what}: property '{}' holds a {} value, the catalog says {}",
                def.name,
                v.prop_type(),
                def.ty
            )),
            Some(_) => {}
        }
    }
}

fn counter(snap: &Snapshot, key: &[u8]) -> Result<i64> {
    match snap.view().get(key)? {
        Some(b) => keys::decode_counter(&b),
        None => Ok(0),
    }
}

fn next_id(snap: &Snapshot, key: &[u8]) -> Result<u64> {
    match snap.view().get(key)? {
        Some(b) => keys::decode_u64(&b),
        None => Ok(0),
    }
}

/// Check the store as of `snap`.
pub fn check(snap: &Snapshot) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let catalog: &Catalog = snap.catalog();
    let view = snap.view();

    for (i, l) in catalog.labels.iter().enumerate() {
        if l.id as usize != i {
            report.problem(format!(
                "catalog: label '{}' has id {} at position {i}",
                l.name, l.id
            ));
        }
    }
    for (i, t) in catalog.edge_types.iter().enumerate() {
        if t.id as usize != i {
            report.problem(format!(
                "catalog: edge type '{}' has id {} at position {i}",
                t.name, t.id
            ));
        }
        for l in [t.src_label, t.dst_label] {
            if catalog.label_by_id(l).is_err() {
                report.problem(format!(
                    "catalog: edge type '{}' refers to missing label id {l}",
                    t.name
                ));
            }
        }
    }

    // Nodes: record ↔ dictionary, property types; remember which ids exist.
    let mut existing: Vec<Vec<bool>> = Vec::new();
    for label in &catalog.labels {
        let next = next_id(snap, &keys::next_node_id_key(label.id))?;
        let mut present = vec![false; next as usize];
        let prefix = keys::node_prefix(label.id);
        let mut count = 0i64;
        for item in view.scan(&prefix, &keys::prefix_successor(&prefix), false) {
            let (k, v) = item?;
            let (_, id) = keys::decode_node_key(&k)?;
            let what = format!("node {}#{id}", label.name);
            count += 1;
            match present.get_mut(id as usize) {
                Some(p) => *p = true,
                None => report.problem(format!("{what}: id is not below the next free id {next}")),
            }
            let rec = match NodeRecord::decode(&v) {
                Ok(r) => r,
                Err(e) => {
                    report.problem(format!("{what}: {e}"));
                    continue;
                }
            };
            check_props(&mut report, &what, &label.properties, &rec.props);
            match snap.node_id_in(label.id, &rec.key)? {
                Some(mapped) if mapped == id => {}
                Some(other) => {
                    report.problem(format!("{what}: key '{}' maps to id {other}", rec.key))
                }
                None => report.problem(format!(
                    "{what}: key '{}' is missing from the key dictionary",
                    rec.key
                )),
            }
        }
        let stored = counter(snap, &keys::node_count_key(label.id))?;
        if stored != count {
            report.problem(format!(
                "label '{}': node counter says {stored}, found {count}",
                label.name
            ));
        }
        report.nodes += count as u64;
        let prefix = keys::key_to_id_prefix(label.id);
        for item in view.scan(&prefix, &keys::prefix_successor(&prefix), false) {
            let (k, v) = item?;
            let (_, key) = keys::decode_key_to_id_key(&k)?;
            let id = keys::decode_u64(&v)?;
            if !present.get(id as usize).copied().unwrap_or(false) {
                report.problem(format!(
                    "key dictionary: {}:{} maps to id {id}, which has no node record",
                    label.name,
                    String::from_utf8_lossy(key)
                ));
            }
        }
        existing.push(present);
    }
    let node_exists = |label: CatalogId, id: NodeId| -> bool {
        existing
            .get(label as usize)
            .and_then(|p| p.get(id as usize))
            .copied()
            .unwrap_or(false)
    };

    // Edges: endpoints, property types, expected adjacency fingerprint.
    let mut expected = Fingerprint::default();
    for t in &catalog.edge_types {
        let next = next_id(snap, &keys::next_edge_id_key(t.id))?;
        let prefix = keys::edge_prefix(t.id);
        let mut count = 0i64;
        for item in view.scan(&prefix, &keys::prefix_successor(&prefix), false) {
            let (k, v) = item?;
            let (_, id) = keys::decode_edge_key(&k)?;
            let what = format!("edge {}#{id}", t.name);
            count += 1;
            if id >= next {
                report.problem(format!("{what}: id is not below the next free id {next}"));
            }
            let rec = match EdgeRecord::decode(&v) {
                Ok(r) => r,
                Err(e) => {
                    report.problem(format!("{what}: {e}"));
                    continue;
                }
            };
            check_props(&mut report, &what, t.properties(), &rec.props);
            if !node_exists(t.src_label, rec.src) {
                report.problem(format!("{what}: source node id {} does not exist", rec.src));
            }
            if !node_exists(t.dst_label, rec.dst) {
                report.problem(format!(
                    "{what}: destination node id {} does not exist",
                    rec.dst
                ));
            }
            for (label, node, dir, other) in
                adjacency_entries(t.src_label, t.dst_label, t.undirected, rec.src, rec.dst)
            {
                let key = AdjKey {
                    label,
                    node,
                    edge_type: t.id,
                    dir,
                    time: rec.time,
                    edge: id,
                }
                .encode();
                expected.add(&key, &adjacency_value(dir, other, &v)?);
            }
        }
        let stored = counter(snap, &keys::edge_count_key(t.id))?;
        if stored != count {
            report.problem(format!(
                "edge type '{}': edge counter says {stored}, found {count}",
                t.name
            ));
        }
        report.edges += count as u64;
    }

    // Adjacency: fingerprint and per-prefix counts, merged against the degree keyspace.
    let mut actual = Fingerprint::default();
    let mut degrees = view
        .scan(&Keyspace::Degree.lower(), &Keyspace::Degree.upper(), false)
        .peekable();
    let mut run: Option<([u8; keys::ADJ_PREFIX_LEN], i64)> = None;
    let mut bad_entries: HashMap<String, u64> = HashMap::new();
    let mut compare_run = |run: Option<([u8; keys::ADJ_PREFIX_LEN], i64)>,
                           report: &mut CheckReport|
     -> Result<()> {
        // Degree entries sorting before this run have no adjacency entries at all.
        let upto = run.map(|(p, _)| p);
        while let Some(item) = degrees.peek() {
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(_) => {
                    return Err(degrees
                        .next()
                        .expect("peeked")
                        .expect_err("peeked an error"))
                }
            };
            let mut as_adj = [0u8; keys::ADJ_PREFIX_LEN];
            as_adj.copy_from_slice(&k[..keys::ADJ_PREFIX_LEN.min(k.len())]);
            as_adj[0] = Keyspace::Adjacency.prefix();
            match upto {
                Some(p) if as_adj > p => break,
                Some(p) if as_adj == p => {
                    let stored = keys::decode_counter(v)?;
                    let (label, node, t, dir) = keys::decode_degree_key(k)?;
                    let found = run.expect("some").1;
                    if stored != found {
                        report.problem(format!(
                            "degree of label#{label} node {node}, edge type#{t} {dir:?}: counter says {stored}, found {found} entries"
                        ));
                    }
                    degrees.next();
                    return Ok(());
                }
                _ => {
                    let stored = keys::decode_counter(v)?;
                    if stored != 0 {
                        let (label, node, t, dir) = keys::decode_degree_key(k)?;
                        report.problem(format!(
                            "degree of label#{label} node {node}, edge type#{t} {dir:?}: counter says {stored}, found no entries"
                        ));
                    }
                    degrees.next();
                }
            }
        }
        if let Some((p, found)) = run {
            let adj = AdjKey::decode(&[&p[..], &[0u8; 16][..]].concat())?;
            report.problem(format!(
                "degree of label#{} node {}, edge type#{} {:?}: no counter, found {found} entries",
                adj.label, adj.node, adj.edge_type, adj.dir
            ));
        }
        Ok(())
    };
    for item in view.scan(
        &Keyspace::Adjacency.lower(),
        &Keyspace::Adjacency.upper(),
        false,
    ) {
        let (k, v) = item?;
        report.adjacency_entries += 1;
        let adj = match AdjKey::decode(&k) {
            Ok(a) => a,
            Err(e) => {
                report.problem(format!("adjacency: {e}"));
                continue;
            }
        };
        adjacency_other(&v)?;
        actual.add(&k, &v);
        if !node_exists(adj.label, adj.node) {
            *bad_entries
                .entry(format!(
                    "adjacency entries of missing node label#{} id {}",
                    adj.label, adj.node
                ))
                .or_default() += 1;
        }
        match catalog.edge_type_by_id(adj.edge_type) {
            Ok(t) if t.undirected && adj.dir == Dir::In => {
                *bad_entries
                    .entry(format!("in-entries of undirected edge type '{}'", t.name))
                    .or_default() += 1;
            }
            Ok(_) => {}
            Err(_) => {
                *bad_entries
                    .entry(format!("entries of unknown edge type#{}", adj.edge_type))
                    .or_default() += 1
            }
        }
        let mut prefix = [0u8; keys::ADJ_PREFIX_LEN];
        prefix.copy_from_slice(&k[..keys::ADJ_PREFIX_LEN]);
        match &mut run {
            Some((p, n)) if *p == prefix => *n += 1,
            _ => {
                let finished = run.take();
                if finished.is_some() {
                    compare_run(finished, &mut report)?;
                }
                run = Some((prefix, 1));
            }
        }
    }
    if run.is_some() {
        compare_run(run.take(), &mut report)?;
    }
    compare_run(None, &mut report)?;
    let mut bad: Vec<_> = bad_entries.into_iter().collect();
    bad.sort();
    for (what, n) in bad {
        report.problem(format!("adjacency: {n} {what}"));
    }

    if expected != actual {
        report.problem(format!(
            "adjacency does not match edge records: {} entries expected, {} found",
            expected.2, actual.2
        ));
        name_adjacency_mismatches(snap, &mut report)?;
    }
    Ok(report)
}

/// Slow path after a fingerprint mismatch: look up each expected entry and each entry's edge.
fn name_adjacency_mismatches(snap: &Snapshot, report: &mut CheckReport) -> Result<()> {
    let catalog = snap.catalog();
    let view = snap.view();
    let before = report.problem_count;
    for t in &catalog.edge_types {
        let prefix = keys::edge_prefix(t.id);
        for item in view.scan(&prefix, &keys::prefix_successor(&prefix), false) {
            let (k, v) = item?;
            let (_, id) = keys::decode_edge_key(&k)?;
            let Ok(rec) = EdgeRecord::decode(&v) else {
                continue;
            };
            for (label, node, dir, other) in
                adjacency_entries(t.src_label, t.dst_label, t.undirected, rec.src, rec.dst)
            {
                let key = AdjKey {
                    label,
                    node,
                    edge_type: t.id,
                    dir,
                    time: rec.time,
                    edge: id,
                }
                .encode();
                match view.get(&key)? {
                    Some(b) if adjacency_other(&b)? != other => report.problem(format!(
                        "edge {}#{id}: {dir:?} entry at node {node} points elsewhere",
                        t.name
                    )),
                    Some(b) if Some(&b) != adjacency_value(dir, other, &v).ok().as_ref() => {
                        report.problem(format!(
                            "edge {}#{id}: {dir:?} entry at node {node} holds other properties than the edge record",
                            t.name
                        ))
                    }
                    Some(_) => {}
                    None => report.problem(format!(
                        "edge {}#{id}: {dir:?} entry at node {node} is missing",
                        t.name
                    )),
                }
            }
            if report.problem_count - before > 50 {
                return Ok(());
            }
        }
    }
    for item in view.scan(
        &Keyspace::Adjacency.lower(),
        &Keyspace::Adjacency.upper(),
        false,
    ) {
        let (k, _) = item?;
        let Ok(adj) = AdjKey::decode(&k) else {
            continue;
        };
        if view
            .get(&keys::edge_key(adj.edge_type, adj.edge))?
            .is_none()
        {
            report.problem(format!(
                "adjacency entry of node {} (label#{}) names edge type#{} edge {} which does not exist",
                adj.node, adj.label, adj.edge_type, adj.edge
            ));
            if report.problem_count - before > 100 {
                return Ok(());
            }
        }
    }
    Ok(())
}
