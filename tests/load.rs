//! Bulk loads from real files: CSV dialects, Latin-1, Parquet, type inference and overrides,
//! label files merged into existing nodes, idempotent reloads, bad input reported by file, line
//! and column with the store unchanged, resuming a failed edge load, and batches cut at their
//! byte limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_engine::load::{self, CsvOptions, EdgeLoad, LoadOptions, NodeLoad, TextEncoding};
use argus_engine::{Error, GraphStore, NeighborQuery, PropType, Value};

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn nodes(label: &str, file: &Path, key: &str) -> NodeLoad {
    NodeLoad {
        label: label.into(),
        file: file.to_path_buf(),
        key: key.into(),
        options: LoadOptions::default(),
    }
}

fn edges(
    t: &str,
    file: &Path,
    src: (&str, &str),
    dst: (&str, &str),
    time: Option<&str>,
) -> EdgeLoad {
    EdgeLoad {
        edge_type: t.into(),
        file: file.to_path_buf(),
        src_label: src.0.into(),
        src_column: src.1.into(),
        dst_label: dst.0.into(),
        dst_column: dst.1.into(),
        time_column: time.map(str::to_string),
        undirected: false,
        create_missing_nodes: false,
        resume: false,
        again: false,
        options: LoadOptions::default(),
    }
}

fn quiet() -> impl FnMut(&load::LoadProgress) {
    |_| {}
}

fn prop_types(store: &GraphStore, label: &str) -> Vec<(String, PropType)> {
    store
        .catalog()
        .label(label)
        .unwrap()
        .properties
        .iter()
        .map(|p| (p.name.clone(), p.ty))
        .collect()
}

