//! A deterministic, streaming generator of synthetic payments graphs with planted fraud, writing
//! CSV files for demos, tests and benchmarks of Argus. It depends on nothing else in Argus.
//!
//! [`generate`] writes users, cards, devices, IPs and merchants, the payments and
//! person-to-person transfers between them, and labels for the fraud planted among them:
//! device- and IP-sharing rings, card-testing bursts, account takeovers and money-mule chains
//! and cycles. Fraud actors are drawn from the ordinary users and keep their own attributes,
//! cards and device and IP histories (same distributions as everyone's), so only the planted
//! relations reveal them: devices and IPs a ring shares, an attacker's device used on several
//! victims, money passed along within hours, bursts of tiny payments. The same config and seed
//! always give byte-identical files, and the large files
//! are produced as time-ordered streams, so tens of millions of transactions need only small,
//! constant memory. [`load_commands`] gives the `argus load` command lines that turn the files
//! into a graph.
//!
//! [`shopping::generate_shopping`] writes a shopping graph for the recommenders: products with
//! style vectors, shoppers with drifting tastes, sessions of views, carts and purchases.

mod fraud;
mod out;
mod sample;
pub mod shopping;
mod stream;
mod world;

use std::fs;
use std::path::{Path, PathBuf};

use fraud::{Events, Reason, UserPlan};
use out::CsvOut;
pub use sample::luhn_valid;
use sample::phase_rng;
use world::{Cards, Merchant, Network, User, BRANDS, CATEGORIES, COUNTRIES, DEVICE_BASE, OSES};

/// Default start of the generated time window: 2026-01-01T00:00:00Z, in Unix seconds.
pub const DEFAULT_START_TIME: i64 = 1_767_225_600;

/// Largest accepted number of users; keeps every card number unique (see `world::ACCOUNTS`).
pub const MAX_USERS: u64 = 200_000_000;

/// Largest accepted number of merchants.
pub const MAX_MERCHANTS: u64 = 100_000_000;

/// Largest accepted window length in days.
pub const MAX_DAYS: u32 = 36_500;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentsConfig {
    /// Number of users (ids `0..users`); at least 1.
    pub users: u64,
    /// Number of merchants (ids `0..merchants`); at least 1.
    pub merchants: u64,
    /// Exact number of rows of `transactions.csv`.
    pub transactions: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the activity window, Unix seconds.
    pub start_time: i64,
    /// Length of the activity window in days; at least 1.
    pub days: u32,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            users: 10_000,
            merchants: 1_000,
            transactions: 100_000,
            seed: 42,
            start_time: DEFAULT_START_TIME,
            days: 90,
        }
    }
}

impl PaymentsConfig {
    /// End of the activity window (exclusive), Unix seconds.
    pub fn end_time(&self) -> i64 {
        self.start_time + i64::from(self.days) * world::DAY
    }

    fn validate(&self) -> Result<(), GenError> {
        let invalid = |msg: String| Err(GenError::InvalidConfig(msg));
        if self.users == 0 || self.users > MAX_USERS {
            return invalid(format!(
                "users must be in 1..={MAX_USERS}, got {}",
                self.users
            ));
        }
        if self.merchants == 0 || self.merchants > MAX_MERCHANTS {
            return invalid(format!(
                "merchants must be in 1..={MAX_MERCHANTS}, got {}",
                self.merchants
            ));
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return invalid(format!("days must be in 1..={MAX_DAYS}, got {}", self.days));
        }
        // Signups reach back six years and the window forward; keep all of it far from overflow.
        const LIMIT: i64 = 1 << 52;
        if !(-LIMIT..=LIMIT).contains(&self.start_time) {
            return invalid(format!("start_time {} is out of range", self.start_time));
        }
        Ok(())
    }
}

