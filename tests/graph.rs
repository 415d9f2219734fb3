//! The graph store end to end on a real data directory, run against every backend: catalog,
//! upserts, edges in both directions, deletes, time-range scans, snapshots, atomicity, reopen,
//! Arrow scans and the consistency check.

use std::path::Path;

use argus_engine::catalog::PropertyDef;
use argus_engine::{
    BackendKind, Dir, Direction, Error, GraphStore, NeighborQuery, PropType, StoreOptions, Value,
};

fn open(dir: &Path, kind: BackendKind) -> GraphStore {
    GraphStore::open_with(dir, Some(kind), StoreOptions::default()).unwrap()
}

fn prop(name: &str, ty: PropType) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        ty,
    }
}

const T0: i64 = 1_767_225_600_000_000;
const HOUR: i64 = 3_600_000_000;

/// users u1..u3, cards c1..c2, merchants m1..m2; `paid` card→merchant with amounts; `knows`
/// undirected user–user; `owns` user→card.
fn build(store: &GraphStore) {
    store
        .write(|tx| {
            tx.create_label(
                "user",
                "user_id",
                vec![prop("age", PropType::Int), prop("name", PropType::String)],
            )?;
            tx.create_label("card", "card_id", vec![])?;
            tx.create_label(
                "merchant",
                "merchant_id",
                vec![prop("category", PropType::String)],
            )?;
            tx.create_edge_type(
                "paid",
                "card",
                "merchant",
                false,
                vec![prop("amount", PropType::Float)],
            )?;
            tx.create_edge_type("owns", "user", "card", false, vec![])?;
            tx.create_edge_type("knows", "user", "user", true, vec![])?;
            for (k, age) in [("u1", 30), ("u2", 41), ("u3", 25)] {
                tx.upsert_node("user", k, &[("age", Value::Int(age))])?;
            }
            for k in ["c1", "c2"] {
                tx.upsert_node("card", k, &[])?;
            }
            tx.upsert_node(
                "merchant",
                "m1",
                &[("category", Value::String("grocery".into()))],
            )?;
            tx.upsert_node(
                "merchant",
                "m2",
                &[("category", Value::String("fuel".into()))],
            )?;
            tx.insert_edge("owns", "u1", "c1", Some(T0), &[])?;
            tx.insert_edge("owns", "u2", "c2", Some(T0), &[])?;
            // Parallel edges c1→m1 at different times, and one at the same time.
            for (i, (m, h, amt)) in [
                ("m1", 1, 10.0),
                ("m1", 2, 20.0),
                ("m2", 3, 30.0),
                ("m1", 3, 40.0),
                ("m2", 50, 5.0),
            ]
            .into_iter()
            .enumerate()
            {
                let id = tx.insert_edge(
                    "paid",
                    "c1",
                    m,
                    Some(T0 + h * HOUR),
                    &[("amount", Value::Float(amt))],
                )?;
                assert_eq!(id, i as u64);
            }
            tx.insert_edge(
                "paid",
                "c2",
                "m1",
                Some(T0 + 4 * HOUR),
                &[("amount", Value::Int(7))],
            )?;
            tx.insert_edge("knows", "u1", "u2", None, &[])?;
            tx.insert_edge("knows", "u3", "u1", None, &[])?;
            Ok(())
        })
        .unwrap();
}