#[test]
fn csv_nodes_inference_merge_and_idempotence() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let users = write(
        dir.path(),
        "users.csv",
        b"user_id,age,score,active,joined,city\n1,30,0.5,true,2026-01-01T00:00:00Z,\"Paris, FR\"\n2,41,1,false,2026-02-01T10:00:00Z,\"say \"\"hi\"\"\"\n3,,2.25,t,,Lyon\n",
    );
    let r = load::load_nodes(&store, &nodes("user", &users, "user_id"), &mut quiet()).unwrap();
    assert_eq!((r.rows, r.nodes_created), (3, 3));
    assert_eq!(
        prop_types(&store, "user"),
        vec![
            ("age".into(), PropType::Int),
            ("score".into(), PropType::Float),
            ("active".into(), PropType::Bool),
            ("joined".into(), PropType::Timestamp),
            ("city".into(), PropType::String),
        ]
    );
    let snap = store.snapshot();
    let u1 = snap.node("user", "1").unwrap().unwrap();
    assert_eq!(
        u1.props[4],
        ("city".to_string(), Value::String("Paris, FR".into()))
    );
    let u2 = snap.node("user", "2").unwrap().unwrap();
    assert_eq!(u2.props[4].1, Value::String("say \"hi\"".into()));
    let u3 = snap.node("user", "3").unwrap().unwrap();
    assert_eq!(u3.props.len(), 3, "empty fields are nulls: {:?}", u3.props);

    // Same load again: idempotent.
    let r = load::load_nodes(&store, &nodes("user", &users, "user_id"), &mut quiet()).unwrap();
    assert_eq!((r.nodes_created, r.nodes_updated), (0, 3));
    assert_eq!(store.snapshot().node_count(0).unwrap(), 3);

    // A label file attaches a new column to existing nodes and keeps the others.
    let labels = write(dir.path(), "labels.csv", b"user_id,fraud\n1,1\n3,0\n");
    load::load_nodes(&store, &nodes("user", &labels, "user_id"), &mut quiet()).unwrap();
    let u1 = store.snapshot().node("user", "1").unwrap().unwrap();
    assert_eq!(u1.props.len(), 6);
    assert_eq!(u1.props[5], ("fraud".to_string(), Value::Int(1)));
    assert_eq!(u1.props[0], ("age".to_string(), Value::Int(30)));
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn headerless_delimiters_latin1_and_schema_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    // "Zoë" and "Ærø" in ISO-8859-1.
    let mut bytes = b"7|Zo".to_vec();
    bytes.push(0xEB);
    bytes.extend_from_slice(b"|0012\n8|");
    bytes.push(0xC6);
    bytes.extend_from_slice(b"r");
    bytes.push(0xF8);
    bytes.extend_from_slice(b"|0400\n");
    let file = write(dir.path(), "items.psv", &bytes);
    let mut spec = nodes("item", &file, "0");
    spec.options.csv = CsvOptions {
        delimiter: b'|',
        has_header: false,
        encoding: TextEncoding::Utf8,
        column_names: None,
    };
    let err = load::load_nodes(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("items.psv:1:2") && err.contains("--encoding latin1"),
        "{err}"
    );
    assert!(
        store.catalog().label("item").is_err(),
        "failed first batch left a label behind"
    );

    spec.options.csv.encoding = TextEncoding::Latin1;
    spec.options.schema = vec![("2".into(), PropType::String)];
    load::load_nodes(&store, &spec, &mut quiet()).unwrap();
    let item = store.snapshot().node("item", "8").unwrap().unwrap();
    assert_eq!(
        item.props,
        vec![
            ("1".to_string(), Value::String("Ærø".into())),
            ("2".to_string(), Value::String("0400".into()))
        ]
    );

    // An override naming a missing column is refused up front.
    spec.options.schema = vec![("nope".into(), PropType::Int)];
    let err = load::load_nodes(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(err.contains("'nope'"), "{err}");

    // Tab-separated, vector column.
    let tsv = write(dir.path(), "emb.tsv", b"id\temb\nq\t[0.5, 1, 2]\n");
    let mut spec = nodes("vec", &tsv, "id");
    spec.options.csv.delimiter = b'\t';
    spec.options.schema = vec![("emb".into(), PropType::Vector(3))];
    load::load_nodes(&store, &spec, &mut quiet()).unwrap();
    let v = store.snapshot().node("vec", "q").unwrap().unwrap();
    assert_eq!(v.props[0].1, Value::Vector(vec![0.5, 1.0, 2.0]));
}

