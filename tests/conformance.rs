//! One conformance suite for every storage backend: the same tests run against RocksDB and, with
//! the `sled` feature, against sled, each on a fresh directory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::{ensure, Context, Result};
use argus_engine::keys::{
    adj_prefix, adj_time_range, decode_counter, decode_u64, degree_key, edge_key, encode_counter,
    encode_u64, key_to_id_key, meta_key, node_count_key, node_key, node_prefix, prefix_successor,
    AdjKey, Keyspace, NO_TIME,
};
use argus_engine::storage::{open_backend, ReadView, WriteBatch};
use argus_engine::{Backend, BackendKind, Dir, Durability, StoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Runs every listed test once per backend, as `rocksdb::<test>` and `sled::<test>`.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod rocksdb {
            $(
                #[test]
                fn $test() -> anyhow::Result<()> {
                    super::$test(argus_engine::BackendKind::RocksDb)
                }
            )*
        }

        #[cfg(feature = "sled")]
        mod sled {
            $(
                #[test]
                fn $test() -> anyhow::Result<()> {
                    super::$test(argus_engine::BackendKind::Sled)
                }
            )*
        }
    };
}

conformance!(
    put_get_delete,
    overwrite,
    batch_applies_in_order,
    counters_add_up,
    empty_batch,
    invalid_keys_are_rejected,
    batch_is_atomic_for_concurrent_readers,
    scans_respect_bounds_and_order,
    scans_match_a_model_on_random_keys,
    adjacency_time_window,
    snapshot_isolation,
    snapshot_is_consistent_while_writers_run,
    reopen_keeps_every_key,
    keyspaces_do_not_leak,
    name_flush_and_disk_usage,
    fresh_puts_are_atomic_and_durable,
);

fn open(kind: BackendKind, dir: &std::path::Path) -> Result<Arc<dyn Backend>> {
    open_backend(kind, dir, &StoreOptions::default())
        .with_context(|| format!("opening {}", kind.name()))
}

fn fresh(kind: BackendKind) -> Result<(tempfile::TempDir, Arc<dyn Backend>)> {
    let dir = tempfile::tempdir()?;
    let backend = open(kind, dir.path())?;
    Ok((dir, backend))
}

fn put(backend: &dyn Backend, key: &[u8], value: &[u8]) -> Result<()> {
    let mut batch = WriteBatch::default();
    batch.put(key, value);
    Ok(backend.write(&batch, Durability::Sync)?)
}

fn delete(backend: &dyn Backend, key: &[u8]) -> Result<()> {
    let mut batch = WriteBatch::default();
    batch.delete(key);
    Ok(backend.write(&batch, Durability::Sync)?)
}

fn scan(view: &dyn ReadView, lower: &[u8], upper: &[u8], reverse: bool) -> Result<Pairs> {
    view.scan(lower, upper, reverse)
        .map(|kv| {
            kv.map(|(k, v)| (k.into_vec(), v.into_vec()))
                .map_err(anyhow::Error::from)
        })
        .collect()
}

/// A keyspace's content, ascending.
fn scan_all(view: &dyn ReadView, ks: Keyspace) -> Result<Pairs> {
    scan(view, &ks.lower(), &ks.upper(), false)
}

/// The pairs of `model` in `[lower, upper)`, in scan order.
fn model_range(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    lower: &[u8],
    upper: &[u8],
    reverse: bool,
) -> Pairs {
    if lower >= upper {
        return Vec::new();
    }
    let mut out: Pairs = model
        .range(lower.to_vec()..upper.to_vec())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if reverse {
        out.reverse();
    }
    out
}

fn put_get_delete(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let (a, b) = (node_key(1, 1).to_vec(), node_key(1, 2).to_vec());
    ensure!(db.get(&a)?.is_none());
    put(&*db, &a, b"alpha")?;
    put(&*db, &b, b"")?;
    ensure!(db.get(&a)?.as_deref() == Some(&b"alpha"[..]));
    ensure!(
        db.get(&b)?.as_deref() == Some(&b""[..]),
        "an empty value is a value"
    );
    delete(&*db, &a)?;
    ensure!(db.get(&a)?.is_none());
    ensure!(db.get(&b)?.is_some());
    // Deleting an absent key is fine.
    delete(&*db, &node_key(1, 99))?;
    delete(&*db, &a)?;
    ensure!(scan_all(&*db, Keyspace::Nodes)? == vec![(b, Vec::new())]);
    Ok(())
}

