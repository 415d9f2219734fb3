//! End-to-end checks of the generated files: formats, counts, ordering, referential integrity and
//! that every planted fraud pattern really has the shape its label promises.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use argus_datagen::{generate, load_commands, luhn_valid, GenSummary, PaymentsConfig, Progress};

const FILES: [&str; 13] = [
    "users.csv",
    "cards.csv",
    "card_owner.csv",
    "devices.csv",
    "user_device.csv",
    "ips.csv",
    "user_ip.csv",
    "merchants.csv",
    "transactions.csv",
    "transfers.csv",
    "labels.csv",
    "user_labels.csv",
    "card_labels.csv",
];

fn small() -> PaymentsConfig {
    PaymentsConfig {
        users: 2_000,
        merchants: 200,
        transactions: 20_000,
        seed: 7,
        ..Default::default()
    }
}

fn gen(cfg: &PaymentsConfig) -> (tempfile::TempDir, GenSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(cfg, dir.path(), &mut |_| {}).unwrap();
    (dir, summary)
}

/// All data rows of a CSV file, after checking its header.
fn rows(dir: &Path, name: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(dir.join(name)).unwrap();
    assert_eq!(reader.headers().unwrap(), header, "header of {name}");
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> i64 {
    s.parse()
        .unwrap_or_else(|_| panic!("not an integer: {s:?}"))
}

/// Amount in cents, checking the two-decimal format.
fn cents(s: &str) -> u64 {
    let (whole, frac) = s.split_once('.').expect("amount has decimals");
    assert_eq!(frac.len(), 2, "amount {s}");
    whole.parse::<u64>().unwrap() * 100 + frac.parse::<u64>().unwrap()
}

/// Labelled keys of one entity kind with their reasons.
fn labels(dir: &Path, entity: &str) -> BTreeMap<String, String> {
    rows(dir, "labels.csv", &["entity", "key", "reason"])
        .into_iter()
        .filter(|r| r[0] == entity)
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = small();
    let (a, sa) = gen(&cfg);
    let (b, sb) = gen(&cfg);
    assert_eq!(sa, sb);
    for name in FILES.iter().chain(&["load.sh"]) {
        let x = fs::read(a.path().join(name)).unwrap();
        let y = fs::read(b.path().join(name)).unwrap();
        assert!(x == y, "{name} differs between runs with the same seed");
    }
    let (c, _) = gen(&PaymentsConfig { seed: 8, ..cfg });
    for name in [
        "users.csv",
        "cards.csv",
        "transactions.csv",
        "transfers.csv",
    ] {
        let x = fs::read(a.path().join(name)).unwrap();
        let y = fs::read(c.path().join(name)).unwrap();
        assert!(x != y, "{name} is the same for different seeds");
    }
}

#[test]
fn row_counts_match_config_and_summary() {
    let cfg = small();
    let (dir, summary) = gen(&cfg);
    let names: Vec<&str> = summary.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, FILES);
    for (name, count) in &summary.files {
        let text = fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count() as u64, count + 1, "{name}");
    }
    let count = |name: &str| summary.files.iter().find(|f| f.0 == name).unwrap().1;
    assert_eq!(count("users.csv"), cfg.users);
    assert_eq!(count("user_labels.csv"), cfg.users);
    assert_eq!(count("merchants.csv"), cfg.merchants);
    assert_eq!(count("transactions.csv"), cfg.transactions);
    assert_eq!(count("card_owner.csv"), count("cards.csv"));
    assert_eq!(count("card_labels.csv"), count("cards.csv"));
    let per_user = |name: &str| count(name) as f64 / cfg.users as f64;
    assert!(
        (1.2..1.4).contains(&per_user("cards.csv")),
        "{}",
        per_user("cards.csv")
    );
    assert!(
        (1.1..1.3).contains(&per_user("devices.csv")),
        "{}",
        per_user("devices.csv")
    );
    assert!(
        (0.7..0.9).contains(&per_user("ips.csv")),
        "{}",
        per_user("ips.csv")
    );
    let planted_transfers = labels(dir.path(), "transaction")
        .keys()
        .filter(|k| k.starts_with("tr"))
        .count() as u64;
    assert!(planted_transfers >= 2 * 3 - 1);
    assert_eq!(
        count("transfers.csv"),
        cfg.transactions / 10 + planted_transfers
    );
    assert_eq!(
        count("labels.csv"),
        summary.fraud_users + summary.fraud_cards + summary.fraud_transactions
    );
    for n in [
        summary.rings,
        summary.card_testing_bursts,
        summary.takeovers,
        summary.mule_chains,
        summary.mule_cycles,
    ] {
        assert!(n >= 1, "{summary:?}");
    }
}