#[test]
fn bad_rows_name_file_line_column_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let users = write(dir.path(), "users.csv", b"id,age\na,1\nb,2\n");
    load::load_nodes(&store, &nodes("user", &users, "id"), &mut quiet()).unwrap();
    let before = store.snapshot();

    // Wrong type on line 3, column 2.
    let bad = write(dir.path(), "bad.csv", b"id,age\nc,3\nd,old\n");
    let err = load::load_nodes(&store, &nodes("user", &bad, "id"), &mut quiet()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("bad.csv:3:2 (column 'age')") && text.contains("'old' is not an integer"),
        "{text}"
    );
    assert!(matches!(err, Error::Input { .. }));
    assert!(
        store.snapshot().node("user", "c").unwrap().is_none(),
        "row before the bad one in the same batch was not committed"
    );

    // Ragged row.
    let ragged = write(dir.path(), "ragged.csv", b"id,age\ne,5,extra\n");
    let text = load::load_nodes(&store, &nodes("user", &ragged, "id"), &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("ragged.csv:2") && text.contains("expected 2 fields, found 3"),
        "{text}"
    );

    // Missing key column.
    let text = load::load_nodes(&store, &nodes("user", &users, "user_id"), &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("no key column 'user_id'") && text.contains("columns: id, age"),
        "{text}"
    );

    // Empty key.
    let empty = write(dir.path(), "empty.csv", b"id,age\n,5\n");
    let text = load::load_nodes(&store, &nodes("user", &empty, "id"), &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("empty.csv:2:1") && text.contains("empty node key"),
        "{text}"
    );

    // Edge to a missing node.
    let merchants = write(dir.path(), "m.csv", b"mid\nm1\n");
    load::load_nodes(&store, &nodes("merchant", &merchants, "mid"), &mut quiet()).unwrap();
    let before_edges = store.snapshot();
    let tx = write(dir.path(), "tx.csv", b"u,m,t\na,m1,100\nzz,m1,200\n");
    let text = load::load_edges(
        &store,
        &edges("paid", &tx, ("user", "u"), ("merchant", "m"), Some("t")),
        &mut quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("tx.csv:3:1 (column 'u')") && text.contains("no user node with key 'zz'"),
        "{text}"
    );
    assert!(
        store.catalog().edge_type("paid").is_err(),
        "edge type creation rolled back with the batch"
    );

    // Bad time.
    let tx2 = write(dir.path(), "tx2.csv", b"u,m,t\na,m1,yesterday\n");
    let text = load::load_edges(
        &store,
        &edges("paid", &tx2, ("user", "u"), ("merchant", "m"), Some("t")),
        &mut quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("tx2.csv:2:3 (column 't')") && text.contains("not a time"),
        "{text}"
    );

    // Missing file.
    let text = load::load_nodes(
        &store,
        &nodes("user", &dir.path().join("nope.csv"), "id"),
        &mut quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(text.contains("nope.csv"), "{text}");

    let after = store.snapshot();
    assert_eq!(after.catalog(), before_edges.catalog());
    assert_eq!(before.node_count(0).unwrap(), after.node_count(0).unwrap());
    let report = argus_engine::check::check(&after).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn failed_edge_load_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let mut csv = String::from("src,dst,time,amount\n");
    for i in 0..1000 {
        if i == 730 {
            csv.push_str("s730,d1,not-a-time,1.0\n");
        } else {
            csv.push_str(&format!(
                "s{},d{},{},{}.5\n",
                i % 37,
                i % 11,
                1_767_225_600 + i,
                i
            ));
        }
    }
    let file = write(dir.path(), "edges.csv", csv.as_bytes());
    let mut spec = edges("sent", &file, ("s", "src"), ("d", "dst"), Some("time"));
    spec.create_missing_nodes = true;
    spec.options.batch_rows = 100;
    let mut acks = Vec::new();
    let err = load::load_edges(&store, &spec, &mut |p: &load::LoadProgress| {
        acks.push(p.rows_committed)
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("edges.csv:732:3") && text.contains("700 earlier rows were committed"),
        "{text}"
    );
    assert_eq!(acks, (1..=7).map(|b| b * 100).collect::<Vec<_>>());
    let t = store.catalog().edge_type("sent").unwrap().id;
    assert_eq!(
        store.snapshot().edge_count(t).unwrap(),
        700,
        "the failing batch left nothing"
    );

    // Fix the row and resume: the first 700 rows are skipped, not added twice.
    let fixed = csv.replace("s730,d1,not-a-time,1.0", "s730,d1,1767226330,1.0");
    std::fs::write(&file, fixed).unwrap();
    spec.resume = true;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (700, 300));
    let snap = store.snapshot();
    assert_eq!(snap.edge_count(t).unwrap(), 1000);
    let e = snap.edge(t, 999).unwrap().unwrap();
    assert_eq!(e.time, Some((1_767_225_600 + 999) * 1_000_000));
    assert_eq!(e.props[0].1, Value::Float(999.5));
    let report = argus_engine::check::check(&snap).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // Resuming a finished load does nothing.
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (1000, 0));
    assert_eq!(store.snapshot().edge_count(t).unwrap(), 1000);
}

