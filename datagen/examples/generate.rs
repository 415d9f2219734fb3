//! Generates a payments graph and reports how long it took.
//!
//! `cargo run --release -p argus-datagen --example generate -- USERS MERCHANTS TRANSACTIONS OUT_DIR [SEED]`

use std::path::PathBuf;
use std::time::Instant;

use argus_datagen::{generate, PaymentsConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: generate USERS MERCHANTS TRANSACTIONS OUT_DIR [SEED]");
        std::process::exit(2);
    }
    let arg = |i: usize| -> u64 {
        args[i]
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {}", args[i]))
    };
    let config = PaymentsConfig {
        users: arg(0),
        merchants: arg(1),
        transactions: arg(2),
        seed: if args.len() > 4 { arg(4) } else { 42 },
        ..PaymentsConfig::default()
    };
    let out = PathBuf::from(&args[3]);
    let started = Instant::now();
    let mut last_phase = "";
    let summary = generate(&config, &out, &mut |p| {
        if p.phase != last_phase {
            eprintln!("{:>8.2}s {}", started.elapsed().as_secs_f64(), p.phase);
            last_phase = p.phase;
        }
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    let elapsed = started.elapsed();
    for (name, rows) in &summary.files {
        println!("{name:>18} {rows:>12}");
    }
    println!(
        "fraud: {} users, {} cards, {} transactions; {} rings, {} card-testing bursts, {} takeovers, {} mule chains, {} mule cycles",
        summary.fraud_users,
        summary.fraud_cards,
        summary.fraud_transactions,
        summary.rings,
        summary.card_testing_bursts,
        summary.takeovers,
        summary.mule_chains,
        summary.mule_cycles
    );
    println!("generated in {:.2} s", elapsed.as_secs_f64());
}
