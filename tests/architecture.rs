//! `ARCHITECTURE.md` stays true: its table of dependencies between Argus crates must match the
//! crates' manifests exactly, and the SQL library must not pull in the command line's crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    // Cargo sets the variable when it runs the test too: a binary reused from a build in another
    // checkout then still reads this one.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    Path::new(&manifest_dir)
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workspace members, from the root manifest's `members = [...]`.
fn members() -> Vec<String> {
    let manifest = read(&root().join("Cargo.toml"));
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("Cargo.toml lists workspace members");
    let list = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// The names of the dependencies of every kind a manifest declares (`[dependencies]`,
/// `[dev-dependencies]`, `[build-dependencies]`, also per target), in either TOML form.
fn declared_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            let kind = header.rsplit_once('.').map_or(header, |(_, last)| last);
            in_dependencies = kind.ends_with("dependencies");
            // `[dependencies.name]`: a dependency as a table of its own.
            if let Some((section, name)) = header.split_once('.') {
                if section.ends_with("dependencies") && !name.contains('.') {
                    out.insert(name.to_string());
                }
            }
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .expect("split yields one piece")
            .trim();
        // Continuation lines of a value spread over several lines are not names.
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.insert(name.to_string());
        }
    }
    out
}

/// The folders of the Argus crates a member depends on (`argus-db` is `db/`).
fn argus_dependencies(member: &str) -> BTreeSet<String> {
    declared_dependencies(&read(&root().join(member).join("Cargo.toml")))
        .into_iter()
        .filter_map(|d| d.strip_prefix("argus-").map(str::to_string))
        .collect()
}

/// The table under "Dependencies between crates": crate -> the crates marked `x` in its row.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let text = read(&root().join("ARCHITECTURE.md"));
    let section = text
        .split("## Dependencies between crates")
        .nth(1)
        .expect("ARCHITECTURE.md has a section \"Dependencies between crates\"");
    let mut rows = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect()
    };
    let header = cells(rows.next().expect("the table has a header"));
    let mut table = BTreeMap::new();
    for line in rows.skip(1) {
        let row = cells(line);
        assert_eq!(row.len(), header.len(), "ragged row: {line}");
        let marked = row[1..]
            .iter()
            .zip(&header[1..])
            .filter(|(cell, _)| !cell.is_empty())
            .map(|(cell, column)| {
                assert_eq!(cell, "x", "row {} has {cell:?} under {column}", row[0]);
                column.clone()
            })
            .collect();
        table.insert(row[0].clone(), marked);
    }
    table
}

#[test]
fn the_dependency_table_matches_the_manifests() {
    let table = documented();
    let members = members();
    assert_eq!(
        table.keys().cloned().collect::<BTreeSet<_>>(),
        members.iter().cloned().collect::<BTreeSet<_>>(),
        "ARCHITECTURE.md's dependency table must have one row per workspace member"
    );
    for member in &members {
        assert_eq!(
            argus_dependencies(member),
            table[member],
            "{member}/Cargo.toml and ARCHITECTURE.md disagree on what {member} depends on"
        );
    }
}

#[test]
fn the_sql_library_pulls_in_no_command_line_crates() {
    let deps = declared_dependencies(&read(&root().join("query/Cargo.toml")));
    for cli_only in [
        "clap",
        "indicatif",
        "rustyline",
        "mimalloc",
        "comfy-table",
        "argus-datagen",
    ] {
        assert!(
            !deps.contains(cli_only),
            "query depends on {cli_only}, which belongs to the command line (cli/)"
        );
    }
}

#[test]
fn manifests_are_read_in_every_form() {
    let deps = declared_dependencies(
        r#"
[package]
name = "x"

[features]
sled = ["argus-engine/sled"]

[dependencies]
argus-engine.workspace = true
argus-query = { path = "../query" }
# a comment
png = "0.18"
datafusion = { version = "55", features = [
    "sql",
] }

[dev-dependencies]
tempfile.workspace = true

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dependencies.argus-db]
path = "../db"
"#,
    );
    let expected = [
        "argus-db",
        "argus-engine",
        "argus-query",
        "datafusion",
        "libc",
        "png",
        "tempfile",
    ];
    assert_eq!(deps, expected.iter().map(|s| s.to_string()).collect());
}