#[test]
fn batches_end_at_their_byte_limit_and_long_keys_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    // Keys on both sides of the length the loader's key cache stores inline.
    let long = |i: usize| format!("account-with-a-long-external-key-{i:04}");
    let mut node_csv = String::from("id\n");
    for i in 0..50 {
        node_csv.push_str(&format!("{}\nshort{i}\n", long(i)));
    }
    let node_file = write(dir.path(), "accounts.csv", node_csv.as_bytes());
    load::load_nodes(&store, &nodes("account", &node_file, "id"), &mut quiet()).unwrap();
    let mut csv = String::from("src,dst,note\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "{},short{},{}\n",
            long(i % 50),
            (i * 7) % 50,
            "x".repeat(200)
        ));
    }
    let file = write(dir.path(), "transfers.csv", csv.as_bytes());
    let mut spec = edges("sent", &file, ("account", "src"), ("account", "dst"), None);
    spec.options.batch_bytes = 64 << 10;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!(r.edges_inserted, 1000);
    // Each row encodes its 200-byte note twice (record and out-adjacency entry): over 400
    // bytes, so a 64 KiB batch holds at most about 160 rows, far fewer than `batch_rows`.
    assert!(r.batches >= 6, "{} batches", r.batches);
    let snap = store.snapshot();
    let out = snap
        .neighbors(
            "account",
            &long(3),
            &NeighborQuery {
                edge_type: Some("sent".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.len(), 20);
    let report = argus_engine::check::check(&snap).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn undirected_edges_and_rfc3339_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let file = write(
        dir.path(),
        "e.csv",
        b"a,b,when\nx,y,2026-01-02T00:00:00Z\ny,z,1767225600.5\n",
    );
    let mut spec = edges("link", &file, ("n", "a"), ("n", "b"), Some("when"));
    spec.undirected = true;
    spec.create_missing_nodes = true;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.edges_inserted, r.nodes_created), (2, 3));
    let snap = store.snapshot();
    let y = snap.neighbors("n", "y", &NeighborQuery::default()).unwrap();
    assert_eq!(y.len(), 2);
    assert_eq!(y[0].time, Some(1_767_312_000_000_000), "newest first");
    assert_eq!(y[1].time, Some(1_767_225_600_500_000));
    // Loading the same type as directed is refused.
    spec.undirected = false;
    let err = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is undirected"), "{err}");
}

#[test]
fn parquet_nodes_and_edges() {
    use arrow_array::{
        Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let write_parquet = |name: &str, batch: RecordBatch| {
        let path = dir.path().join(name);
        let file = std::fs::File::create(&path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("card", DataType::Utf8, false),
        Field::new("limit", DataType::Int64, true),
    ]));
    let cards = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["c1", "c2"])),
            Arc::new(Int64Array::from(vec![Some(500), None])),
        ],
    )
    .unwrap();
    let path = write_parquet("cards.parquet", cards);
    load::load_nodes(&store, &nodes("card", &path, "card"), &mut quiet()).unwrap();
    assert_eq!(
        prop_types(&store, "card"),
        vec![("limit".into(), PropType::Int)]
    );

    let schema = Arc::new(Schema::new(vec![
        Field::new("card", DataType::Utf8, false),
        Field::new("merchant", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("amount", DataType::Float64, false),
    ]));
    let tx = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["c1", "c1", "c2"])),
            Arc::new(Int64Array::from(vec![10, 11, 10])),
            Arc::new(TimestampMicrosecondArray::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5])),
        ],
    )
    .unwrap();
    let path = write_parquet("tx.parquet", tx);
    let mut spec = edges(
        "paid",
        &path,
        ("card", "card"),
        ("merchant", "merchant"),
        Some("ts"),
    );
    spec.create_missing_nodes = true;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!(r.edges_inserted, 3);
    let snap = store.snapshot();
    let c1 = snap
        .neighbors("card", "c1", &NeighborQuery::default())
        .unwrap();
    assert_eq!(
        c1.iter().map(|n| n.time.unwrap()).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        snap.node_key(c1[0].label, c1[0].node).unwrap().unwrap(),
        "11"
    );
    let e = snap.edge(c1[0].edge_type, c1[0].edge_id).unwrap().unwrap();
    assert_eq!(e.props, vec![("amount".to_string(), Value::Float(2.5))]);
}