#[test]
fn users_cards_and_entities_are_well_formed() {
    let cfg = small();
    let (dir, _) = gen(&cfg);
    let d = dir.path();
    let users = rows(
        d,
        "users.csv",
        &["user_id", "country", "signup_time", "age"],
    );
    for (i, u) in users.iter().enumerate() {
        assert_eq!(u[0], i.to_string());
        assert_eq!(u[1].len(), 2);
        assert!(num(&u[2]) < cfg.start_time);
        assert!((18..=90).contains(&num(&u[3])));
    }
    let cards = rows(d, "cards.csv", &["card_id", "brand", "issued_time"]);
    let mut seen = BTreeSet::new();
    for c in &cards {
        assert_eq!(c[0].len(), 16, "{}", c[0]);
        assert!(luhn_valid(&c[0]), "{} fails Luhn", c[0]);
        assert!(seen.insert(c[0].clone()), "duplicate card {}", c[0]);
        assert!(["visa", "mastercard", "discover"].contains(&c[1].as_str()));
        assert!(num(&c[2]) < cfg.start_time);
    }
    let owners = rows(d, "card_owner.csv", &["user_id", "card_id", "since"]);
    let mut owned = BTreeSet::new();
    for o in &owners {
        assert!(num(&o[0]) < cfg.users as i64);
        assert!(seen.contains(&o[1]));
        owned.insert(num(&o[0]));
    }
    assert_eq!(owned.len() as u64, cfg.users, "every user has a card");

    let devices: BTreeSet<String> = rows(d, "devices.csv", &["device_id", "os"])
        .into_iter()
        .map(|r| {
            assert!(r[0].starts_with('d') && r[0][1..].parse::<u64>().is_ok());
            r[0].clone()
        })
        .collect();
    let ips: BTreeSet<String> = rows(d, "ips.csv", &["ip", "country"])
        .into_iter()
        .map(|r| {
            assert!(r[0].parse::<std::net::Ipv4Addr>().is_ok(), "{}", r[0]);
            r[0].clone()
        })
        .collect();
    let ip_rows = rows(d, "ips.csv", &["ip", "country"]).len();
    assert_eq!(ips.len(), ip_rows, "IPs are unique");
    for r in rows(
        d,
        "user_device.csv",
        &["user_id", "device_id", "first_seen"],
    ) {
        assert!(num(&r[0]) < cfg.users as i64 && devices.contains(&r[1]));
        assert!(num(&r[2]) < cfg.end_time());
    }
    for r in rows(d, "user_ip.csv", &["user_id", "ip", "first_seen"]) {
        assert!(num(&r[0]) < cfg.users as i64 && ips.contains(&r[1]));
        assert!(num(&r[2]) < cfg.end_time());
    }
    let merchants = rows(
        d,
        "merchants.csv",
        &["merchant_id", "name", "category", "country"],
    );
    let categories: BTreeSet<&str> = merchants.iter().map(|m| m[2].as_str()).collect();
    assert!(categories.len() >= 12, "{categories:?}");
    for (i, m) in merchants.iter().enumerate() {
        assert_eq!(m[0], i.to_string());
        assert!(!m[1].is_empty());
    }
}