fn overwrite(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let k = meta_key(b"counter");
    for i in 0..50u64 {
        put(&*db, &k, &encode_u64(i))?;
        ensure!(decode_u64(&db.get(&k)?.context("missing")?)? == i);
    }
    // Overwrite with a longer, then a shorter value, then after a delete.
    put(&*db, &k, &[7; 100])?;
    ensure!(db.get(&k)?.as_deref() == Some(&[7u8; 100][..]));
    put(&*db, &k, b"x")?;
    ensure!(db.get(&k)?.as_deref() == Some(&b"x"[..]));
    delete(&*db, &k)?;
    put(&*db, &k, b"back")?;
    ensure!(db.get(&k)?.as_deref() == Some(&b"back"[..]));
    ensure!(scan_all(&*db, Keyspace::Meta)? == vec![(k, b"back".to_vec())]);
    Ok(())
}

fn batch_applies_in_order(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let (a, b, c) = (meta_key(b"a"), meta_key(b"b"), meta_key(b"c"));
    put(&*db, &c, b"old")?;
    let mut batch = WriteBatch::default();
    batch.put(&a, b"1");
    batch.put(&a, b"2");
    batch.delete(&a);
    batch.put(&a, b"3");
    batch.put(&b, b"1");
    batch.delete(&b);
    batch.delete(&c);
    batch.put(&c, b"new");
    db.write(&batch, Durability::Buffered)?;
    ensure!(db.get(&a)?.as_deref() == Some(&b"3"[..]));
    ensure!(db.get(&b)?.is_none());
    ensure!(db.get(&c)?.as_deref() == Some(&b"new"[..]));
    Ok(())
}

fn counter(view: &dyn ReadView, key: &[u8]) -> Result<Option<i64>> {
    Ok(view.get(key)?.map(|v| decode_counter(&v)).transpose()?)
}

fn counters_add_up(kind: BackendKind) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(kind, dir.path())?;
    let (d, m) = (degree_key(1, 5, 2, Dir::In), node_count_key(3));
    let mut batch = WriteBatch::default();
    batch.add(d, 3);
    db.write(&batch, Durability::Sync)?;
    ensure!(
        counter(&*db, &d)? == Some(3),
        "an absent counter starts at 0"
    );

    let before = db.snapshot();
    let mut batch = WriteBatch::default();
    batch.add(d, 2);
    batch.add(d, -10);
    batch.put(&m, encode_counter(100));
    batch.add(&m, 1);
    db.write(&batch, Durability::Sync)?;
    ensure!(counter(&*db, &d)? == Some(-5));
    ensure!(
        counter(&*db, &m)? == Some(101),
        "an add after a put in one batch"
    );
    ensure!(
        counter(&*before, &d)? == Some(3),
        "a snapshot saw a later add"
    );
    ensure!(counter(&*before, &m)?.is_none());

    let mut batch = WriteBatch::default();
    batch.add(d, 7);
    batch.delete(d);
    batch.delete(&m);
    batch.add(&m, 4);
    db.write(&batch, Durability::Sync)?;
    ensure!(db.get(&d)?.is_none(), "a delete after an add in one batch");
    ensure!(
        counter(&*db, &m)? == Some(4),
        "an add after a delete starts at 0"
    );

    // Increments from several threads are all counted.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || -> Result<()> {
                for _ in 0..100 {
                    let mut batch = WriteBatch::default();
                    batch.add(d, 1);
                    db.write(&batch, Durability::Buffered)?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer panicked")?;
    }
    ensure!(counter(&*db, &d)? == Some(400));
    drop(before);
    drop(db);
    let db = open(kind, dir.path())?;
    ensure!(counter(&*db, &d)? == Some(400), "after reopen");
    ensure!(counter(&*db, &m)? == Some(4), "after reopen");
    Ok(())
}