#[test]
fn a_million_lines_of_one_empty_field_are_skipped_without_deep_recursion() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    // `""` is a record of one empty field (the CSV reader drops truly blank lines itself).
    let mut csv = b"id,age\n".to_vec();
    for _ in 0..1_000_000 {
        csv.extend_from_slice(b"\"\"\n");
    }
    csv.extend_from_slice(b"a,1\n");
    let path = write(dir.path(), "sparse.csv", &csv);
    let r = load::load_nodes(&store, &nodes("user", &path, "id"), &mut quiet()).unwrap();
    assert_eq!((r.rows, r.nodes_created), (1, 1));
    let a = store.snapshot().node("user", "a").unwrap().unwrap();
    assert_eq!(a.props, vec![("age".to_string(), Value::Int(1))]);

    // A bad row after them is still reported at its own line.
    let mut csv = b"id,age\n".to_vec();
    for _ in 0..1_000_000 {
        csv.extend_from_slice(b"\"\"\n");
    }
    csv.extend_from_slice(b"b,old\n");
    let path = write(dir.path(), "sparse_bad.csv", &csv);
    let text = load::load_nodes(&store, &nodes("user", &path, "id"), &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("sparse_bad.csv:1000002:2 (column 'age')")
            && text.contains("'old' is not an integer"),
        "{text}"
    );
}

/// Write one record batch as a Parquet file in `dir`.
fn write_parquet(dir: &Path, name: &str, batch: arrow_array::RecordBatch) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}

/// A Parquet file of a key column `id` and one column `v` holding `values`.
fn parquet_column(dir: &Path, name: &str, values: arrow_array::ArrayRef) -> PathBuf {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    let ids: Vec<String> = (0..values.len()).map(|i| format!("k{i}")).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", arrow_schema::DataType::Utf8, false),
        Field::new("v", values.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(ids)) as ArrayRef, values],
    )
    .unwrap();
    write_parquet(dir, name, batch)
}

#[test]
fn parquet_values_beyond_i64_are_errors_naming_file_row_and_column() {
    use arrow_array::{
        ArrayRef, Date32Array, Date64Array, TimestampMillisecondArray, TimestampSecondArray,
        UInt64Array,
    };
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();

    // UInt64 up to i64::MAX loads as int; one above it is refused, not wrapped to a negative.
    let fits = parquet_column(
        dir.path(),
        "fits.parquet",
        Arc::new(UInt64Array::from(vec![0, i64::MAX as u64])) as ArrayRef,
    );
    load::load_nodes(&store, &nodes("fits", &fits, "id"), &mut quiet()).unwrap();
    assert_eq!(
        store.snapshot().node("fits", "k1").unwrap().unwrap().props,
        vec![("v".to_string(), Value::Int(i64::MAX))]
    );
    let before = store.snapshot();

    // (file, values, the row holding the bad value, what the error says)
    let cases: Vec<(&str, ArrayRef, u64, &str)> = vec![
        (
            "u64.parquet",
            Arc::new(UInt64Array::from(vec![1, 2, i64::MAX as u64 + 1])) as ArrayRef,
            3,
            "UInt64 value 9223372036854775808 is larger than the largest int",
        ),
        (
            "seconds.parquet",
            Arc::new(TimestampSecondArray::from(vec![0, i64::MAX / 1000, 5])) as ArrayRef,
            2,
            "value 9223372036854775 is outside the range of times",
        ),
        (
            "millis.parquet",
            Arc::new(TimestampMillisecondArray::from(vec![0, 1, i64::MIN / 10])) as ArrayRef,
            3,
            "value -922337203685477580 is outside the range of times",
        ),
        (
            "date32.parquet",
            Arc::new(Date32Array::from(vec![0, 1, i32::MAX])) as ArrayRef,
            3,
            "Date32 value 2147483647 is outside the range of times",
        ),
        (
            "date64.parquet",
            Arc::new(Date64Array::from(vec![0, 1, i64::MAX])) as ArrayRef,
            3,
            "Date64 value 9223372036854775807 is outside the range of times",
        ),
    ];
    for (name, values, row, message) in cases {
        let path = parquet_column(dir.path(), name, values);
        let err = load::load_nodes(&store, &nodes("big", &path, "id"), &mut quiet()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("{name}:{row}:2 (column 'v')")) && text.contains(message),
            "{text}"
        );
        assert!(matches!(err, Error::Input { .. }), "{text}");
    }
    // Nothing of the refused files was stored.
    let after = store.snapshot();
    assert_eq!(after.catalog(), before.catalog());
    assert!(store.catalog().label("big").is_err());
}