#[test]
fn transactions_are_ordered_in_window_and_reference_existing_nodes() {
    let cfg = small();
    let (dir, _) = gen(&cfg);
    let d = dir.path();
    let cards: BTreeSet<String> = rows(d, "cards.csv", &["card_id", "brand", "issued_time"])
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let txns = rows(
        d,
        "transactions.csv",
        &[
            "txn_id",
            "card_id",
            "merchant_id",
            "amount",
            "time",
            "channel",
            "is_fraud",
        ],
    );
    let mut last = cfg.start_time;
    let mut per_merchant = vec![0u64; cfg.merchants as usize];
    let mut channels = BTreeSet::new();
    for (i, t) in txns.iter().enumerate() {
        assert_eq!(t[0], format!("t{i}"));
        assert!(cards.contains(&t[1]), "unknown card {}", t[1]);
        per_merchant[num(&t[2]) as usize] += 1;
        assert!(cents(&t[3]) >= 50);
        let time = num(&t[4]);
        assert!(time >= last, "time goes back at {}", t[0]);
        assert!(time < cfg.end_time());
        last = time;
        assert!(["pos", "ecom", "atm", "moto"].contains(&t[5].as_str()));
        channels.insert(t[5].clone());
        assert!(t[6] == "0" || t[6] == "1", "is_fraud {}", t[6]);
    }
    assert_eq!(channels.len(), 4);
    // The per-payment label agrees with labels.csv.
    let planted = labels(d, "transaction");
    for t in &txns {
        assert_eq!(
            t[6] == "1",
            planted.contains_key(&t[0]),
            "is_fraud of {}",
            t[0]
        );
    }
    // Zipf-like popularity: the busiest merchant sees far more than an average one.
    let max = *per_merchant.iter().max().unwrap();
    assert!(max > 10 * cfg.transactions / cfg.merchants, "max {max}");
    // Spread over the window rather than bunched up at the start.
    assert!(last > cfg.end_time() - 86_400);

    let transfers = rows(
        d,
        "transfers.csv",
        &["transfer_id", "src_user", "dst_user", "amount", "time"],
    );
    let mut last = cfg.start_time;
    for (i, t) in transfers.iter().enumerate() {
        assert_eq!(t[0], format!("tr{i}"));
        assert!(num(&t[1]) < cfg.users as i64 && num(&t[2]) < cfg.users as i64);
        assert_ne!(t[1], t[2]);
        assert!(cents(&t[3]) >= 100);
        let time = num(&t[4]);
        assert!(time >= last && time < cfg.end_time());
        last = time;
    }
}

#[test]
fn card_testing_bursts_hit_many_merchants_within_minutes() {
    let (dir, summary) = gen(&small());
    let d = dir.path();
    let cards = labels(d, "card");
    let txn_labels = labels(d, "transaction");
    let txns = rows(
        d,
        "transactions.csv",
        &[
            "txn_id",
            "card_id",
            "merchant_id",
            "amount",
            "time",
            "channel",
            "is_fraud",
        ],
    );
    let mut bursts = 0;
    for (card, reason) in &cards {
        if reason != "card_testing" {
            continue;
        }
        bursts += 1;
        let burst: Vec<_> = txns
            .iter()
            .filter(|t| {
                &t[1] == card && txn_labels.get(&t[0]).map(String::as_str) == Some("card_testing")
            })
            .collect();
        let merchants: BTreeSet<&str> = burst.iter().map(|t| t[2].as_str()).collect();
        assert!(merchants.len() >= 20, "only {} merchants", merchants.len());
        assert_eq!(merchants.len(), burst.len(), "merchants are distinct");
        let times: Vec<i64> = burst.iter().map(|t| num(&t[4])).collect();
        let span = times.iter().max().unwrap() - times.iter().min().unwrap();
        assert!(span <= 600, "burst spans {span} s");
        for t in &burst {
            assert!((50..=500).contains(&cents(&t[3])));
            assert_eq!(t[5], "ecom");
        }
    }
    assert_eq!(bursts, summary.card_testing_bursts);
    assert!(bursts >= 1);
}

