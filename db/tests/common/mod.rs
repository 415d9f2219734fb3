//! The planted test graph shared by the store-to-model tests.
#![allow(dead_code)]

use std::io::Write;

use argus_db::Database;
use argus_engine::graph::{prop_def, WriteTxn};
use argus_engine::{PropType, Value};

/// 80 accounts in two groups of 40; edges only within a group; only group B is fraudulent;
/// every account has the same (useless) property, so features alone cannot separate them.
pub fn planted(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            two_groups(t, "account", "account_id", "a")?;
            t.create_edge_type(
                "sends",
                "account",
                "account",
                false,
                vec![prop_def("amount", PropType::Float)],
            )?;
            for i in 0..80u32 {
                let group = i / 40 * 40;
                for step in [1, 3, 7] {
                    let j = group + (i - group + step) % 40;
                    let amount = if group == 0 { 10.0 } else { 900.0 };
                    t.insert_edge(
                        "sends",
                        &format!("a{i}"),
                        &format!("a{j}"),
                        Some(i64::from(i) * 1_000_000),
                        &[("amount", Value::Float(amount))],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    db
}

/// `label` with nodes `{prefix}0..{prefix}79`, all with the same `noise`, and `fraud` set on
/// the second 40.
fn two_groups(
    t: &mut WriteTxn<'_>,
    label: &str,
    key: &str,
    prefix: &str,
) -> argus_engine::Result<()> {
    t.create_label(
        label,
        key,
        vec![
            prop_def("noise", PropType::Float),
            prop_def("fraud", PropType::Int),
        ],
    )?;
    for i in 0..80 {
        t.upsert_node(
            label,
            &format!("{prefix}{i}"),
            &[
                ("noise", Value::Float(1.0)),
                ("fraud", Value::Int(i64::from(i >= 40))),
            ],
        )?;
    }
    Ok(())
}

pub fn splits_file(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("splits.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    path
}

pub fn two_splits() -> String {
    let mut s = String::from("id,split_0,split_1\n");
    for i in 0..80 {
        let part = |k: usize| match (i + k) % 4 {
            0 | 1 => "train",
            2 => "val",
            _ => "test",
        };
        s.push_str(&format!("a{i},{},{}\n", part(0), part(1)));
    }
    s
}

/// 80 people in two communities of 40 joined by two edges, on an undirected type without
/// timestamps; every person has the same degree-6 neighbourhood shape and the same property,
/// and only the second community is fraudulent: only where a node sits in the whole graph
/// tells the classes apart.
pub fn communities(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            two_groups(t, "person", "name", "p")?;
            t.create_edge_type("knows", "person", "person", true, vec![])?;
            for i in 0..80u32 {
                let group = i / 40 * 40;
                for step in [1, 5, 11] {
                    let j = group + (i - group + step) % 40;
                    t.insert_edge("knows", &format!("p{i}"), &format!("p{j}"), None, &[])?;
                }
            }
            for (a, b) in [(0, 40), (20, 60)] {
                t.insert_edge("knows", &format!("p{a}"), &format!("p{b}"), None, &[])?;
            }
            Ok(())
        })
        .unwrap();
    db
}