/// Batches of fresh puts (new edge records and adjacency entries, as a bulk load writes them)
/// with counters beside them. The store is opened so that every such batch takes the backend's
/// bulk path (RocksDB links them as table files): a snapshot sees each batch whole or not at all,
/// scans see the entries in order, and everything is there after reopening.
fn fresh_puts_are_atomic_and_durable(kind: BackendKind) -> Result<()> {
    const PER_BATCH: u64 = 300;
    const BATCHES: u64 = 40;
    let dir = tempfile::tempdir()?;
    let options = StoreOptions {
        ingest_min_fresh: 1,
        ..StoreOptions::default()
    };
    let db = open_backend(kind, dir.path(), &options)?;
    let total = node_count_key(9);
    let edges = (
        vec![Keyspace::Edges.prefix()],
        prefix_successor(&[Keyspace::Edges.prefix()]),
    );
    let adjacency = adj_prefix(1, 3, 2, Dir::Out);
    let check = |view: &dyn ReadView| -> Result<u64> {
        let records = scan(view, &edges.0, &edges.1, false)?;
        let entries = scan(view, &adjacency, &prefix_successor(&adjacency), true)?;
        let counted = counter(view, &total)?.unwrap_or(0) as u64;
        ensure!(
            records.len() as u64 == counted && entries.len() as u64 == counted,
            "partial batch: {} records, {} adjacency entries, counter {counted}",
            records.len(),
            entries.len()
        );
        for (i, (k, v)) in records.iter().enumerate() {
            ensure!(
                k.as_slice() == edge_key(2, i as u64),
                "records out of order"
            );
            ensure!(decode_u64(v)? == i as u64);
        }
        // Read newest first: the adjacency entries come back in descending time.
        for (i, (k, _)) in entries.iter().enumerate() {
            ensure!(AdjKey::decode(k)?.edge == counted - 1 - i as u64);
        }
        Ok(counted)
    };

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let done = done.clone();
        let total = total.to_vec();
        thread::spawn(move || -> Result<()> {
            for n in 0..BATCHES {
                let mut batch = WriteBatch::default();
                let ids = n * PER_BATCH..(n + 1) * PER_BATCH;
                for e in ids.clone() {
                    let key = AdjKey {
                        label: 1,
                        node: 3,
                        edge_type: 2,
                        dir: Dir::Out,
                        time: e as i64,
                        edge: e,
                    };
                    batch.put_fresh(key.encode(), encode_u64(e));
                }
                for e in ids {
                    batch.put_fresh(edge_key(2, e), encode_u64(e));
                }
                batch.add(&total, PER_BATCH as i64);
                db.write(&batch, Durability::Sync)?;
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };
    let mut last = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let seen = check(&*db.snapshot())?;
        ensure!(seen >= last, "went back from {last} to {seen} entries");
        ensure!(seen % PER_BATCH == 0, "{seen} entries is not whole batches");
        last = seen;
        if finished {
            break;
        }
    }
    writer.join().expect("writer panicked")?;
    ensure!(check(&*db.snapshot())? == PER_BATCH * BATCHES);
    drop(db);
    let db = open_backend(kind, dir.path(), &options)?;
    ensure!(
        check(&*db.snapshot())? == PER_BATCH * BATCHES,
        "after reopen"
    );
    Ok(())
}

fn empty_batch(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    db.write(&WriteBatch::default(), Durability::Sync)?;
    db.write(&WriteBatch::default(), Durability::Buffered)?;
    put(&*db, &meta_key(b"k"), b"v")?;
    let snap = db.snapshot();
    db.write(&WriteBatch::default(), Durability::Sync)?;
    ensure!(db.get(&meta_key(b"k"))?.as_deref() == Some(&b"v"[..]));
    ensure!(snap.get(&meta_key(b"k"))?.as_deref() == Some(&b"v"[..]));
    ensure!(scan_all(&*db, Keyspace::Meta)?.len() == 1);
    Ok(())
}

fn invalid_keys_are_rejected(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let mut batch = WriteBatch::default();
    batch.put(meta_key(b"ok"), b"v");
    batch.put(vec![0x7f, 1, 2], b"v");
    ensure!(
        db.write(&batch, Durability::Sync).is_err(),
        "a key outside every keyspace was accepted"
    );
    ensure!(
        db.get(&meta_key(b"ok"))?.is_none(),
        "a rejected batch left a trace"
    );
    ensure!(db.get(&[]).is_err());
    ensure!(db.get(&[0x7f]).is_err());
    Ok(())
}

/// Two sets of keys: `A` always holds the batch number; `B` exists only after odd batches.
fn batch_is_atomic_for_concurrent_readers(kind: BackendKind) -> Result<()> {
    const A: u64 = 200;
    const B: u64 = 50;
    const BATCHES: u64 = 60;
    let (_dir, db) = fresh(kind)?;
    let a_key = |i: u64| node_key(1, i);
    let b_key = |i: u64| node_key(2, i);
    let (a_lo, a_hi) = (node_prefix(1), prefix_successor(&node_prefix(1)));
    let (b_lo, b_hi) = (node_prefix(2), prefix_successor(&node_prefix(2)));

    // Checks one consistent read of both sets; returns the batch number it saw (0: none yet).
    let check = |view: &dyn ReadView, reverse: bool| -> Result<u64> {
        let a = scan(view, &a_lo, &a_hi, reverse)?;
        let b = scan(view, &b_lo, &b_hi, reverse)?;
        if a.is_empty() {
            ensure!(b.is_empty(), "set B without set A");
            return Ok(0);
        }
        ensure!(
            a.len() as u64 == A,
            "partial batch: {} of {A} keys",
            a.len()
        );
        let n = decode_u64(&a[0].1)?;
        for (k, v) in &a {
            ensure!(decode_u64(v)? == n, "key {k:?} from another batch than {n}");
        }
        let want_b = if n % 2 == 1 { B } else { 0 };
        ensure!(
            b.len() as u64 == want_b,
            "batch {n}: {} keys of set B, expected {want_b}",
            b.len()
        );
        for (_, v) in &b {
            ensure!(decode_u64(v)? == n);
        }
        Ok(n)
    };

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let done = done.clone();
        thread::spawn(move || -> Result<()> {
            for n in 1..=BATCHES {
                let mut batch = WriteBatch::default();
                for i in 0..A {
                    batch.put(a_key(i), encode_u64(n));
                }
                for i in 0..B {
                    if n % 2 == 1 {
                        batch.put(b_key(i), encode_u64(n));
                    } else {
                        batch.delete(b_key(i));
                    }
                }
                db.write(&batch, Durability::Buffered)?;
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    let mut reads = 0u64;
    let mut last = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let reverse = reads % 2 == 1;
        // The live view (one scan per set, so only each set is checked on its own) ...
        let live = scan(&*db, &a_lo, &a_hi, reverse)?;
        ensure!(
            live.is_empty() || live.len() as u64 == A,
            "live scan saw a partial batch"
        );
        ensure!(
            live.windows(2).all(|w| w[0].1 == w[1].1),
            "live scan mixed two batches"
        );
        // ... and a snapshot, which must see both sets from the same batch.
        let n = check(&*db.snapshot(), reverse)?;
        ensure!(n >= last, "went back in time from batch {last} to {n}");
        last = n;
        reads += 1;
        if finished {
            break;
        }
    }
    writer.join().expect("writer panicked")?;
    ensure!(check(&*db.snapshot(), false)? == BATCHES);
    ensure!(reads > 1);
    Ok(())
}

fn scans_respect_bounds_and_order(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let mut batch = WriteBatch::default();
    for label in 0..3u16 {
        for id in 0..50u64 {
            batch.put(node_key(label, id), encode_u64(id));
        }
    }
    // External keys that are prefixes of one another, with 0x00 and 0xFF bytes.
    let externals: [&[u8]; 9] = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"a",
        b"a\x00",
        b"a\x00\x01",
        b"a\x01",
        b"\xff",
    ];
    for ext in externals {
        batch.put(key_to_id_key(1, ext), ext);
    }
    db.write(&batch, Durability::Sync)?;

    let ids = |pairs: &Pairs| -> Result<Vec<u64>> {
        pairs.iter().map(|(_, v)| Ok(decode_u64(v)?)).collect()
    };
    let lo = node_key(1, 10);
    let hi = node_key(1, 20);
    ensure!(ids(&scan(&*db, &lo, &hi, false)?)? == (10..20).collect::<Vec<_>>());
    ensure!(ids(&scan(&*db, &lo, &hi, true)?)? == (10..20).rev().collect::<Vec<_>>());
    // Bounds that are not stored keys: just after 10 and just after 19.
    let mut after_10 = node_key(1, 10).to_vec();
    after_10.push(0);
    let mut after_19 = node_key(1, 19).to_vec();
    after_19.push(0);
    ensure!(ids(&scan(&*db, &after_10, &after_19, false)?)? == (11..20).collect::<Vec<_>>());
    ensure!(ids(&scan(&*db, &after_10, &after_19, true)?)? == (11..20).rev().collect::<Vec<_>>());
    // The whole label, and an empty range.
    let label = node_prefix(1);
    let label_end = prefix_successor(&label);
    ensure!(ids(&scan(&*db, &label, &label_end, false)?)? == (0..50).collect::<Vec<_>>());
    ensure!(ids(&scan(&*db, &label, &label_end, true)?)? == (0..50).rev().collect::<Vec<_>>());
    ensure!(scan(&*db, &lo, &lo, false)?.is_empty());
    ensure!(scan(&*db, &lo, &lo, true)?.is_empty());
    // A one-key range.
    ensure!(ids(&scan(&*db, &lo, &node_key(1, 11), true)?)? == vec![10]);

    // Prefix-related keys come in plain byte order, and the bounds cut between them exactly.
    let mut sorted: Vec<&[u8]> = externals.to_vec();
    sorted.sort();
    let exts = |pairs: Pairs| pairs.into_iter().map(|(_, v)| v).collect::<Vec<_>>();
    let all = (key_to_id_key(1, b""), key_to_id_key(2, b""));
    ensure!(exts(scan(&*db, &all.0, &all.1, false)?) == sorted);
    ensure!(
        exts(scan(&*db, &all.0, &all.1, true)?) == sorted.iter().rev().copied().collect::<Vec<_>>()
    );
    let (lo, hi) = (key_to_id_key(1, b"\x00"), key_to_id_key(1, b"a\x00\x01"));
    ensure!(
        exts(scan(&*db, &lo, &hi, false)?)
            == vec![&b"\x00"[..], b"\x00\x00", b"\x00\xff", b"a", b"a\x00"]
    );
    ensure!(
        exts(scan(&*db, &lo, &hi, true)?)
            == vec![&b"a\x00"[..], b"a", b"\x00\xff", b"\x00\x00", b"\x00"]
    );
    Ok(())
}

fn scans_match_a_model_on_random_keys(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut model = BTreeMap::new();
    // Short keys over a small alphabet, so that prefixes, 0x00 and 0xFF bytes are common.
    let alphabet = [0x00u8, 0x01, 0x7f, 0xfe, 0xff];
    let random_key = |rng: &mut StdRng| -> Vec<u8> {
        let mut k = vec![Keyspace::Edges.prefix()];
        for _ in 0..rng.gen_range(0..5) {
            k.push(alphabet[rng.gen_range(0..alphabet.len())]);
        }
        k
    };
    for round in 0..20 {
        let mut batch = WriteBatch::default();
        for _ in 0..30 {
            let k = random_key(&mut rng);
            if rng.gen_bool(0.25) {
                model.remove(&k);
                batch.delete(k);
            } else {
                let v = vec![round as u8, rng.gen()];
                model.insert(k.clone(), v.clone());
                batch.put(k, v);
            }
        }
        db.write(&batch, Durability::Buffered)?;
        for _ in 0..20 {
            let (a, b) = (random_key(&mut rng), random_key(&mut rng));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for reverse in [false, true] {
                let got = scan(&*db, &lo, &hi, reverse)?;
                ensure!(
                    got == model_range(&model, &lo, &hi, reverse),
                    "round {round}: [{lo:?}, {hi:?}) reverse={reverse}"
                );
            }
        }
        for (k, v) in &model {
            ensure!(db.get(k)?.as_ref() == Some(v));
        }
    }
    ensure!(scan_all(&*db, Keyspace::Edges)? == model_range(&model, &[0x05], &[0x06], false));
    Ok(())
}

fn adjacency_time_window(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let (label, node, etype) = (3u16, 42u64, 7u16);
    let times = [
        NO_TIME,
        i64::MIN + 1,
        -1_000,
        -1,
        0,
        1,
        999,
        1_000,
        1_001,
        5_000,
        i64::MAX - 1,
        i64::MAX,
    ];
    let mut ours = Vec::new();
    let mut batch = WriteBatch::default();
    for (i, &time) in times.iter().enumerate() {
        for edge in [i as u64, 100 + i as u64] {
            let key = AdjKey {
                label,
                node,
                edge_type: etype,
                dir: Dir::Out,
                time,
                edge,
            };
            batch.put(key.encode(), encode_u64(edge));
            ours.push(key);
        }
        // Neighbouring prefixes with the same times: another direction, edge type and node.
        for (n, t, d) in [
            (node, etype, Dir::In),
            (node, etype + 1, Dir::Out),
            (node + 1, etype, Dir::Out),
            (node - 1, etype, Dir::Out),
        ] {
            let key = AdjKey {
                label,
                node: n,
                edge_type: t,
                dir: d,
                time,
                edge: i as u64,
            };
            batch.put(key.encode(), encode_u64(u64::MAX));
        }
    }
    db.write(&batch, Durability::Sync)?;
    ours.sort();

    let windows = [
        (i64::MIN, i64::MAX),
        (-1_000, 1_000),
        (0, 0),
        (1, 998),
        (1_000, 1_000),
        (1_001, i64::MAX),
        (i64::MAX, i64::MAX),
        (i64::MIN, NO_TIME),
        (6_000, 7_000),
    ];
    for (since, until) in windows {
        let (lo, hi) = adj_time_range(label, node, etype, Dir::Out, since, until);
        let want: Vec<AdjKey> = ours
            .iter()
            .filter(|k| k.time >= since && k.time <= until)
            .copied()
            .collect();
        for reverse in [false, true] {
            let got = scan(&*db, &lo, &hi, reverse)?
                .into_iter()
                .map(|(k, v)| {
                    let key = AdjKey::decode(&k)?;
                    ensure!(decode_u64(&v)? == key.edge, "value of another entry");
                    Ok(key)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut expected = want.clone();
            if reverse {
                expected.reverse();
            }
            ensure!(
                got == expected,
                "window [{since}, {until}] reverse={reverse}: {got:?}"
            );
        }
    }
    // The whole prefix.
    let prefix = adj_prefix(label, node, etype, Dir::Out);
    ensure!(scan(&*db, &prefix, &prefix_successor(&prefix), false)?.len() == ours.len());
    Ok(())
}

fn snapshot_isolation(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let (a, b, c, d) = (
        edge_key(1, 1).to_vec(),
        edge_key(1, 2).to_vec(),
        edge_key(1, 3).to_vec(),
        edge_key(1, 4).to_vec(),
    );
    let mut batch = WriteBatch::default();
    batch.put(&a, b"a1");
    batch.put(&b, b"b1");
    batch.put(&c, b"c1");
    db.write(&batch, Durability::Sync)?;

    let snap = db.snapshot();
    put(&*db, &a, b"a2")?;
    delete(&*db, &b)?;
    put(&*db, &d, b"d1")?;
    // Many more writes of the same keys, so any clean-up of old versions has run.
    for i in 0..20u8 {
        put(&*db, &a, &[b'a', i])?;
        delete(&*db, &c)?;
        put(&*db, &c, &[b'c', i])?;
    }
    put(&*db, &a, b"a3")?;

    let old = vec![
        (a.clone(), b"a1".to_vec()),
        (b.clone(), b"b1".to_vec()),
        (c.clone(), b"c1".to_vec()),
    ];
    ensure!(snap.get(&a)?.as_deref() == Some(&b"a1"[..]));
    ensure!(snap.get(&b)?.as_deref() == Some(&b"b1"[..]));
    ensure!(snap.get(&d)?.is_none());
    ensure!(scan_all(&*snap, Keyspace::Edges)? == old);
    ensure!(
        scan(
            &*snap,
            &Keyspace::Edges.lower(),
            &Keyspace::Edges.upper(),
            true
        )? == old.iter().rev().cloned().collect::<Vec<_>>()
    );

    let new = vec![
        (a.clone(), b"a3".to_vec()),
        (c.clone(), vec![b'c', 19]),
        (d.clone(), b"d1".to_vec()),
    ];
    ensure!(db.get(&b)?.is_none());
    ensure!(scan_all(&*db, Keyspace::Edges)? == new);
    ensure!(
        scan(
            &*db,
            &Keyspace::Edges.lower(),
            &Keyspace::Edges.upper(),
            true
        )? == new.iter().rev().cloned().collect::<Vec<_>>()
    );

    // A second snapshot sees the new state and keeps it after the first one is gone.
    let snap2 = db.snapshot();
    drop(snap);
    put(&*db, &a, b"a4")?;
    delete(&*db, &d)?;
    ensure!(scan_all(&*snap2, Keyspace::Edges)? == new);
    ensure!(db.get(&a)?.as_deref() == Some(&b"a4"[..]));
    ensure!(db.get(&d)?.is_none());
    // A snapshot stays readable after its backend handle is dropped.
    drop(db);
    ensure!(snap2.get(&d)?.as_deref() == Some(&b"d1"[..]));
    Ok(())
}

/// Every batch writes the same counter to two keys; every snapshot must see them equal.
fn snapshot_is_consistent_while_writers_run(kind: BackendKind) -> Result<()> {
    const WRITES: u64 = 2_000;
    let (_dir, db) = fresh(kind)?;
    let (x, y) = (degree_key(1, 1, 1, Dir::Out), degree_key(1, 1, 1, Dir::In));
    put(&*db, &x, &encode_u64(0))?;
    put(&*db, &y, &encode_u64(0))?;
    // Held across the whole run: taking and holding snapshots must not stop the writer.
    let first = db.snapshot();

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let done = done.clone();
        thread::spawn(move || -> Result<()> {
            for n in 1..=WRITES {
                let mut batch = WriteBatch::default();
                batch.put(x, encode_u64(n));
                batch.put(y, encode_u64(n));
                db.write(&batch, Durability::Buffered)?;
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    let read = |snap: &dyn ReadView| -> Result<u64> {
        let vx = decode_u64(&snap.get(&x)?.context("x missing")?)?;
        let vy = decode_u64(&snap.get(&y)?.context("y missing")?)?;
        ensure!(vx == vy, "snapshot saw x={vx}, y={vy}");
        let scanned = scan_all(snap, Keyspace::Degree)?;
        ensure!(
            scanned.len() == 2,
            "snapshot scan saw {} keys",
            scanned.len()
        );
        ensure!(
            decode_u64(&scanned[0].1)? == vx && decode_u64(&scanned[1].1)? == vx,
            "scan disagrees with gets"
        );
        Ok(vx)
    };

    let mut held: Vec<(Arc<dyn ReadView>, u64)> = Vec::new();
    let mut last = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let snap = db.snapshot();
        let n = read(&*snap)?;
        ensure!(n >= last, "went back in time from {last} to {n}");
        last = n;
        if held.len() < 32 {
            held.push((snap, n));
        }
        // Snapshots taken earlier still show what they showed.
        for (old, seen) in &held {
            ensure!(read(&**old)? == *seen, "a snapshot changed under writes");
        }
        if finished {
            break;
        }
    }
    writer.join().expect("writer panicked")?;
    ensure!(read(&*first)? == 0);
    ensure!(read(&*db.snapshot())? == WRITES);
    ensure!(decode_u64(&db.get(&x)?.context("x missing")?)? == WRITES);
    Ok(())
}

fn reopen_keeps_every_key(kind: BackendKind) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (round, durability) in [
        Durability::Sync,
        Durability::Buffered,
        Durability::Buffered,
        Durability::Sync,
    ]
    .into_iter()
    .enumerate()
    {
        {
            let db = open(kind, dir.path())?;
            for (k, v) in &model {
                ensure!(db.get(k)?.as_ref() == Some(v), "round {round}: lost {k:?}");
            }
            for ks in Keyspace::ALL {
                ensure!(
                    scan_all(&*db, ks)? == model_range(&model, &ks.lower(), &ks.upper(), false),
                    "round {round}: {ks:?}"
                );
            }
            for chunk in 0..10u64 {
                let mut batch = WriteBatch::default();
                for i in 0..50u64 {
                    let id = chunk * 50 + i;
                    let key = match id % 3 {
                        0 => node_key(round as u16, id).to_vec(),
                        1 => edge_key(1, id).to_vec(),
                        _ => key_to_id_key(1, format!("k{id}").as_bytes()),
                    };
                    // Later rounds overwrite and delete what earlier ones wrote.
                    let value = vec![round as u8; 1 + (id % 7) as usize];
                    if round > 0 && id % 5 == 0 {
                        batch.delete(&key);
                        model.remove(&key);
                    } else {
                        batch.put(&key, &value);
                        model.insert(key, value);
                    }
                }
                db.write(&batch, durability)?;
            }
        }
        let db = open(kind, dir.path())?;
        let mut stored = Vec::new();
        for ks in Keyspace::ALL {
            stored.extend(scan_all(&*db, ks)?);
        }
        ensure!(
            stored == model_range(&model, &[0x00], &[0xff], false),
            "after reopen ({durability:?})"
        );
    }
    Ok(())
}

fn keyspaces_do_not_leak(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    let mut expected: BTreeMap<Keyspace, Vec<Vec<u8>>> = BTreeMap::new();
    let mut batch = WriteBatch::default();
    let mut add = |key: Vec<u8>| {
        let ks = Keyspace::of_key(&key).expect("valid key");
        batch.put(&key, &key);
        expected.entry(ks).or_default().push(key);
    };
    for i in [0u64, 1, u64::MAX] {
        add(meta_key(&i.to_be_bytes()));
        add(key_to_id_key(u16::MAX, &i.to_be_bytes()));
        add(node_key(u16::MAX, i).to_vec());
        add(AdjKey {
            label: u16::MAX,
            node: i,
            edge_type: u16::MAX,
            dir: Dir::In,
            time: i64::MAX,
            edge: u64::MAX,
        }
        .encode()
        .to_vec());
        add(edge_key(0, i).to_vec());
        add(degree_key(0, i, 0, Dir::Out).to_vec());
    }
    // Keyspace prefixes alone, and keys made of the prefix and 0xFF bytes, sit at the edges.
    for ks in Keyspace::ALL {
        add(ks.lower());
        add(vec![ks.prefix(), 0xff, 0xff]);
    }
    db.write(&batch, Durability::Sync)?;
    for ks in Keyspace::ALL {
        let mut want = expected.remove(&ks).unwrap_or_default();
        want.sort();
        for view in [&*db as &dyn ReadView, &*db.snapshot()] {
            let fwd: Vec<Vec<u8>> = scan_all(view, ks)?.into_iter().map(|(k, _)| k).collect();
            ensure!(fwd == want, "{ks:?}: {fwd:?}");
            let mut rev: Vec<Vec<u8>> = scan(view, &ks.lower(), &ks.upper(), true)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            rev.reverse();
            ensure!(rev == want, "{ks:?} reverse: {rev:?}");
        }
    }
    Ok(())
}

fn name_flush_and_disk_usage(kind: BackendKind) -> Result<()> {
    let (_dir, db) = fresh(kind)?;
    ensure!(db.name() == kind.name());
    let mut batch = WriteBatch::default();
    for i in 0..1_000u64 {
        batch.put(node_key(1, i), vec![i as u8; 100]);
    }
    db.write(&batch, Durability::Buffered)?;
    db.flush()?;
    ensure!(db.disk_usage() > 0);
    ensure!(db.get(&node_key(1, 999))?.as_deref() == Some(&[999u64 as u8; 100][..]));
    Ok(())
}