#[test]
fn mule_cycles_close_within_a_day_and_chains_are_paths() {
    let (dir, summary) = gen(&small());
    let d = dir.path();
    let txn_labels = labels(d, "transaction");
    let user_labels = labels(d, "user");
    let transfers = rows(
        d,
        "transfers.csv",
        &["transfer_id", "src_user", "dst_user", "amount", "time"],
    );
    for (kind, expected) in [
        ("mule_cycle", summary.mule_cycles),
        ("mule_chain", summary.mule_chains),
    ] {
        let planted: Vec<&Vec<String>> = transfers
            .iter()
            .filter(|t| txn_labels.get(&t[0]).map(String::as_str) == Some(kind))
            .collect();
        // Each user takes part in one pattern only, so grouping by shared users separates them.
        let mut groups: Vec<Vec<&Vec<String>>> = Vec::new();
        for t in planted {
            match groups.iter_mut().find(|g| {
                g.iter()
                    .any(|o| o[1] == t[1] || o[2] == t[1] || o[1] == t[2] || o[2] == t[2])
            }) {
                Some(g) => g.push(t),
                None => groups.push(vec![t]),
            }
        }
        assert_eq!(groups.len() as u64, expected, "{kind}");
        for mut g in groups {
            g.sort_by_key(|t| num(&t[4]));
            let users: BTreeSet<&str> = g
                .iter()
                .flat_map(|t| [t[1].as_str(), t[2].as_str()])
                .collect();
            for u in &users {
                assert_eq!(user_labels.get(*u).map(String::as_str), Some(kind));
            }
            for pair in g.windows(2) {
                assert_eq!(pair[0][2], pair[1][1], "hops connect");
                assert!(num(&pair[1][4]) > num(&pair[0][4]), "strictly later");
                assert!(cents(&pair[1][3]) < cents(&pair[0][3]), "amounts decrease");
            }
            let span = num(&g.last().unwrap()[4]) - num(&g[0][4]);
            if kind == "mule_cycle" {
                assert_eq!(g.last().unwrap()[2], g[0][1], "cycle returns to its start");
                assert_eq!(users.len(), g.len(), "cycle visits distinct users");
                assert!(span < 86_400, "cycle spans {span} s");
            } else {
                assert_ne!(g.last().unwrap()[2], g[0][1]);
                assert_eq!(users.len(), g.len() + 1, "chain visits distinct users");
            }
            assert!((3..=6).contains(&users.len()));
        }
    }
}

#[test]
fn ring_members_share_devices_or_ips() {
    let cfg = PaymentsConfig {
        users: 10_000,
        transactions: 30_000,
        ..small()
    };
    let (dir, summary) = gen(&cfg);
    let d = dir.path();
    let ring: BTreeSet<String> = labels(d, "user")
        .into_iter()
        .filter(|(_, r)| r == "ring")
        .map(|(u, _)| u)
        .collect();
    assert!(ring.len() as u64 >= 5 * summary.rings);
    // Users of each device / IP, restricted to ring members.
    let mut shared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, col) in [("user_device.csv", "device_id"), ("user_ip.csv", "ip")] {
        for r in rows(d, file, &["user_id", col, "first_seen"]) {
            if ring.contains(&r[0]) {
                shared.entry(r[1].clone()).or_default().insert(r[0].clone());
            }
        }
    }
    // Each shared asset is used by a quarter of its ring or more (4 to 15 users), and every
    // member logs in from one.
    let assets: Vec<&BTreeSet<String>> = shared.values().filter(|s| s.len() >= 4).collect();
    for member in &ring {
        let asset = assets.iter().find(|s| s.contains(member));
        let asset = asset.unwrap_or_else(|| panic!("ring user {member} shares nothing"));
        assert!(asset.len() <= 15);
    }
    let groups: BTreeSet<&BTreeSet<String>> = assets.iter().copied().collect();
    assert!(groups.len() as u64 >= summary.rings);
    // Honest users never share a device with more than one other user.
    let fraud = labels(d, "user");
    let mut device_users: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows(
        d,
        "user_device.csv",
        &["user_id", "device_id", "first_seen"],
    ) {
        if !fraud.contains_key(&r[0]) {
            *device_users.entry(r[1].clone()).or_default() += 1;
        }
    }
    assert!(device_users.values().all(|&n| n <= 2));
    // Ring cards are labelled and some of them pay.
    let card_labels = labels(d, "card");
    assert!(card_labels.values().any(|r| r == "ring"));
    assert!(labels(d, "transaction").values().any(|r| r == "ring"));
}

