//! Runs the SQL logic test files in `tests/sql/*.slt`, each on its own fresh store loaded with
//! the fixtures in `tests/sql/data/`.
//!
//! Format (a subset of sqllogictest): records separated by blank lines; `statement ok` or
//! `statement error <text the error must contain>` followed by SQL; `query <types> [rowsort]`
//! followed by SQL, a `----` line and the expected rows, one per line, cells separated by a
//! space, NULL as `NULL`. Regenerate expected output with
//! `ARGUS_SLT_COMPLETE=1 cargo test -p argus-query --test slt` (then review the diff).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_engine::load::{self, EdgeLoad, LoadOptions, NodeLoad};
use argus_engine::GraphStore;
use argus_query::ArgusSession;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/data")
}

fn load_fixtures(store: &GraphStore) {
    let data = fixtures();
    for (label, file, key) in [
        ("user", "users.csv", "user_id"),
        ("card", "cards.csv", "card_id"),
        ("merchant", "merchants.csv", "merchant_id"),
        ("device", "devices.csv", "device_id"),
    ] {
        let spec = NodeLoad {
            label: label.into(),
            file: data.join(file),
            key: key.into(),
            options: LoadOptions::default(),
        };
        load::load_nodes(store, &spec, &mut |_| {}).unwrap();
    }
    for (t, file, src, dst, time) in [
        (
            "owns",
            "owns.csv",
            ("user", "user_id"),
            ("card", "card_id"),
            "since",
        ),
        (
            "uses_device",
            "uses_device.csv",
            ("user", "user_id"),
            ("device", "device_id"),
            "first_seen",
        ),
        (
            "paid",
            "paid.csv",
            ("card", "card_id"),
            ("merchant", "merchant_id"),
            "time",
        ),
        (
            "transfer",
            "transfer.csv",
            ("user", "src_user"),
            ("user", "dst_user"),
            "time",
        ),
    ] {
        let spec = EdgeLoad::new(t, data.join(file), src, dst, time);
        load::load_edges(store, &spec, &mut |_| {}).unwrap();
    }
}

enum Record {
    Statement {
        sql: String,
        error: Option<String>,
        header: String,
    },
    Query {
        sql: String,
        rowsort: bool,
        expected: Vec<String>,
        header: String,
    },
    Other(String),
}

fn parse(text: &str) -> Vec<Record> {
    let mut records = Vec::new();
    for block in text.split("\n\n") {
        let block = block.trim_matches('\n');
        if block.is_empty() {
            continue;
        }
        let lines: Vec<&str> = block.lines().collect();
        let first = lines.iter().position(|l| !l.starts_with('#'));
        let Some(first) = first else {
            records.push(Record::Other(block.to_string()));
            continue;
        };
        let comments = lines[..first].join("\n");
        let header = lines[first];
        let rest = &lines[first + 1..];
        let with_comments = |h: &str| {
            if comments.is_empty() {
                h.to_string()
            } else {
                format!("{comments}\n{h}")
            }
        };
        if let Some(err) = header.strip_prefix("statement error") {
            records.push(Record::Statement {
                sql: rest.join("\n"),
                error: Some(err.trim().to_string()),
                header: with_comments(header),
            });
        } else if header.starts_with("statement ok") {
            records.push(Record::Statement {
                sql: rest.join("\n"),
                error: None,
                header: with_comments(header),
            });
        } else if header.starts_with("query") {
            let sep = rest.iter().position(|l| *l == "----").unwrap_or(rest.len());
            records.push(Record::Query {
                sql: rest[..sep].join("\n"),
                rowsort: header.split_whitespace().any(|w| w == "rowsort"),
                expected: rest
                    .get(sep + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                header: with_comments(header),
            });
        } else {
            records.push(Record::Other(block.to_string()));
        }
    }
    records
}

async fn rows_of(session: &ArgusSession, sql: &str) -> Result<Vec<String>, String> {
    let batches = session
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in &batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..b.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| {
                    let s = f.value(row).to_string();
                    if s.is_empty() {
                        "(empty)".to_string()
                    } else {
                        s
                    }
                })
                .collect();
            out.push(cells.join(" "));
        }
    }
    Ok(out)
}

async fn run_file(path: &Path, complete: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(GraphStore::open(dir.path().join("db")).unwrap());
    load_fixtures(&store);
    let session = ArgusSession::new(store).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut failures = Vec::new();
    let mut rewritten = Vec::new();
    for record in parse(&text) {
        match record {
            Record::Other(text) => rewritten.push(text),
            Record::Statement { sql, error, header } => {
                let result = session.sql(&sql).await;
                let result = match result {
                    Ok(df) => df.collect().await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match (&error, &result) {
                    (None, Err(e)) => failures.push(format!("{name}: `{sql}` failed: {e}")),
                    (Some(want), Ok(())) => {
                        failures.push(format!("{name}: `{sql}` should fail with '{want}'"))
                    }
                    (Some(want), Err(e)) if !e.contains(want.as_str()) => failures.push(format!(
                        "{name}: `{sql}` failed with '{e}', expected it to contain '{want}'"
                    )),
                    _ => {}
                }
                rewritten.push(format!("{header}\n{sql}"));
            }
            Record::Query {
                sql,
                rowsort,
                expected,
                header,
            } => match rows_of(&session, &sql).await {
                Ok(mut actual) => {
                    if rowsort {
                        actual.sort();
                    }
                    if actual != expected && !complete {
                        failures.push(format!(
                            "{name}: `{sql}`\n  expected:\n    {}\n  actual:\n    {}",
                            expected.join("\n    "),
                            actual.join("\n    ")
                        ));
                    }
                    rewritten.push(
                        format!("{header}\n{sql}\n----\n{}", actual.join("\n"))
                            .trim_end()
                            .to_string(),
                    );
                }
                Err(e) => {
                    failures.push(format!("{name}: `{sql}` failed: {e}"));
                    rewritten.push(
                        format!("{header}\n{sql}\n----\n{}", expected.join("\n"))
                            .trim_end()
                            .to_string(),
                    );
                }
            },
        }
    }
    if complete {
        std::fs::write(path, rewritten.join("\n\n") + "\n").unwrap();
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let complete = std::env::var("ARGUS_SLT_COMPLETE").is_ok();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "slt files missing from {}", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        failures.extend(run_file(f, complete).await);
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
