//! The two large files, generated as time-ordered streams in constant memory: background
//! traffic arrives as sorted uniform times warped onto a daily activity curve, and the small,
//! pre-sorted list of planted events is merged in.

use std::path::Path;

use rand::Rng;

use crate::fraud::{FraudTransfer, FraudTxn, Reason};
use crate::out::CsvOut;
use crate::sample::{std_normal, AliasTable, SortedUniform, TimeWarp};
use crate::world::{
    channel, large_transfer_cents, payment_cents, Cards, Merchant, CHANNELS, LARGE_TRANSFER_SHARE,
};
use crate::{GenError, PaymentsConfig, Progress};

/// A written file: its name and number of data rows.
pub(crate) type FileEntry = (String, u64);

/// Row ids of the planted events in a stream, with why each is fraudulent.
pub(crate) type Planted = Vec<(u64, Reason)>;

/// Background timestamps in non-decreasing order.
struct Clock {
    positions: SortedUniform,
    warp: TimeWarp,
    start: i64,
    last: i64,
}

impl Clock {
    fn new(cfg: &PaymentsConfig, n: u64) -> Self {
        Self {
            positions: SortedUniform::new(n),
            warp: TimeWarp::new(cfg.days),
            start: cfg.start_time,
            last: cfg.start_time,
        }
    }

    fn next<R: Rng>(&mut self, rng: &mut R) -> Option<i64> {
        let x = self.positions.next(rng)?;
        // Guard against rounding at hour and day boundaries.
        self.last = self.last.max(self.start + self.warp.offset(x));
        Some(self.last)
    }
}

/// Writes `transactions.csv`; returns the file entry and the ids of the planted payments.
pub(crate) fn write_transactions<R: Rng>(
    cfg: &PaymentsConfig,
    dir: &Path,
    cards: &Cards,
    merchants: &[Merchant],
    fraud: &[FraudTxn],
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<(FileEntry, Planted), GenError> {
    const PHASE: &str = "transactions";
    let total = cfg.transactions;
    let activity: Vec<f64> = cards.list.iter().map(|c| f64::from(c.activity)).collect();
    let card_pick = AliasTable::new(&activity);
    drop(activity);
    let weights: Vec<f64> = merchants.iter().map(|m| m.weight).collect();
    let merchant_pick = AliasTable::new(&weights);
    drop(weights);

    let mut out = CsvOut::create(
        dir,
        "transactions.csv",
        "txn_id,card_id,merchant_id,amount,time,channel,is_fraud",
    )?;
    progress(Progress {
        phase: PHASE,
        done: 0,
        total,
    });
    let planted = (fraud.len() as u64).min(total) as usize;
    let mut clock = Clock::new(cfg, total - planted as u64);
    let mut next_background = clock.next(rng);
    let mut next_fraud = 0;
    let mut ids = Vec::with_capacity(planted);
    for id in 0..total {
        out.text("t").u64(id).c();
        let fraud_first =
            next_fraud < planted && next_background.is_none_or(|t| fraud[next_fraud].time <= t);
        if fraud_first {
            let f = &fraud[next_fraud];
            next_fraud += 1;
            ids.push((id, f.reason));
            out.u64(cards.list[f.card as usize].number)
                .c()
                .u64(u64::from(f.merchant))
                .c()
                .cents(f.cents)
                .c()
                .i64(f.time)
                .c()
                .text(CHANNELS[f.channel as usize])
                .c()
                .text("1");
        } else {
            let time = next_background.expect("rows left imply background left");
            next_background = clock.next(rng);
            let card = &cards.list[card_pick.sample(rng)];
            let merchant = merchant_pick.sample(rng);
            let cat = merchants[merchant].category;
            out.u64(card.number)
                .c()
                .u64(merchant as u64)
                .c()
                .cents(payment_cents(cat, card.spend, rng))
                .c()
                .i64(time)
                .c()
                .text(CHANNELS[channel(cat, rng) as usize])
                .c()
                .text("0");
        }
        out.end_row()?;
        out.tick(PHASE, total, progress);
    }
    if !total.is_multiple_of(crate::out::PROGRESS_EVERY) {
        progress(Progress {
            phase: PHASE,
            done: total,
            total,
        });
    }
    Ok((out.finish()?, ids))
}

/// Writes `transfers.csv`: `background` ordinary person-to-person transfers plus the planted
/// ones; returns the file entry and the ids of the planted transfers.
pub(crate) fn write_transfers<R: Rng>(
    cfg: &PaymentsConfig,
    dir: &Path,
    background: u64,
    fraud: &[FraudTransfer],
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<(FileEntry, Planted), GenError> {
    const PHASE: &str = "transfers";
    let users = cfg.users;
    // Transfers need two distinct people.
    let background = if users < 2 { 0 } else { background };
    let total = background + fraud.len() as u64;
    let mut out = CsvOut::create(
        dir,
        "transfers.csv",
        "transfer_id,src_user,dst_user,amount,time",
    )?;
    progress(Progress {
        phase: PHASE,
        done: 0,
        total,
    });
    let mut clock = Clock::new(cfg, background);
    let mut next_background = clock.next(rng);
    let mut next_fraud = 0;
    let mut ids = Vec::with_capacity(fraud.len());
    for id in 0..total {
        out.text("tr").u64(id).c();
        let fraud_first =
            next_fraud < fraud.len() && next_background.is_none_or(|t| fraud[next_fraud].time <= t);
        if fraud_first {
            let f = &fraud[next_fraud];
            next_fraud += 1;
            ids.push((id, f.reason));
            out.u64(u64::from(f.src))
                .c()
                .u64(u64::from(f.dst))
                .c()
                .cents(f.cents)
                .c()
                .i64(f.time);
        } else {
            let time = next_background.expect("rows left imply background left");
            next_background = clock.next(rng);
            let src = rng.gen_range(0..users);
            // Most transfers go to a small circle of contacts, the rest to anyone.
            let dst = if rng.gen_bool(0.6) {
                (src + rng.gen_range(1..=(users - 1).min(20))) % users
            } else {
                (src + rng.gen_range(1..users)) % users
            };
            let amount = 40.0 * std_normal(rng).exp();
            let cents = if rng.gen_bool(LARGE_TRANSFER_SHARE) {
                large_transfer_cents(rng)
            } else if rng.gen_bool(0.3) {
                // People like round numbers.
                (amount.round().max(1.0) as u64) * 100
            } else {
                ((amount * 100.0).round() as u64).max(100)
            };
            out.u64(src).c().u64(dst).c().cents(cents).c().i64(time);
        }
        out.end_row()?;
        out.tick(PHASE, total, progress);
    }
    if !total.is_multiple_of(crate::out::PROGRESS_EVERY) {
        progress(Progress {
            phase: PHASE,
            done: total,
            total,
        });
    }
    Ok((out.finish()?, ids))
}