#[test]
fn takeovers_start_with_a_new_device_and_spend_big() {
    let (dir, summary) = gen(&small());
    let d = dir.path();
    let victims: BTreeSet<String> = labels(d, "user")
        .into_iter()
        .filter(|(_, r)| r == "account_takeover")
        .map(|(u, _)| u)
        .collect();
    assert_eq!(victims.len() as u64, summary.takeovers);
    let cfg = small();
    let card_labels = labels(d, "card");
    let txn_labels = labels(d, "transaction");
    let owners = rows(d, "card_owner.csv", &["user_id", "card_id", "since"]);
    let txns = rows(
        d,
        "transactions.csv",
        &[
            "txn_id",
            "card_id",
            "merchant_id",
            "amount",
            "time",
            "channel",
            "is_fraud",
        ],
    );
    let device_rows = rows(
        d,
        "user_device.csv",
        &["user_id", "device_id", "first_seen"],
    );
    let mut users_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &device_rows {
        users_of.entry(&r[1]).or_default().insert(&r[0]);
    }
    for victim in &victims {
        // Devices the victim started using inside the window (honest users get new ones too).
        let new_devices: Vec<(&str, i64)> = device_rows
            .iter()
            .filter(|r| &r[0] == victim && num(&r[2]) >= cfg.start_time)
            .map(|r| (r[1].as_str(), num(&r[2])))
            .collect();
        assert!(
            !new_devices.is_empty(),
            "takeover device seen inside the window"
        );
        let card = owners
            .iter()
            .find(|o| {
                &o[0] == victim
                    && card_labels.get(&o[1]).map(String::as_str) == Some("account_takeover")
            })
            .map(|o| o[1].clone())
            .expect("the victim's card is labelled");
        let (bad, usual): (Vec<_>, Vec<_>) = txns
            .iter()
            .filter(|t| t[1] == card)
            .partition(|t| txn_labels.get(&t[0]).map(String::as_str) == Some("account_takeover"));
        assert!((2..=5).contains(&bad.len()));
        // One of them logged in at most six hours before every fraudulent payment, and the
        // attacker used it on other victims too.
        let (attacker, _) = new_devices
            .iter()
            .find(|(_, seen)| {
                bad.iter()
                    .all(|t| (0..=6 * 3600).contains(&(num(&t[4]) - seen)))
            })
            .expect("a new device precedes the spree");
        if summary.takeovers >= 2 {
            let others = &users_of[attacker];
            assert!(others.len() >= 2, "the attacker's device serves one victim");
            assert!(others.iter().all(|u| victims.contains(*u)));
        }
        if usual.len() >= 3 {
            let mut amounts: Vec<u64> = usual.iter().map(|t| cents(&t[3])).collect();
            amounts.sort_unstable();
            let median = amounts[amounts.len() / 2];
            for t in &bad {
                assert!(cents(&t[3]) >= 3 * median, "{} vs median {median}", t[3]);
            }
        }
    }
}