fn assert_consistent(store: &GraphStore) {
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

fn catalog_and_nodes(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let snap = store.snapshot();
    let u2 = snap.node("user", "u2").unwrap().unwrap();
    assert_eq!(u2.id, 1, "ids are dense per label");
    assert_eq!(u2.props, vec![("age".to_string(), Value::Int(41))]);
    // Upsert merges; new property; wrong type refused.
    store
        .write(|tx| {
            tx.add_label_property("user", prop("vip", PropType::Bool))?;
            tx.upsert_node(
                "user",
                "u2",
                &[
                    ("name", Value::String("Ada".into())),
                    ("vip", Value::Bool(true)),
                ],
            )
        })
        .unwrap();
    let u2 = store.snapshot().node("user", "u2").unwrap().unwrap();
    assert_eq!(u2.props.len(), 3);
    assert_eq!(u2.props[0], ("age".to_string(), Value::Int(41)));
    let err = store
        .write(|tx| tx.upsert_node("user", "u9", &[("age", Value::String("old".into()))]))
        .unwrap_err();
    assert!(err.to_string().contains("expected int"), "{err}");
    assert!(
        store.snapshot().node("user", "u9").unwrap().is_none(),
        "failed write left a trace"
    );
    let err = store
        .write(|tx| tx.add_label_property("user", prop("age", PropType::Float)))
        .unwrap_err();
    assert!(matches!(err, Error::Schema(_)), "{err}");
    let err = store
        .snapshot()
        .node("nobody", "x")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no node label 'nobody'") && err.contains("user"),
        "{err}"
    );
    assert_consistent(&store);
}