/// A progress report: `done` of `total` rows of the current phase are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being written: "users", "cards", "devices", "ips", "merchants",
    /// "transactions", "transfers" or "labels".
    pub phase: &'static str,
    /// Rows written so far in this phase.
    pub done: u64,
    /// Rows this phase will write.
    pub total: u64,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Each CSV file written (name within the output directory) with its number of data rows,
    /// in the order written.
    pub files: Vec<(String, u64)>,
    /// Users labelled fraudulent.
    pub fraud_users: u64,
    /// Cards labelled fraudulent.
    pub fraud_cards: u64,
    /// Payments and transfers labelled fraudulent.
    pub fraud_transactions: u64,
    /// Device/IP-sharing rings planted.
    pub rings: u64,
    /// Card-testing bursts planted.
    pub card_testing_bursts: u64,
    /// Account takeovers planted.
    pub takeovers: u64,
    /// Open money-mule chains planted.
    pub mule_chains: u64,
    /// Closed money-mule cycles planted.
    pub mule_cycles: u64,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The configuration cannot be generated.
    #[error("invalid generator config: {0}")]
    InvalidConfig(String),
    /// Creating, writing or setting up a file or directory failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Generates the payments graph described by `config` into `out_dir` (created if needed),
/// overwriting files of the same names, and reports progress through `progress`.
///
/// Files, all CSV with a header row: `users.csv`, `cards.csv`, `card_owner.csv`, `devices.csv`,
/// `ips.csv`, `user_device.csv`, `user_ip.csv`, `merchants.csv`, `transactions.csv`,
/// `transfers.csv`, `labels.csv`, `user_labels.csv`, `card_labels.csv`; plus `load.sh`, which
/// runs [`load_commands`].
pub fn generate(
    config: &PaymentsConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<GenSummary, GenError> {
    config.validate()?;
    fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let seed = config.seed;

    // Build the in-memory world. Each step has its own random stream.
    let users = world::gen_users(config, &mut phase_rng(seed, 1));
    let plan = fraud::plan_users(config, &users, &mut phase_rng(seed, 2));
    let cards = world::gen_cards(config, &users, &mut phase_rng(seed, 3));
    let net = world::gen_network(config, &users, &plan, &mut phase_rng(seed, 4));
    let merchants = world::gen_merchants(config, &mut phase_rng(seed, 5));
    let events = fraud::plan_events(config, &cards, &merchants, &plan, &mut phase_rng(seed, 6));

    let mut files = Vec::with_capacity(13);
    files.push(write_users(out_dir, &users, progress)?);
    files.extend(write_cards(out_dir, &cards, progress)?);
    files.extend(write_network(out_dir, &net, progress)?);
    files.push(write_merchants(out_dir, &merchants, progress)?);
    drop(net);

    let (file, txn_ids) = stream::write_transactions(
        config,
        out_dir,
        &cards,
        &merchants,
        &events.txns,
        &mut phase_rng(seed, 7),
        progress,
    )?;
    files.push(file);
    let (file, transfer_ids) = stream::write_transfers(
        config,
        out_dir,
        config.transactions / 10,
        &events.transfers,
        &mut phase_rng(seed, 8),
        progress,
    )?;
    files.push(file);

    files.extend(write_labels(
        out_dir,
        &plan,
        &cards,
        &events,
        &txn_ids,
        &transfer_ids,
        progress,
    )?);
    write_load_script(out_dir)?;

    let counts = plan.counts;
    Ok(GenSummary {
        files,
        fraud_users: plan.user_reason.iter().filter(|&&r| r != 0).count() as u64,
        fraud_cards: events.card_reason.iter().filter(|&&r| r != 0).count() as u64,
        fraud_transactions: (txn_ids.len() + transfer_ids.len()) as u64,
        rings: counts.rings,
        card_testing_bursts: events.bursts,
        takeovers: counts.takeovers,
        mule_chains: counts.chains,
        mule_cycles: counts.cycles,
    })
}

/// Reports the start and end of a small phase.
fn report(progress: &mut dyn FnMut(Progress), phase: &'static str, done: u64, total: u64) {
    progress(Progress { phase, done, total });
}

fn write_users(
    dir: &Path,
    users: &[User],
    progress: &mut dyn FnMut(Progress),
) -> Result<(String, u64), GenError> {
    let total = users.len() as u64;
    report(progress, "users", 0, total);
    let mut w = CsvOut::create(dir, "users.csv", "user_id,country,signup_time,age")?;
    for (u, user) in users.iter().enumerate() {
        w.u64(u as u64)
            .c()
            .text(COUNTRIES[user.country as usize].0)
            .c()
            .i64(user.signup)
            .c()
            .u64(u64::from(user.age));
        w.end_row()?;
    }
    report(progress, "users", total, total);
    w.finish()
}

fn write_cards(
    dir: &Path,
    cards: &Cards,
    progress: &mut dyn FnMut(Progress),
) -> Result<[(String, u64); 2], GenError> {
    let total = cards.list.len() as u64;
    report(progress, "cards", 0, total);
    let mut w = CsvOut::create(dir, "cards.csv", "card_id,brand,issued_time")?;
    let mut owner = CsvOut::create(dir, "card_owner.csv", "user_id,card_id,since")?;
    for card in &cards.list {
        w.u64(card.number)
            .c()
            .text(BRANDS[card.brand as usize])
            .c()
            .i64(card.issued);
        w.end_row()?;
        owner
            .u64(u64::from(card.owner))
            .c()
            .u64(card.number)
            .c()
            .i64(card.issued);
        owner.end_row()?;
    }
    report(progress, "cards", total, total);
    Ok([w.finish()?, owner.finish()?])
}

fn write_network(
    dir: &Path,
    net: &Network,
    progress: &mut dyn FnMut(Progress),
) -> Result<[(String, u64); 4], GenError> {
    let total = net.devices.len() as u64;
    report(progress, "devices", 0, total);
    let mut devices = CsvOut::create(dir, "devices.csv", "device_id,os")?;
    for (d, &os) in net.devices.iter().enumerate() {
        devices
            .text("d")
            .u64(DEVICE_BASE + d as u64)
            .c()
            .text(OSES[os as usize]);
        devices.end_row()?;
    }
    let mut user_device = CsvOut::create(dir, "user_device.csv", "user_id,device_id,first_seen")?;
    for &(u, d, t) in &net.user_device {
        user_device
            .u64(u64::from(u))
            .c()
            .text("d")
            .u64(DEVICE_BASE + u64::from(d))
            .c()
            .i64(t);
        user_device.end_row()?;
    }
    report(progress, "devices", total, total);

    let total = net.ips.len() as u64;
    report(progress, "ips", 0, total);
    let mut ips = CsvOut::create(dir, "ips.csv", "ip,country")?;
    for &(ip, country) in &net.ips {
        ips.ip(ip).c().text(COUNTRIES[country as usize].0);
        ips.end_row()?;
    }
    let mut user_ip = CsvOut::create(dir, "user_ip.csv", "user_id,ip,first_seen")?;
    for &(u, i, t) in &net.user_ip {
        user_ip
            .u64(u64::from(u))
            .c()
            .ip(net.ips[i as usize].0)
            .c()
            .i64(t);
        user_ip.end_row()?;
    }
    report(progress, "ips", total, total);
    Ok([
        devices.finish()?,
        user_device.finish()?,
        ips.finish()?,
        user_ip.finish()?,
    ])
}

fn write_merchants(
    dir: &Path,
    merchants: &[Merchant],
    progress: &mut dyn FnMut(Progress),
) -> Result<(String, u64), GenError> {
    let total = merchants.len() as u64;
    report(progress, "merchants", 0, total);
    let mut w = CsvOut::create(dir, "merchants.csv", "merchant_id,name,category,country")?;
    for (m, merchant) in merchants.iter().enumerate() {
        w.u64(m as u64).c();
        merchant.write_name(&mut w);
        w.c()
            .text(CATEGORIES[merchant.category as usize].name)
            .c()
            .text(COUNTRIES[merchant.country as usize].0);
        w.end_row()?;
    }
    report(progress, "merchants", total, total);
    w.finish()
}

fn write_labels(
    dir: &Path,
    plan: &UserPlan,
    cards: &Cards,
    events: &Events,
    txn_ids: &[(u64, Reason)],
    transfer_ids: &[(u64, Reason)],
    progress: &mut dyn FnMut(Progress),
) -> Result<[(String, u64); 3], GenError> {
    let total = (plan.user_reason.len() + cards.list.len()) as u64;
    report(progress, "labels", 0, total);
    let mut labels = CsvOut::create(dir, "labels.csv", "entity,key,reason")?;
    let mut user_labels = CsvOut::create(dir, "user_labels.csv", "user_id,is_fraud,fraud_reason")?;
    for (u, &code) in plan.user_reason.iter().enumerate() {
        user_labels.u64(u as u64).c();
        match Reason::from_code(code) {
            Some(reason) => {
                user_labels.text("1").c().text(reason.as_str());
                labels
                    .text("user")
                    .c()
                    .u64(u as u64)
                    .c()
                    .text(reason.as_str());
                labels.end_row()?;
            }
            None => {
                user_labels.text("0").c();
            }
        }
        user_labels.end_row()?;
    }
    let mut card_labels = CsvOut::create(dir, "card_labels.csv", "card_id,is_fraud")?;
    for (card, &code) in cards.list.iter().zip(&events.card_reason) {
        card_labels.u64(card.number).c();
        match Reason::from_code(code) {
            Some(reason) => {
                card_labels.text("1");
                labels
                    .text("card")
                    .c()
                    .u64(card.number)
                    .c()
                    .text(reason.as_str());
                labels.end_row()?;
            }
            None => {
                card_labels.text("0");
            }
        }
        card_labels.end_row()?;
    }
    for &(id, reason) in txn_ids {
        labels
            .text("transaction")
            .c()
            .text("t")
            .u64(id)
            .c()
            .text(reason.as_str());
        labels.end_row()?;
    }
    for &(id, reason) in transfer_ids {
        labels
            .text("transaction")
            .c()
            .text("tr")
            .u64(id)
            .c()
            .text(reason.as_str());
        labels.end_row()?;
    }
    report(progress, "labels", total, total);
    Ok([
        labels.finish()?,
        user_labels.finish()?,
        card_labels.finish()?,
    ])
}

/// One `argus load` step: what to load, from which file, with which column options.
const LOADS: [(&str, &str, &str); 12] = [
    ("nodes user", "users.csv", "--key user_id"),
    ("nodes card", "cards.csv", "--key card_id"),
    ("nodes device", "devices.csv", "--key device_id"),
    ("nodes ip", "ips.csv", "--key ip"),
    ("nodes merchant", "merchants.csv", "--key merchant_id"),
    (
        "edges owns",
        "card_owner.csv",
        "--src user:user_id --dst card:card_id --time since",
    ),
    (
        "edges uses_device",
        "user_device.csv",
        "--src user:user_id --dst device:device_id --time first_seen",
    ),
    (
        "edges uses_ip",
        "user_ip.csv",
        "--src user:user_id --dst ip:ip --time first_seen",
    ),
    (
        "edges paid",
        "transactions.csv",
        "--src card:card_id --dst merchant:merchant_id --time time",
    ),
    (
        "edges transfer",
        "transfers.csv",
        "--src user:src_user --dst user:dst_user --time time",
    ),
    ("nodes user", "user_labels.csv", "--key user_id"),
    ("nodes card", "card_labels.csv", "--key card_id"),
];

/// The ground-truth columns the generator writes besides the features: the loads turn them into
/// properties, and [`load_commands`] declares them label properties so that no fraud model reads
/// them (or an aggregate of them) as an input.
pub const LABEL_PROPERTIES: [&str; 4] = [
    "card.is_fraud",
    "paid.is_fraud",
    "user.fraud_reason",
    "user.is_fraud",
];

/// Quotes `s` for a POSIX shell, leaving ordinary paths untouched.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `argus` command lines that load the files generated into `out_dir` into the database
/// at `db_dir`: node files first, then edges, then the label files that annotate existing user
/// and card nodes, and last the declaration of the [`LABEL_PROPERTIES`]. Paths are `out_dir`
/// joined with each file name; arguments containing characters special to a shell are
/// single-quoted.
pub fn load_commands(out_dir: &Path, db_dir: &str) -> Vec<String> {
    let db = shell_quote(db_dir);
    let mut commands: Vec<String> = LOADS
        .iter()
        .map(|(what, file, args)| {
            let path = out_dir.join(file);
            let path = shell_quote(&path.to_string_lossy());
            format!("argus --db {db} load {what} {path} {args}")
        })
        .collect();
    commands.push(format!(
        "argus --db {db} labels declare {}",
        LABEL_PROPERTIES.join(" ")
    ));
    commands
}

/// Writes `load.sh`, the [`load_commands`] as a script that finds the CSV files next to itself.
fn write_load_script(dir: &Path) -> Result<(), GenError> {
    let mut script = String::from(
        "#!/usr/bin/env bash\n\
         # Loads the generated payments graph into an Argus database.\n\
         # Usage: load.sh [DB_DIR]   (default ./argus-data; set ARGUS to pick the binary)\n\
         set -euo pipefail\n\
         ARGUS=\"${ARGUS:-argus}\"\n\
         DB=\"${1:-./argus-data}\"\n\
         DIR=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\n",
    );
    for (what, file, args) in LOADS {
        script.push_str(&format!(
            "\"$ARGUS\" --db \"$DB\" load {what} \"$DIR/{file}\" {args}\n"
        ));
    }
    script.push_str(&format!(
        "\"$ARGUS\" --db \"$DB\" labels declare {}\n",
        LABEL_PROPERTIES.join(" ")
    ));
    let path = dir.join("load.sh");
    let io_err = |source| GenError::Io {
        path: path.clone(),
        source,
    };
    fs::write(&path, script).map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(io_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_paths() {
        assert_eq!(shell_quote("/tmp/a-b_c.csv"), "/tmp/a-b_c.csv");
        assert_eq!(shell_quote("my dir"), "'my dir'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for cfg in [
            PaymentsConfig {
                users: 0,
                ..Default::default()
            },
            PaymentsConfig {
                merchants: 0,
                ..Default::default()
            },
            PaymentsConfig {
                days: 0,
                ..Default::default()
            },
            PaymentsConfig {
                start_time: i64::MAX,
                ..Default::default()
            },
        ] {
            let err = generate(&cfg, dir.path(), &mut |_| {}).unwrap_err();
            assert!(matches!(err, GenError::InvalidConfig(_)), "{err}");
        }
        // Nothing is written for an invalid config.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn fraud_counts_scale_and_respect_the_budget() {
        let small = fraud::Counts::for_config(&PaymentsConfig {
            users: 200,
            merchants: 50,
            transactions: 10_000,
            ..Default::default()
        });
        assert_eq!(
            (
                small.rings,
                small.bursts,
                small.takeovers,
                small.chains,
                small.cycles
            ),
            (1, 1, 1, 1, 1)
        );
        let none = fraud::Counts::for_config(&PaymentsConfig {
            users: 199,
            ..Default::default()
        });
        assert_eq!(none.rings + none.bursts + none.takeovers + none.chains, 0);
        let big = fraud::Counts::for_config(&PaymentsConfig {
            users: 1_000_000,
            merchants: 10,
            transactions: 1_000,
            ..Default::default()
        });
        assert_eq!(big.bursts, 0, "bursts need 20 distinct merchants");
        assert!(big.takeovers * 5 + big.rings_paying * 60 <= 250);
        assert_eq!(big.rings, 500);
    }
}