#[test]
fn labels_reference_existing_entities_and_agree_with_label_files() {
    let (dir, summary) = gen(&small());
    let d = dir.path();
    let reasons = [
        "ring",
        "card_testing",
        "account_takeover",
        "mule_chain",
        "mule_cycle",
    ];
    let all = rows(d, "labels.csv", &["entity", "key", "reason"]);
    let users: BTreeSet<String> = rows(
        d,
        "users.csv",
        &["user_id", "country", "signup_time", "age"],
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let cards: BTreeSet<String> = rows(d, "cards.csv", &["card_id", "brand", "issued_time"])
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let mut keys: BTreeSet<String> = rows(
        d,
        "transactions.csv",
        &[
            "txn_id",
            "card_id",
            "merchant_id",
            "amount",
            "time",
            "channel",
            "is_fraud",
        ],
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    keys.extend(
        rows(
            d,
            "transfers.csv",
            &["transfer_id", "src_user", "dst_user", "amount", "time"],
        )
        .into_iter()
        .map(|r| r[0].clone()),
    );
    let mut unique = BTreeSet::new();
    for r in &all {
        assert!(reasons.contains(&r[2].as_str()), "{r:?}");
        assert!(
            unique.insert((r[0].clone(), r[1].clone())),
            "duplicate label {r:?}"
        );
        let known = match r[0].as_str() {
            "user" => &users,
            "card" => &cards,
            "transaction" => &keys,
            other => panic!("unknown entity {other}"),
        };
        assert!(known.contains(&r[1]), "{r:?} does not exist");
    }
    let user_labels = labels(d, "user");
    let user_file = rows(
        d,
        "user_labels.csv",
        &["user_id", "is_fraud", "fraud_reason"],
    );
    assert_eq!(user_file.len(), users.len());
    for (i, r) in user_file.iter().enumerate() {
        assert_eq!(r[0], i.to_string());
        match user_labels.get(&r[0]) {
            Some(reason) => assert_eq!((r[1].as_str(), &r[2]), ("1", reason)),
            None => assert_eq!((r[1].as_str(), r[2].as_str()), ("0", "")),
        }
    }
    let card_labels = labels(d, "card");
    let card_file = rows(d, "card_labels.csv", &["card_id", "is_fraud"]);
    assert_eq!(card_file.len(), cards.len());
    let flagged: Vec<&Vec<String>> = card_file.iter().filter(|r| r[1] == "1").collect();
    assert_eq!(flagged.len(), card_labels.len());
    assert!(flagged.iter().all(|r| card_labels.contains_key(&r[0])));
    assert_eq!(user_labels.len() as u64, summary.fraud_users);
    assert_eq!(card_labels.len() as u64, summary.fraud_cards);
}

#[test]
fn load_commands_and_script() {
    let out = Path::new("/data/pay");
    let cmds = load_commands(out, "db");
    let expected = [
        "argus --db db load nodes user /data/pay/users.csv --key user_id",
        "argus --db db load nodes card /data/pay/cards.csv --key card_id",
        "argus --db db load nodes device /data/pay/devices.csv --key device_id",
        "argus --db db load nodes ip /data/pay/ips.csv --key ip",
        "argus --db db load nodes merchant /data/pay/merchants.csv --key merchant_id",
        "argus --db db load edges owns /data/pay/card_owner.csv --src user:user_id --dst card:card_id --time since",
        "argus --db db load edges uses_device /data/pay/user_device.csv --src user:user_id --dst device:device_id --time first_seen",
        "argus --db db load edges uses_ip /data/pay/user_ip.csv --src user:user_id --dst ip:ip --time first_seen",
        "argus --db db load edges paid /data/pay/transactions.csv --src card:card_id --dst merchant:merchant_id --time time",
        "argus --db db load edges transfer /data/pay/transfers.csv --src user:src_user --dst user:dst_user --time time",
        "argus --db db load nodes user /data/pay/user_labels.csv --key user_id",
        "argus --db db load nodes card /data/pay/card_labels.csv --key card_id",
        "argus --db db labels declare card.is_fraud paid.is_fraud user.fraud_reason user.is_fraud",
    ];
    assert_eq!(cmds, expected);
    assert_eq!(
        load_commands(Path::new("my data"), "a db")[0],
        "argus --db 'a db' load nodes user 'my data/users.csv' --key user_id"
    );

    let (dir, _) = gen(&small());
    let script = fs::read_to_string(dir.path().join("load.sh")).unwrap();
    assert!(script.starts_with("#!/usr/bin/env bash\n"));
    assert!(script.contains("set -euo pipefail\n"));
    assert!(script.contains("ARGUS=\"${ARGUS:-argus}\""));
    assert!(script.contains("DB=\"${1:-./argus-data}\""));
    let lines: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("\"$ARGUS\""))
        .collect();
    assert_eq!(lines.len(), 13);
    for (line, cmd) in lines.iter().zip(&expected) {
        // Same command, with the binary, database and directory as shell variables.
        let generic = cmd
            .replace("argus --db db", "\"$ARGUS\" --db \"$DB\"")
            .replace("/data/pay/", "\"$DIR/")
            .replace(".csv ", ".csv\" ");
        assert_eq!(*line, generic);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("load.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "load.sh is executable");
    }
}

#[test]
fn progress_reports_every_phase_up_to_its_total() {
    let cfg = PaymentsConfig {
        users: 500,
        merchants: 50,
        transactions: 250_000,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut reports: Vec<Progress> = Vec::new();
    generate(&cfg, &dir.path().join("nested/out"), &mut |p| {
        reports.push(p)
    })
    .unwrap();
    let txn: Vec<u64> = reports
        .iter()
        .filter(|p| p.phase == "transactions")
        .map(|p| {
            assert_eq!(p.total, cfg.transactions);
            p.done
        })
        .collect();
    assert_eq!(txn, [0, 100_000, 200_000, 250_000]);
    let phases: Vec<&str> = reports.iter().map(|p| p.phase).collect();
    for phase in [
        "users",
        "cards",
        "devices",
        "ips",
        "merchants",
        "transfers",
        "labels",
    ] {
        let last = reports.iter().rev().find(|p| p.phase == phase).unwrap();
        assert_eq!(last.done, last.total, "{phase}");
        assert!(phases.contains(&phase));
    }
}

#[test]
fn tiny_configs_work() {
    for (users, merchants, transactions) in [
        (1, 1, 0),
        (1, 1, 10),
        (2, 3, 5),
        (199, 5, 100),
        (200, 19, 50),
    ] {
        let cfg = PaymentsConfig {
            users,
            merchants,
            transactions,
            days: 1,
            ..Default::default()
        };
        let (dir, summary) = gen(&cfg);
        let txns = rows(
            dir.path(),
            "transactions.csv",
            &[
                "txn_id",
                "card_id",
                "merchant_id",
                "amount",
                "time",
                "channel",
                "is_fraud",
            ],
        );
        assert_eq!(txns.len() as u64, transactions);
        for t in &txns {
            assert!(num(&t[4]) >= cfg.start_time && num(&t[4]) < cfg.end_time());
        }
        if users < 200 {
            assert_eq!(summary.fraud_users, 0);
        }
    }
}

/// Two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical
/// distribution functions of `a` and `b`.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut gap) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        gap = gap.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    gap
}

/// The KS statistic two samples of these sizes from one distribution exceed with probability
/// 0.001.
fn ks_bound(n: usize, m: usize) -> f64 {
    1.949 * ((n + m) as f64 / (n * m) as f64).sqrt()
}

/// Fraud actors are drawn from the same distributions as everyone else for their own
/// attributes and identifier histories: only the planted relations (shared devices and IPs, an
/// attacker's device, transfers) set them apart.
#[test]
fn fraud_actors_own_attributes_match_honest_users() {
    let cfg = PaymentsConfig {
        users: 30_000,
        merchants: 300,
        transactions: 30_000,
        seed: 11,
        ..Default::default()
    };
    let (dir, summary) = gen(&cfg);
    let d = dir.path();
    let fraud = labels(d, "user");
    let users = rows(
        d,
        "users.csv",
        &["user_id", "country", "signup_time", "age"],
    );
    let signup: Vec<i64> = users.iter().map(|u| num(&u[2])).collect();
    let is_fraud = |u: &str| fraud.contains_key(u);
    let victims: BTreeSet<&str> = fraud
        .iter()
        .filter(|(_, r)| r.as_str() == "account_takeover")
        .map(|(u, _)| u.as_str())
        .collect();
    assert!(fraud.len() >= 250, "{} fraud users", fraud.len());
    assert!(victims.len() as u64 == summary.takeovers && victims.len() >= 20);

    let compare = |what: &str, values: &dyn Fn(&str) -> Vec<f64>| {
        let (mut bad, mut good) = (Vec::new(), Vec::new());
        for u in &users {
            let v = values(&u[0]);
            if is_fraud(&u[0]) {
                bad.extend(v);
            } else {
                good.extend(v);
            }
        }
        let ks = ks_statistic(&bad, &good);
        let bound = ks_bound(bad.len(), good.len());
        println!("{what}: KS {ks:.3} (bound {bound:.3})");
        assert!(
            ks < bound,
            "{what}: KS {ks:.3} between {} fraud and {} honest values exceeds {bound:.3}",
            bad.len(),
            good.len()
        );
    };

    compare("signup time", &|u| vec![signup[num(u) as usize] as f64]);
    compare("age", &|u| vec![num(&users[num(u) as usize][3]) as f64]);

    let issued: BTreeMap<String, i64> = rows(d, "cards.csv", &["card_id", "brand", "issued_time"])
        .into_iter()
        .map(|r| (r[0].clone(), num(&r[2])))
        .collect();
    let mut cards_of: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in rows(d, "card_owner.csv", &["user_id", "card_id", "since"]) {
        let age = issued[&r[1]] - signup[num(&r[0]) as usize];
        cards_of.entry(r[0].clone()).or_default().push(age);
    }
    compare("cards per user", &|u| vec![cards_of[u].len() as f64]);
    compare("card issued after signup", &|u| {
        cards_of[u].iter().map(|&t| t as f64).collect()
    });

    // Device and IP histories, leaving out the attacker's logins: the devices and IPs several
    // takeover victims share.
    for (file, column) in [("user_device.csv", "device_id"), ("user_ip.csv", "ip")] {
        let edges = rows(d, file, &["user_id", column, "first_seen"]);
        let mut victims_of: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &edges {
            if victims.contains(r[0].as_str()) {
                *victims_of.entry(&r[1]).or_default() += 1;
            }
        }
        let mut seen: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let mut attacker_logins = 0;
        for r in &edges {
            if victims_of.get(r[1].as_str()).is_some_and(|&n| n >= 2) {
                attacker_logins += 1;
                continue;
            }
            seen.entry(&r[0]).or_default().push(num(&r[2]));
        }
        assert_eq!(
            attacker_logins,
            victims.len(),
            "{file}: one login per victim"
        );
        let seen = &seen;
        compare(&format!("{file} per user"), &|u| {
            vec![seen.get(u).map_or(0, Vec::len) as f64]
        });
        compare(&format!("{file} first seen"), &|u| {
            seen.get(u)
                .into_iter()
                .flatten()
                .map(|&t| t as f64)
                .collect()
        });
        compare(&format!("{file} newest first seen"), &|u| {
            seen.get(u)
                .and_then(|t| t.iter().max())
                .map(|&t| vec![t as f64])
                .unwrap_or_default()
        });
    }
}