fn adjacency_and_time_ranges(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let snap = store.snapshot();
    let paid = Some("paid".to_string());
    let all = snap
        .neighbors(
            "card",
            "c1",
            &NeighborQuery {
                edge_type: paid.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let times: Vec<i64> = all.iter().map(|n| (n.time.unwrap() - T0) / HOUR).collect();
    assert_eq!(
        times,
        vec![50, 3, 3, 2, 1],
        "newest first, parallel edges kept"
    );
    let window = NeighborQuery {
        edge_type: paid.clone(),
        since: Some(T0 + 2 * HOUR),
        until: Some(T0 + 3 * HOUR),
        ..Default::default()
    };
    let w = snap.neighbors("card", "c1", &window).unwrap();
    assert_eq!(w.len(), 3, "both bounds inclusive");
    let limited = snap
        .neighbors(
            "card",
            "c1",
            &NeighborQuery {
                limit: Some(2),
                oldest_first: true,
                ..window.clone()
            },
        )
        .unwrap();
    assert_eq!(
        limited.iter().map(|n| n.edge_id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // In-direction at the merchant mirrors the out-direction at the card.
    let m1 = snap
        .neighbors(
            "merchant",
            "m1",
            &NeighborQuery {
                edge_type: paid.clone(),
                direction: Direction::In,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(m1.len(), 4);
    assert!(m1.iter().all(|n| n.dir == Dir::In));
    let lid = snap.catalog().label("merchant").unwrap().id;
    let tid = snap.catalog().edge_type("paid").unwrap().id;
    let m1_id = snap.node_id("merchant", "m1").unwrap().unwrap();
    assert_eq!(snap.degree(lid, m1_id, tid, Dir::In).unwrap(), 4);
    // Undirected edges are seen from both ends, whatever the direction asked.
    for key in ["u1", "u2"] {
        let k = snap
            .neighbors(
                "user",
                key,
                &NeighborQuery {
                    edge_type: Some("knows".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(!k.is_empty(), "{key}");
    }
    let u1 = snap
        .neighbors(
            "user",
            "u1",
            &NeighborQuery {
                edge_type: Some("knows".into()),
                direction: Direction::In,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u1.len(), 2);
    // Every type, both directions.
    let both = snap
        .neighbors(
            "user",
            "u1",
            &NeighborQuery {
                direction: Direction::Both,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(both.len(), 3, "owns + 2 knows");
    // Asking for edges a label cannot have is a clear error.
    let err = snap
        .neighbors(
            "merchant",
            "m1",
            &NeighborQuery {
                edge_type: paid,
                direction: Direction::Out,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("goes from 'card' to 'merchant'"), "{err}");
    assert!(snap
        .neighbors("card", "nope", &NeighborQuery::default())
        .is_err());
    // Edge properties: an int given for a float property was widened.
    let c2_paid = snap
        .neighbors("card", "c2", &NeighborQuery::default())
        .unwrap();
    let owns_or_paid = c2_paid.iter().find(|n| n.edge_type == tid).unwrap();
    let e = snap.edge(tid, owns_or_paid.edge_id).unwrap().unwrap();
    assert_eq!(e.props, vec![("amount".to_string(), Value::Float(7.0))]);
    assert_consistent(&store);
}

fn deletes(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let removed = store
        .write(|tx| tx.delete_edges_between("paid", "c1", "m1"))
        .unwrap();
    assert_eq!(removed, 3);
    assert_consistent(&store);
    let snap = store.snapshot();
    let left = snap
        .neighbors(
            "card",
            "c1",
            &NeighborQuery {
                edge_type: Some("paid".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(left.len(), 2);
    assert!(store.write(|tx| tx.delete_edge("paid", 2)).unwrap());
    assert!(
        !store.write(|tx| tx.delete_edge("paid", 2)).unwrap(),
        "second delete finds nothing"
    );
    // Deleting a node removes its edges from both directions.
    assert!(store.write(|tx| tx.delete_node("user", "u1")).unwrap());
    assert_consistent(&store);
    let snap = store.snapshot();
    assert!(snap.node("user", "u1").unwrap().is_none());
    let u2 = snap
        .neighbors(
            "user",
            "u2",
            &NeighborQuery {
                edge_type: Some("knows".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(u2.is_empty());
    let c1 = snap
        .neighbors(
            "card",
            "c1",
            &NeighborQuery {
                edge_type: Some("owns".into()),
                direction: Direction::In,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(c1.is_empty());
    let user = snap.catalog().label("user").unwrap().id;
    assert_eq!(snap.node_count(user).unwrap(), 2);
    // Deleted ids are not reused.
    let id = store.write(|tx| tx.upsert_node("user", "u1", &[])).unwrap();
    assert_eq!(id, 3);
    // Nodes and edges created and deleted in one transaction leave nothing behind.
    store
        .write(|tx| {
            tx.upsert_node("user", "tmp", &[])?;
            tx.insert_edge("knows", "tmp", "u2", None, &[])?;
            tx.delete_node("user", "tmp")
        })
        .unwrap();
    assert_consistent(&store);
}

fn atomic_transactions(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let before = store.snapshot();
    let err = store
        .write(|tx| {
            tx.create_label("device", "device_id", vec![])?;
            tx.upsert_node("user", "u4", &[])?;
            tx.insert_edge("knows", "u4", "u1", None, &[])?;
            tx.insert_edge("knows", "u4", "ghost", None, &[])
        })
        .unwrap_err();
    assert!(err.to_string().contains("no node user:ghost"), "{err}");
    let after = store.snapshot();
    assert_eq!(
        after.catalog(),
        before.catalog(),
        "catalog change rolled back"
    );
    assert!(after.node("user", "u4").unwrap().is_none());
    let user = after.catalog().label("user").unwrap().id;
    assert_eq!(after.node_count(user).unwrap(), 3);
    assert_consistent(&store);
}

fn snapshots_and_reopen(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), kind);
        build(&store);
        let snap = store.snapshot();
        store
            .write(|tx| {
                tx.create_label("device", "device_id", vec![])?;
                tx.upsert_node("user", "u1", &[("age", Value::Int(99))])?;
                tx.insert_edge("paid", "c2", "m2", Some(T0), &[])?;
                Ok(())
            })
            .unwrap();
        // The old snapshot sees neither the data nor the catalog change.
        assert!(snap.catalog().label("device").is_err());
        assert_eq!(
            snap.node("user", "u1").unwrap().unwrap().props[0].1,
            Value::Int(30)
        );
        assert_eq!(
            snap.neighbors("card", "c2", &NeighborQuery::default())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store.snapshot().node("user", "u1").unwrap().unwrap().props[0].1,
            Value::Int(99)
        );
        // Snapshots stay consistent while another thread writes.
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                for i in 0..200 {
                    store
                        .write(|tx| {
                            tx.upsert_node("card", &format!("x{i}"), &[])?;
                            tx.insert_edge("owns", "u3", &format!("x{i}"), Some(T0 + i), &[])?;
                            Ok(())
                        })
                        .unwrap();
                }
            });
            for _ in 0..50 {
                let snap = store.snapshot();
                let card = snap.catalog().label("card").unwrap().id;
                let owns = snap.catalog().edge_type("owns").unwrap().id;
                let cards = snap.node_count(card).unwrap();
                let owned = snap.edge_count(owns).unwrap();
                assert_eq!(
                    cards - 2,
                    owned - 2,
                    "cards and their edges appear together"
                );
                let u3 = snap.node_id("user", "u3").unwrap().unwrap();
                let user = snap.catalog().label("user").unwrap().id;
                assert_eq!(snap.degree(user, u3, owns, Dir::Out).unwrap(), owned - 2);
            }
            writer.join().unwrap();
        });
    }
    let store = open(dir.path(), kind);
    let snap = store.snapshot();
    assert!(snap.catalog().label("device").is_ok());
    assert_eq!(
        snap.node("user", "u1").unwrap().unwrap().props[0].1,
        Value::Int(99)
    );
    assert_eq!(
        snap.node_count(snap.catalog().label("card").unwrap().id)
            .unwrap(),
        202
    );
    assert_consistent(&store);
    // A data directory remembers its backend.
    let other = if kind == BackendKind::RocksDb {
        BackendKind::Sled
    } else {
        BackendKind::RocksDb
    };
    drop(store);
    let err = GraphStore::open_with(dir.path(), Some(other), StoreOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("was created with"), "{err}");
}

fn arrow_scans(kind: BackendKind) {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let snap = store.snapshot();
    let batches: Vec<_> = snap
        .scan_nodes("user", 2, None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let b = &batches[0];
    assert_eq!(b.schema().field(0).name(), "user_id");
    assert_eq!(b.column(0).as_string::<i32>().value(1), "u2");
    assert_eq!(b.column(2).as_primitive::<Int64Type>().value(1), 41);
    assert!(b.column(3).is_null(0), "name not set");
    let edges: Vec<_> = snap
        .scan_edges("paid", 100, None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let e = &edges[0];
    assert_eq!(e.num_rows(), 6);
    assert_eq!(
        e.schema().field(5).data_type().to_string(),
        "Timestamp(µs, \"UTC\")"
    );
    assert_eq!(e.column(1).as_string::<i32>().value(0), "c1");
    assert_eq!(e.column(2).as_string::<i32>().value(2), "m2");
    assert_eq!(e.column(6).as_primitive::<Float64Type>().value(3), 40.0);
    // Projection: only the ids and the amount.
    let projected: Vec<_> = snap
        .scan_edges("paid", 4, Some(vec![0, 6]))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(projected[0].num_columns(), 2);
    assert_eq!(
        projected[1].column(0).as_primitive::<UInt64Type>().value(1),
        5
    );
}

/// Edges with their properties in one call, from either end and for undirected types; and
/// `check` notices an out-entry whose copy of the properties differs from the edge record.
fn neighbor_edges(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    build(&store);
    let snap = store.snapshot();
    let catalog = snap.catalog();
    let paid = catalog.edge_type("paid").unwrap();
    let amount = |props: &[(u16, Value)]| props.to_vec();
    for (label, key, direction) in [
        ("card", "c1", Direction::Out),
        ("merchant", "m1", Direction::In),
        ("user", "u1", Direction::Both),
    ] {
        let q = NeighborQuery {
            direction,
            ..Default::default()
        };
        let plain = snap.neighbors(label, key, &q).unwrap();
        let with_props = snap.neighbor_edges(label, key, &q).unwrap();
        assert_eq!(
            plain,
            with_props
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>(),
            "{label}:{key} same edges in the same order"
        );
        for (n, props) in &with_props {
            let edge = snap.edge(n.edge_type, n.edge_id).unwrap().unwrap();
            let named: Vec<(String, Value)> = props
                .iter()
                .map(|(i, v)| {
                    let t = catalog.edge_type_by_id(n.edge_type).unwrap();
                    (t.properties[*i as usize].name.clone(), v.clone())
                })
                .collect();
            assert_eq!(named, edge.props, "{label}:{key} edge {}", n.edge_id);
        }
    }
    let c1 = snap
        .neighbor_edges(
            "card",
            "c1",
            &NeighborQuery {
                edge_type: Some("paid".into()),
                oldest_first: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        c1.iter().map(|(_, p)| amount(p)).collect::<Vec<_>>(),
        [10.0, 20.0, 30.0, 40.0, 5.0]
            .map(|a| vec![(0u16, Value::Float(a))])
            .to_vec()
    );
    assert_consistent(&store);

    // Rewrite the first payment's out-entry with another amount, as a bug or bit rot would.
    let (first, _) = &c1[0];
    let card = snap.node_id("card", "c1").unwrap().unwrap();
    let key = argus_engine::keys::AdjKey {
        label: catalog.label("card").unwrap().id,
        node: card,
        edge_type: paid.id,
        dir: Dir::Out,
        time: first.time.unwrap(),
        edge: first.edge_id,
    }
    .encode();
    let mut value = first.node.to_be_bytes().to_vec();
    value.extend_from_slice(&1u16.to_le_bytes());
    value.extend_from_slice(&0u16.to_le_bytes());
    value.push(2);
    value.extend_from_slice(&99.0f64.to_le_bytes());
    let mut batch = argus_engine::storage::WriteBatch::default();
    batch.put(key, value);
    store
        .backend()
        .write(&batch, argus_engine::storage::Durability::Sync)
        .unwrap();
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("holds other properties than the edge record")),
        "{:?}",
        report.problems
    );
}

/// A limited neighbour read is the newest-first prefix of the whole list, merged across edge
/// types and directions, and reads about `limit` entries however many the node has.
fn limited_neighbor_reads(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), kind);
    // One card: 3,000 payments out, 2,000 refunds in, interleaved in time, and self-transfers
    // (a self-loop has an out- and an in-entry at the same node, at the same time).
    store
        .write(|tx| {
            tx.create_label("card", "card_id", vec![])?;
            tx.create_label("merchant", "merchant_id", vec![])?;
            tx.create_edge_type("paid", "card", "merchant", false, vec![])?;
            tx.create_edge_type("refund", "merchant", "card", false, vec![])?;
            tx.create_edge_type("moved", "card", "card", false, vec![])?;
            tx.upsert_node("card", "c", &[])?;
            for m in 0..50 {
                tx.upsert_node("merchant", &format!("m{m}"), &[])?;
            }
            for i in 0..3_000i64 {
                let m = format!("m{}", i % 50);
                tx.insert_edge("paid", "c", &m, Some(T0 + i * 3 * HOUR), &[])?;
            }
            for i in 0..2_000i64 {
                let m = format!("m{}", i % 50);
                tx.insert_edge("refund", &m, "c", Some(T0 + (i * 3 + 1) * HOUR), &[])?;
            }
            for i in 0..10i64 {
                tx.insert_edge("moved", "c", "c", Some(T0 + i * 900 * HOUR), &[])?;
            }
            Ok(())
        })
        .unwrap();
    let snap = store.snapshot();
    let label = snap.catalog().label("card").unwrap().id;
    let card = snap.node_id("card", "c").unwrap().unwrap();
    let every = NeighborQuery {
        direction: Direction::Both,
        ..Default::default()
    };
    let all = snap.neighbors_by_id(label, card, &every).unwrap();
    assert_eq!(all.len(), 3_000 + 2_000 + 2 * 10);
    let key = |n: &argus_engine::Neighbor| (n.time, n.edge_type, n.edge_id);
    assert!(
        all.windows(2).all(|w| key(&w[0]) >= key(&w[1])),
        "newest first across types and directions"
    );
    for oldest_first in [false, true] {
        let q = NeighborQuery {
            oldest_first,
            ..every.clone()
        };
        let whole = snap.neighbors_by_id(label, card, &q).unwrap();
        for limit in [0, 1, 7, 100, 4_999, 5_020, 6_000] {
            let limited = NeighborQuery {
                limit: Some(limit),
                ..q.clone()
            };
            let got = snap.neighbors_by_id(label, card, &limited).unwrap();
            assert_eq!(got, whole[..limit.min(whole.len())], "limit {limit}");
        }
        // Lazily: 25 entries cost 25 reads plus one read ahead per (type, direction) slot.
        let mut lazy = snap.neighbors_iter(label, card, &q).unwrap();
        let first: Vec<_> = lazy.by_ref().take(25).map(Result::unwrap).collect();
        assert_eq!(first, whole[..25]);
        assert!(
            lazy.entries_read() <= 25 + 4,
            "read {}",
            lazy.entries_read()
        );
    }
    // Visited in place: the same edges as listed, for each query shape; a stop is a stop.
    let sort_key = |n: &argus_engine::Neighbor| {
        (
            n.edge_type,
            n.edge_id,
            matches!(n.dir, argus_engine::Dir::Out),
            n.time,
            n.node,
        )
    };
    let shapes = [
        every.clone(),
        NeighborQuery {
            edge_type: Some("paid".into()),
            ..every.clone()
        },
        NeighborQuery {
            direction: Direction::In,
            since: Some(T0 + 1_000 * HOUR),
            until: Some(T0 + 4_000 * HOUR),
            ..every.clone()
        },
        NeighborQuery {
            since: Some(T0 + 10),
            until: Some(T0),
            ..every.clone()
        },
    ];
    for q in shapes {
        let mut listed = snap.neighbors_by_id(label, card, &q).unwrap();
        let mut visited = Vec::new();
        snap.for_each_neighbor(label, card, &q, |n| {
            visited.push(n.clone());
            true
        })
        .unwrap();
        listed.sort_by_key(sort_key);
        visited.sort_by_key(sort_key);
        assert_eq!(visited, listed, "{q:?}");
    }
    let mut seen = 0;
    snap.for_each_neighbor(label, card, &every, |_| {
        seen += 1;
        seen < 10
    })
    .unwrap();
    assert_eq!(seen, 10);
    let err = snap
        .neighbors_by_id(
            label,
            card,
            &NeighborQuery {
                limit: Some(argus_engine::MAX_NEIGHBOR_LIMIT + 1),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("neighbour limit 1000001 is above the largest allowed, 1000000"),
        "{err}"
    );
}

/// A data directory written in another layout is refused by name, not misread.
#[test]
fn another_data_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), BackendKind::RocksDb));
    let marker = dir.path().join("ARGUS");
    let text = std::fs::read_to_string(&marker).unwrap();
    assert!(text.contains("format=2"), "{text}");
    std::fs::write(&marker, text.replace("format=2", "format=1")).unwrap();
    let err = GraphStore::open(dir.path())
        .err()
        .expect("format 1 is refused");
    let message = err.to_string();
    assert!(
        message.contains("data format 1 is not supported") && message.contains("new directory"),
        "{message}"
    );
}

macro_rules! suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;
            #[test]
            fn catalog_and_nodes() {
                super::catalog_and_nodes($kind)
            }
            #[test]
            fn adjacency_and_time_ranges() {
                super::adjacency_and_time_ranges($kind)
            }
            #[test]
            fn neighbor_edges() {
                super::neighbor_edges($kind)
            }
            #[test]
            fn limited_neighbor_reads() {
                super::limited_neighbor_reads($kind)
            }
            #[test]
            fn deletes() {
                super::deletes($kind)
            }
            #[test]
            fn atomic_transactions() {
                super::atomic_transactions($kind)
            }
            #[test]
            fn snapshots_and_reopen() {
                super::snapshots_and_reopen($kind)
            }
            #[test]
            fn arrow_scans() {
                super::arrow_scans($kind)
            }
        }
    };
}

suite!(rocksdb, BackendKind::RocksDb);
#[cfg(feature = "sled")]
suite!(sled, BackendKind::Sled);
