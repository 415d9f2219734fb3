//! `argus sql`: an interactive SQL shell in the spirit of `duckdb` and `psql` (line editing,
//! history, multi-line statements ending with `;`, dot commands), and one-shot queries with
//! `-c`, printing tables, CSV or JSON, or writing CSV, JSON or Parquet files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use argus_query::session::{table_names, ArgusSession};
use argus_query::table::TableKind;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Aligned table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl OutputMode {
    /// Parse `table`, `csv` or `json`.
    pub fn parse(s: &str) -> Option<OutputMode> {
        match s {
            "table" => Some(OutputMode::Table),
            "csv" => Some(OutputMode::Csv),
            "json" => Some(OutputMode::Json),
            _ => None,
        }
    }
}

/// Split text into SQL statements (string literals and comments may contain `;`).
pub fn split_statements(text: &str) -> Result<Vec<String>> {
    let statements = Parser::parse_sql(&GenericDialect {}, text)
        .map_err(|e| DataFusionError::SQL(Box::new(e), None))?;
    Ok(statements.into_iter().map(|s| s.to_string()).collect())
}

/// Run every statement in `text` and collect each result.
pub async fn run_statements(session: &ArgusSession, text: &str) -> Result<Vec<Vec<RecordBatch>>> {
    let mut out = Vec::new();
    for statement in split_statements(text)? {
        let df = session.sql(&statement).await?;
        out.push(df.collect().await?);
    }
    Ok(out)
}

/// Render batches in a mode.
pub fn render(batches: &[RecordBatch], mode: OutputMode) -> Result<String> {
    match mode {
        OutputMode::Table => Ok(pretty_format_batches(batches)?.to_string()),
        OutputMode::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        OutputMode::Json => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// Write batches to a file whose extension picks the format: `.csv`, `.json` or `.parquet`.
pub fn write_output(batches: &[RecordBatch], path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let io = |e: std::io::Error| DataFusionError::Execution(format!("{}: {e}", path.display()));
    match ext.as_str() {
        "csv" | "json" => {
            let mode = if ext == "csv" {
                OutputMode::Csv
            } else {
                OutputMode::Json
            };
            let text = render(batches, mode)?;
            std::fs::write(path, text).map_err(io)
        }
        "parquet" => {
            let schema = match batches.first() {
                Some(b) => b.schema(),
                None => {
                    return Err(DataFusionError::Execution(
                        "the query returned no batches to write".into(),
                    ))
                }
            };
            let file = File::create(path).map_err(io)?;
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            Ok(())
        }
        _ => Err(DataFusionError::Plan(format!(
            "--output {}: the file name must end in .csv, .json or .parquet",
            path.display()
        ))),
    }
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// State of an interactive session.
pub struct Shell<'a> {
    session: &'a ArgusSession,
    mode: OutputMode,
    timer: bool,
}

const HELP: &str = "Statements end with ';' and may span lines. Commands:
  .tables              list tables (node labels and edge types)
  .schema NAME         columns and types of a table
  .mode table|csv|json output format
  .timer on|off        print each statement's time
  .help                this help
  .quit                leave (also Ctrl-D)
Graph functions: neighbors('label:key', hops [, edge_types, direction, since, until, limit]),
degree('label:key', edge_type, direction). See docs/sql.md.";

impl<'a> Shell<'a> {
    /// A shell over a session.
    pub fn new(session: &'a ArgusSession, mode: OutputMode) -> Shell<'a> {
        Shell {
            session,
            mode,
            timer: false,
        }
    }

    /// Handle a dot command; returns false to quit.
    pub fn command(&mut self, line: &str, out: &mut dyn Write) -> Result<bool> {
        let mut parts = line.split_whitespace();
        let cmd = parts.next().unwrap_or("");
        let arg = parts.next();
        let io = |e: std::io::Error| DataFusionError::Execution(e.to_string());
        match (cmd, arg) {
            (".quit" | ".exit", _) => return Ok(false),
            (".help", _) => writeln!(out, "{HELP}").map_err(io)?,
            (".tables", _) => {
                self.session.refresh()?;
                let snap = self.session.store().snapshot();
                for t in table_names(snap.catalog()) {
                    let what = match t.kind {
                        TableKind::Nodes(_) => "nodes",
                        TableKind::Edges(_) => "edges",
                    };
                    writeln!(out, "{:<24} {what}", t.name).map_err(io)?;
                }
            }
            (".schema", Some(name)) => {
                self.session.refresh()?;
                let table =
                    futures::executor::block_on(self.session.context().table_provider(name))?;
                for f in table.schema().fields() {
                    writeln!(
                        out,
                        "{:<24} {}{}",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { "" } else { " NOT NULL" }
                    )
                    .map_err(io)?;
                }
            }
            (".mode", Some(m)) => match OutputMode::parse(m) {
                Some(mode) => self.mode = mode,
                None => writeln!(out, "unknown mode '{m}': use table, csv or json").map_err(io)?,
            },
            (".timer", Some(v)) => self.timer = v == "on",
            _ => writeln!(out, "unknown or incomplete command '{line}' (try .help)").map_err(io)?,
        }
        Ok(true)
    }

    /// Run statements and print their results (and timing) to `out`.
    pub async fn execute(&mut self, sql: &str, out: &mut dyn Write) -> Result<()> {
        let io = |e: std::io::Error| DataFusionError::Execution(e.to_string());
        for statement in split_statements(sql)? {
            let started = Instant::now();
            let batches = self.session.sql(&statement).await?.collect().await?;
            let elapsed = started.elapsed();
            writeln!(out, "{}", render(&batches, self.mode)?).map_err(io)?;
            if self.timer {
                writeln!(
                    out,
                    "({} rows, {:.3} ms)",
                    rows(&batches),
                    elapsed.as_secs_f64() * 1e3
                )
                .map_err(io)?;
            }
        }
        Ok(())
    }
}

/// The interactive loop: line editing and history (`~/.argus_history`).
pub async fn interactive(session: &ArgusSession, mode: OutputMode) -> Result<()> {
    use rustyline::error::ReadlineError;
    let mut editor =
        rustyline::DefaultEditor::new().map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let history: Option<PathBuf> =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".argus_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let mut shell = Shell::new(session, mode);
    let mut buffer = String::new();
    println!(
        "argus sql over {} — statements end with ';', .help for help",
        session.store().dir().display()
    );
    loop {
        let prompt = if buffer.is_empty() {
            "argus> "
        } else {
            "   ...> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && trimmed.starts_with('.') {
                    let _ = editor.add_history_entry(trimmed);
                    match shell.command(trimmed, &mut std::io::stdout()) {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            eprintln!("Error: {e}");
                            continue;
                        }
                    }
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if trimmed.ends_with(';') {
                    let sql = std::mem::take(&mut buffer);
                    let _ = editor.add_history_entry(sql.trim());
                    if let Err(e) = shell.execute(&sql, &mut std::io::stdout()).await {
                        eprintln!("Error: {e}");
                    }
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(DataFusionError::Execution(e.to_string())),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
