//! Printing: readable tables by default, JSON for scripts, progress bars on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use argus_engine::check::CheckReport;
use argus_engine::load::{LoadProgress, LoadReport};
use argus_engine::record::Props;
use argus_engine::time::format_micros;
use argus_engine::{GraphStore, Neighbor, Snapshot};
use clap::ValueEnum;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value as Json};

/// Output format of a command.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// JSON.
    Json,
    /// CSV with a header (SQL results and lists; summaries print as tables).
    Csv,
}

/// A result table: named columns and JSON cells.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// The table in `format`, ready to print.
    pub fn render_as(&self, format: Format) -> String {
        match format {
            Format::Table => self.render(),
            // The caller prints a line break; a quoted last field may end in whitespace itself.
            Format::Csv => {
                let mut csv = self.to_csv();
                if csv.ends_with('\n') {
                    csv.pop();
                }
                csv
            }
            Format::Json => self.to_json().to_string(),
        }
    }

    pub fn render(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        t.set_header(&self.headers);
        for row in &self.rows {
            t.add_row(row.iter().map(cell_text));
        }
        t.to_string()
    }

    /// The table as CSV with a header; fields holding the delimiter, quotes or line breaks
    /// (`\n` or `\r`) are quoted.
    pub fn to_csv(&self) -> String {
        // Rows shorter or longer than the header are written as they are rather than refused.
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        // Writing into memory cannot fail: the only errors are the sink's and record lengths,
        // which `flexible` allows.
        writer.write_record(&self.headers).expect("CSV into memory");
        for row in &self.rows {
            writer
                .write_record(row.iter().map(cell_text))
                .expect("CSV into memory");
        }
        let bytes = writer.into_inner().expect("CSV into memory");
        String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
    }

    pub fn to_json(&self) -> Json {
        Json::Array(
            self.rows
                .iter()
                .map(|r| {
                    Json::Object(
                        self.headers
                            .iter()
                            .cloned()
                            .zip(r.iter().cloned())
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

/// A cell as text: strings as they are, null as empty, other values as JSON.
fn cell_text(cell: &Json) -> String {
    match cell {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// A byte-based progress bar, drawn only when stderr is a terminal.
pub struct LoadBar(Option<ProgressBar>);

impl LoadBar {
    pub fn new(what: &str) -> LoadBar {
        if !std::io::stderr().is_terminal() {
            return LoadBar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>16} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        LoadBar(Some(bar))
    }

    pub fn update(&self, p: &LoadProgress) {
        if let Some(bar) = &self.0 {
            bar.set_length(p.total_bytes);
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} rows", p.rows_committed));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

pub fn print_load_report(r: &LoadReport, into: &str, format: Format) {
    let secs = (r.millis as f64 / 1000.0).max(1e-3);
    match format {
        Format::Json => println!(
            "{}",
            json!({
                "into": into, "rows": r.rows, "skipped_rows": r.skipped_rows,
                "nodes_created": r.nodes_created, "nodes_updated": r.nodes_updated,
                "edges_inserted": r.edges_inserted, "batches": r.batches, "seconds": secs,
            })
        ),
        Format::Table | Format::Csv => {
            let mut parts = Vec::new();
            if r.edges_inserted > 0 {
                parts.push(format!("{} edges", r.edges_inserted));
            }
            if r.nodes_created > 0 {
                parts.push(format!("{} nodes created", r.nodes_created));
            }
            if r.nodes_updated > 0 {
                parts.push(format!("{} nodes updated", r.nodes_updated));
            }
            if r.skipped_rows > 0 {
                parts.push(format!("{} rows skipped (already loaded)", r.skipped_rows));
            }
            if parts.is_empty() {
                parts.push("no rows".into());
            }
            println!(
                "loaded {} into {into}: {} in {} batches, {secs:.2} s ({:.0} rows/s)",
                r.rows,
                parts.join(", "),
                r.batches,
                r.rows as f64 / secs
            );
        }
    }
}

pub fn print_stats(store: &GraphStore, format: Format) -> Result<()> {
    let snap = store.snapshot();
    let catalog = snap.catalog();
    let mut labels = Table::new(&["label", "key", "nodes", "properties"]);
    for l in &catalog.labels {
        let props: Vec<String> = l
            .properties
            .iter()
            .map(|p| format!("{}:{}", p.name, p.ty))
            .collect();
        labels.rows.push(vec![
            json!(l.name),
            json!(l.key_name),
            json!(snap.node_count(l.id)?),
            json!(props.join(", ")),
        ]);
    }
    let mut types = Table::new(&["edge type", "from", "to", "directed", "edges", "properties"]);
    for t in &catalog.edge_types {
        let props: Vec<String> = t
            .properties
            .iter()
            .map(|p| format!("{}:{}", p.name, p.ty))
            .collect();
        types.rows.push(vec![
            json!(t.name),
            json!(catalog.label_by_id(t.src_label)?.name),
            json!(catalog.label_by_id(t.dst_label)?.name),
            json!(!t.undirected),
            json!(snap.edge_count(t.id)?),
            json!(props.join(", ")),
        ]);
    }
    let disk = store.backend().disk_usage();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dir": store.dir().display().to_string(),
                "backend": store.backend().name(),
                "disk_bytes": disk,
                "labels": labels.to_json(),
                "edge_types": types.to_json(),
            }))?
        ),
        Format::Table | Format::Csv => {
            println!(
                "{} ({}, {:.1} MiB on disk)",
                store.dir().display(),
                store.backend().name(),
                disk as f64 / (1 << 20) as f64
            );
            println!("{}", labels.render());
            println!("{}", types.render());
        }
    }
    Ok(())
}

pub fn print_check(r: &CheckReport, format: Format) {
    match format {
        Format::Json => println!(
            "{}",
            json!({
                "ok": r.is_ok(), "nodes": r.nodes, "edges": r.edges,
                "adjacency_entries": r.adjacency_entries, "problem_count": r.problem_count,
                "problems": r.problems,
            })
        ),
        Format::Table | Format::Csv => {
            println!(
                "checked {} nodes, {} edges, {} adjacency entries: {}",
                r.nodes,
                r.edges,
                r.adjacency_entries,
                if r.is_ok() {
                    "OK".to_string()
                } else {
                    format!("{} problem(s)", r.problem_count)
                }
            );
            for p in &r.problems {
                println!("  - {p}");
            }
            if r.problem_count as usize > r.problems.len() {
                println!(
                    "  ... and {} more",
                    r.problem_count as usize - r.problems.len()
                );
            }
        }
    }
}

pub fn neighbors_table(snap: &Snapshot, found: &[(Neighbor, Props)]) -> Result<Table> {
    let catalog = snap.catalog();
    let mut table = Table::new(&[
        "edge_type",
        "direction",
        "time",
        "neighbor",
        "edge_id",
        "properties",
    ]);
    for (n, props) in found {
        let t = catalog.edge_type_by_id(n.edge_type)?;
        let other = catalog.label_by_id(n.label)?;
        let key = snap
            .node_key(n.label, n.node)?
            .unwrap_or_else(|| format!("#{}", n.node));
        let props = Json::Object(
            props
                .iter()
                .filter_map(|(i, v)| {
                    let def = t.properties.get(*i as usize)?;
                    Some((def.name.clone(), v.to_json()))
                })
                .collect(),
        );
        let dir = if t.undirected {
            "both"
        } else {
            match n.dir {
                argus_engine::Dir::Out => "out",
                argus_engine::Dir::In => "in",
            }
        };
        table.rows.push(vec![
            json!(t.name),
            json!(dir),
            n.time
                .map(|t| json!(format_micros(t)))
                .unwrap_or(Json::Null),
            json!(format!("{}:{key}", other.name)),
            json!(n.edge_id),
            props,
        ]);
    }
    Ok(table)
}

/// Run the payments generator with a progress bar per phase on a terminal.
pub fn generate_with_progress(
    config: &argus_datagen::PaymentsConfig,
    out: &Path,
) -> Result<argus_datagen::GenSummary> {
    let terminal = std::io::stderr().is_terminal();
    let mut bar: Option<(String, ProgressBar)> = None;
    let summary = argus_datagen::generate(config, out, &mut |p: argus_datagen::Progress| {
        if !terminal {
            return;
        }
        let same = bar.as_ref().is_some_and(|(phase, _)| phase == p.phase);
        if !same {
            if let Some((_, b)) = bar.take() {
                b.finish_and_clear();
            }
            let b = ProgressBar::new(p.total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b.set_prefix(p.phase.to_string());
            bar = Some((p.phase.to_string(), b));
        }
        if let Some((_, b)) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
        }
    })?;
    if let Some((_, b)) = bar {
        b.finish_and_clear();
    }
    Ok(summary)
}

pub fn print_generate_summary(
    s: &argus_datagen::GenSummary,
    out: &Path,
    db: &Path,
    format: Format,
) {
    let commands = argus_datagen::load_commands(out, &db.display().to_string());
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "out": out.display().to_string(),
                "files": s.files.iter().map(|(f, n)| json!({"file": f, "rows": n})).collect::<Vec<_>>(),
                "fraud": {
                    "users": s.fraud_users, "cards": s.fraud_cards, "transactions": s.fraud_transactions,
                    "rings": s.rings, "card_testing_bursts": s.card_testing_bursts, "takeovers": s.takeovers,
                    "mule_chains": s.mule_chains, "mule_cycles": s.mule_cycles,
                },
                "load_commands": commands,
            }))
            .expect("json")
        ),
        Format::Table | Format::Csv => {
            let mut t = Table::new(&["file", "rows"]);
            for (f, n) in &s.files {
                t.rows.push(vec![json!(f), json!(n)]);
            }
            println!("wrote {}:\n{}", out.display(), t.render());
            println!(
                "planted fraud: {} rings, {} card-testing bursts, {} account takeovers, {} mule chains, {} mule cycles ({} users, {} cards, {} transactions labelled)",
                s.rings, s.card_testing_bursts, s.takeovers, s.mule_chains, s.mule_cycles, s.fraud_users, s.fraud_cards, s.fraud_transactions
            );
            println!("load it with `bash {}/load.sh {}`, i.e.:", out.display(), db.display());
            for c in commands {
                println!("  {c}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_separators_quotes_and_line_breaks_round_trip() {
        // A lone `\r` must be quoted too: readers take it for the end of a record.
        let awkward = "a,b \"quoted\"\r\nline two\rthree\n";
        let mut table = Table::new(&["name, with comma", "value", "note"]);
        table
            .rows
            .push(vec![json!(awkward), json!(1.5), Json::Null]);
        table.rows.push(vec![
            json!("cr\ronly"),
            json!({"k": "v,\r"}),
            json!("ends in spaces  "),
        ]);

        for text in [table.to_csv(), table.render_as(Format::Csv)] {
            let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let headers: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect();
            assert_eq!(headers, table.headers);
            let rows: Vec<Vec<String>> = reader
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            assert_eq!(
                rows,
                [
                    vec![awkward.to_string(), "1.5".into(), String::new()],
                    vec![
                        "cr\ronly".to_string(),
                        r#"{"k":"v,\r"}"#.into(),
                        "ends in spaces  ".into()
                    ],
                ]
            );
        }
    }
}