#[test]
fn edge_times_out_of_range_name_file_line_and_column() {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let users = write(dir.path(), "users.csv", b"id\na\nb\n");
    load::load_nodes(&store, &nodes("user", &users, "id"), &mut quiet()).unwrap();

    // Unix seconds whose microseconds overflow, as text and as a property of type timestamp.
    let tx = write(
        dir.path(),
        "tx.csv",
        b"s,d,t\na,b,1767225600\na,b,9223372036855\n",
    );
    let spec = edges("sent", &tx, ("user", "s"), ("user", "d"), Some("t"));
    let text = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("tx.csv:3:3 (column 't')")
            && text.contains("time '9223372036855' is out of range"),
        "{text}"
    );
    let tx = write(
        dir.path(),
        "tx_prop.csv",
        b"s,d,seen\na,b,2026-01-01T00:00:00Z\na,b,-9223372036855.5\n",
    );
    let mut spec = edges("sent", &tx, ("user", "s"), ("user", "d"), None);
    spec.options.schema = vec![("seen".into(), PropType::Timestamp)];
    let text = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("tx_prop.csv:3:3 (column 'seen')")
            && text.contains("time '-9223372036855.5' is out of range"),
        "{text}"
    );

    // Parquet time columns of plain numbers are Unix seconds: integers and floats both checked.
    let columns: Vec<(&str, ArrayRef, &str)> = vec![
        (
            "int_time.parquet",
            Arc::new(Int64Array::from(vec![1, i64::MAX / 10])) as ArrayRef,
            "time 922337203685477580 (Unix seconds) is out of range",
        ),
        (
            "float_time.parquet",
            Arc::new(Float64Array::from(vec![1.5, 1e300])) as ArrayRef,
            "(Unix seconds) is out of range",
        ),
    ];
    for (name, times, message) in columns {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, false),
            Field::new("d", DataType::Utf8, false),
            Field::new("t", times.data_type().clone(), false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "a"])),
                Arc::new(StringArray::from(vec!["b", "b"])),
                times,
            ],
        )
        .unwrap();
        let path = write_parquet(dir.path(), name, batch);
        let spec = edges("sent", &path, ("user", "s"), ("user", "d"), Some("t"));
        let text = load::load_edges(&store, &spec, &mut quiet())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(&format!("{name}:2:3 (column 't')")) && text.contains(message),
            "{text}"
        );
    }
    // Every failing load stopped in its first batch: no edge type, no edges.
    assert!(store.catalog().edge_type("sent").is_err());
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// `src,dst,time,amount` rows `range` of a small payments file.
fn payment_rows(range: std::ops::Range<u64>) -> String {
    range
        .map(|i| format!("s{},d{},{},{}.5\n", i % 37, i % 11, 1_767_225_600 + i, i))
        .collect()
}

#[test]
fn loading_a_loaded_edge_file_again_is_refused_and_resuming_a_changed_one_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = GraphStore::open(dir.path().join("db")).unwrap();
    let header = "src,dst,time,amount\n";
    let original = format!("{header}{}", payment_rows(0..1000));
    let file = write(dir.path(), "pay.csv", original.as_bytes());
    let mut spec = edges("paid", &file, ("s", "src"), ("d", "dst"), Some("time"));
    spec.create_missing_nodes = true;
    spec.options.batch_rows = 100;
    load::load_edges(&store, &spec, &mut quiet()).unwrap();
    let t = store.catalog().edge_type("paid").unwrap().id;
    let count = |store: &GraphStore| store.snapshot().edge_count(t).unwrap();

    // The same file again, without --resume: refused, with the way out.
    let err = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pay.csv")
            && err.contains("first 1000 rows were already loaded into edge type 'paid'")
            && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(count(&store), 1000);
    // Rewritten with the same content (a new modification time): its rows are still loaded.
    std::fs::remove_file(&file).unwrap();
    write(dir.path(), "pay.csv", original.as_bytes());
    assert!(load::load_edges(&store, &spec, &mut quiet()).is_err());
    assert_eq!(count(&store), 1000);

    // Rows appended after the loaded ones: resuming loads just those.
    let extended = format!("{original}{}", payment_rows(1000..1200));
    std::fs::write(&file, &extended).unwrap();
    spec.resume = true;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (1000, 200));
    assert_eq!(count(&store), 1200);

    // A loaded row edited: resuming would skip rows that were never loaded, so it is refused.
    let edited = extended.replace("s5,d5,1767225605,5.5", "s5,d5,1767225605,6.5");
    assert_ne!(edited, extended);
    std::fs::write(&file, &edited).unwrap();
    let err = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot resume")
            && err.contains("first 1200 rows are not the rows that were")
            && err.contains("restore the file"),
        "{err}"
    );
    // Cut short: refused too.
    std::fs::write(&file, format!("{header}{}", payment_rows(0..500))).unwrap();
    let err = load::load_edges(&store, &spec, &mut quiet())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("had") && err.contains("it now has only 500 rows"),
        "{err}"
    );
    assert_eq!(count(&store), 1200);

    // The same rows under another name, in another folder: refused too, naming where they were
    // loaded from; so is a copy holding only some of them. Resuming from the copy, extended,
    // loads only the rows after them.
    std::fs::write(&file, &extended).unwrap();
    let elsewhere = dir.path().join("moved");
    std::fs::create_dir(&elsewhere).unwrap();
    let copy = write(&elsewhere, "renamed.csv", extended.as_bytes());
    let mut again = spec.clone();
    again.file = copy.clone();
    again.resume = false;
    let refused = |spec: &load::EdgeLoad| {
        load::load_edges(&store, spec, &mut quiet())
            .unwrap_err()
            .to_string()
    };
    let refused_naming = |spec: &load::EdgeLoad, parts: &[&str]| {
        let err = refused(spec);
        assert!(parts.iter().all(|p| err.contains(p)), "{err}");
    };
    refused_naming(
        &again,
        &[
            "renamed.csv",
            "first 1200 rows were already loaded",
            "pay.csv (the same rows under another name)",
            "--again",
        ],
    );
    std::fs::write(&copy, &original).unwrap();
    refused_naming(
        &again,
        &[
            "renamed.csv: it opens with the same row as",
            "pay.csv, whose first 1200 rows were loaded",
            "it has only 1000 rows",
            "--again",
        ],
    );
    assert_eq!(count(&store), 1200);
    std::fs::write(&copy, format!("{extended}{}", payment_rows(1200..1250))).unwrap();
    assert_eq!(load::edge_load_checkpoint(&store, &again).unwrap(), 1200);
    again.resume = true;
    let r = load::load_edges(&store, &again, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (1200, 50));
    assert_eq!(count(&store), 1250);
    // The checkpoint moved on under both names: the original path has nothing left to load.
    spec.file = file.clone();
    std::fs::write(&file, format!("{extended}{}", payment_rows(1200..1250))).unwrap();
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (1250, 0));

    // Loading rows twice on purpose is asked for by name.
    again.resume = false;
    again.again = true;
    let r = load::load_edges(&store, &again, &mut quiet()).unwrap();
    assert_eq!(r.rows, 1250);
    assert_eq!(count(&store), 2500);

    // A different file at the loaded path (its first rows differ) loads in full without --resume.
    std::fs::write(&file, format!("{header}{}", payment_rows(5000..5300))).unwrap();
    spec.resume = false;
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (0, 300));
    assert_eq!(count(&store), 2800);
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn a_bulk_commit_whose_files_cannot_be_linked_is_completed_when_the_store_is_reopened() {
    use argus_engine::storage::LinkHook;
    use argus_engine::StoreOptions;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    let dir = tempfile::tempdir().unwrap();
    let csv = format!("src,dst,time,amount\n{}", payment_rows(0..1000));
    let file = write(dir.path(), "pay.csv", csv.as_bytes());
    let mut spec = edges("paid", &file, ("s", "src"), ("d", "dst"), Some("time"));
    spec.create_missing_nodes = true;
    spec.options.batch_rows = 100;

    // The edge-record file of the fourth batch is moved out of the staging directory before
    // every attempt to link it, so RocksDB's ingestion fails for real, on every retry.
    let parked = Arc::new(Mutex::new(None::<PathBuf>));
    let hook_parked = parked.clone();
    let commits = AtomicU64::new(0);
    let hook = move |staged: &Path, position: usize| {
        if position == 0 {
            commits.fetch_add(1, Ordering::SeqCst);
        }
        let is_edges = staged.to_string_lossy().ends_with("-edges.sst");
        if commits.load(Ordering::SeqCst) == 4 && is_edges && staged.exists() {
            let away = staged.with_extension("parked");
            std::fs::rename(staged, &away).unwrap();
            *hook_parked.lock().unwrap() = Some(away);
        }
    };
    let bulk = StoreOptions {
        ingest_min_fresh: 1,
        ..StoreOptions::default()
    };
    let failing = StoreOptions {
        before_link: Some(LinkHook(Arc::new(hook))),
        ..bulk.clone()
    };
    let db = dir.path().join("db");
    {
        let store = GraphStore::open_with(&db, None, failing).unwrap();
        let mut acks = Vec::new();
        let err = load::load_edges(&store, &spec, &mut |p: &load::LoadProgress| {
            acks.push(p.rows_committed)
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("tried 3 times") && err.contains("open the store again"),
            "{err}"
        );
        assert_eq!(acks, vec![100, 200, 300]);
        // The handle refuses everything until the store is reopened.
        let snap = store.snapshot();
        let t = snap.catalog().edge_type("paid").unwrap().id;
        let err = snap.edge_count(t).unwrap_err().to_string();
        assert!(err.contains("stopped after a failed bulk commit"), "{err}");
        spec.resume = true;
        assert!(load::load_edges(&store, &spec, &mut quiet()).is_err());
    }
    // Whatever made the link fail goes away; opening the store links the rest of the batch.
    let away = parked.lock().unwrap().take().expect("a file was parked");
    std::fs::rename(&away, away.with_extension("sst")).unwrap();
    let store = GraphStore::open_with(&db, None, bulk.clone()).unwrap();
    assert_eq!(load::edge_load_checkpoint(&store, &spec).unwrap(), 400);
    let t = store.catalog().edge_type("paid").unwrap().id;
    assert_eq!(store.snapshot().edge_count(t).unwrap(), 400);
    let report = argus_engine::check::check(&store.snapshot()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let r = load::load_edges(&store, &spec, &mut quiet()).unwrap();
    assert_eq!((r.skipped_rows, r.rows), (400, 600));

    // The same as loading the file once.
    let clean = GraphStore::open_with(dir.path().join("clean"), None, bulk).unwrap();
    spec.resume = false;
    load::load_edges(&clean, &spec, &mut quiet()).unwrap();
    assert!(argus_tests::assert_same_contents(&store, &clean) > 3000);
}
