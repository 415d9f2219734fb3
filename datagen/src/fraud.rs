//! Planting fraud: who is involved (decided before devices are generated, because rings and
//! takeovers leave traces there) and the fraudulent payments and transfers themselves, which are
//! few enough to be generated up front, sorted by time and merged into the background streams.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::Rng;

use crate::world::{
    large_transfer_cents, payment_cents, Cards, Merchant, User, CATEGORIES, DAY, ECOM, HOUR, MINUTE,
};
use crate::PaymentsConfig;

/// Why an entity is labelled fraudulent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reason {
    Ring = 1,
    CardTesting = 2,
    AccountTakeover = 3,
    MuleChain = 4,
    MuleCycle = 5,
}

impl Reason {
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Ring),
            2 => Some(Self::CardTesting),
            3 => Some(Self::AccountTakeover),
            4 => Some(Self::MuleChain),
            5 => Some(Self::MuleCycle),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::CardTesting => "card_testing",
            Self::AccountTakeover => "account_takeover",
            Self::MuleChain => "mule_chain",
            Self::MuleCycle => "mule_cycle",
        }
    }
}

/// Most payments a ring member, a takeover and a card-testing burst can make; used to keep
/// planted fraud within a fixed share of the transactions.
const RING_TXNS_PER_MEMBER: u32 = 4;
const MAX_RING_SIZE: usize = 15;
const MAX_TAKEOVER_TXNS: u64 = 5;
const MAX_BURST: u64 = 60;
const MIN_BURST: u64 = 20;

/// How many instances of each pattern to plant.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) rings: u64,
    /// The first `rings_paying` rings also make payments.
    pub(crate) rings_paying: u64,
    pub(crate) bursts: u64,
    pub(crate) takeovers: u64,
    pub(crate) chains: u64,
    pub(crate) cycles: u64,
}

impl Counts {
    pub(crate) fn for_config(cfg: &PaymentsConfig) -> Self {
        let u = cfg.users;
        // Scale with the population, but plant every kind at least once in any usable graph.
        let at_least_one = |x: u64| if u >= 200 { x.max(1) } else { x };
        let rings = at_least_one(u / 2_000);
        let mut bursts = at_least_one(u / 1_500);
        let mut takeovers = at_least_one(u / 1_000);
        if cfg.merchants < MIN_BURST {
            bursts = 0;
        }
        // Planted payments never exceed a quarter of all transactions.
        let mut budget = cfg.transactions / 4;
        takeovers = takeovers.min(budget / MAX_TAKEOVER_TXNS);
        budget -= takeovers * MAX_TAKEOVER_TXNS;
        bursts = bursts.min(budget / MAX_BURST);
        budget -= bursts * MAX_BURST;
        let per_ring = MAX_RING_SIZE as u64 * u64::from(RING_TXNS_PER_MEMBER);
        let rings_paying = rings.min(budget / per_ring);
        Self {
            rings,
            rings_paying,
            bursts,
            takeovers,
            chains: at_least_one(u / 2_500),
            cycles: at_least_one(u / 2_500),
        }
    }
}

pub(crate) struct RingPlan {
    pub(crate) members: Vec<u32>,
    /// Number of shared devices / IPs the members log in from instead of their own (at least
    /// one of the two is non-zero).
    pub(crate) devices: u32,
    pub(crate) ips: u32,
    /// When the ring starts paying.
    pub(crate) activation: i64,
}

pub(crate) struct MulePath {
    pub(crate) users: Vec<u32>,
    pub(crate) cycle: bool,
}

/// Which users take part in which planted pattern. Fraud actors are ordinary users (their own
/// attributes, cards and identifier histories come from the same generation path as everyone
/// else's); only what the pattern adds connects them: shared devices and IPs, an attacker's
/// device, transfers between them.
pub(crate) struct UserPlan {
    pub(crate) counts: Counts,
    /// `Reason` code per user, 0 for honest users.
    pub(crate) user_reason: Vec<u8>,
    pub(crate) rings: Vec<RingPlan>,
    /// Lookup only (never iterated for output order): ring and position within it.
    pub(crate) ring_of: BTreeMap<u32, (usize, u32)>,
    pub(crate) takeovers: Vec<(u32, i64)>,
    /// Number of attackers behind the takeovers; each logs into all of its victims' accounts
    /// from the same device and connection.
    pub(crate) attackers: usize,
    /// Lookup only: attacker and login time of each victim.
    pub(crate) takeover_of: BTreeMap<u32, (usize, i64)>,
    pub(crate) mules: Vec<MulePath>,
}

/// Picks a user not yet involved in any pattern.
fn free_user<R: Rng>(reasons: &[u8], rng: &mut R) -> u32 {
    let n = reasons.len();
    for _ in 0..1_000 {
        let u = rng.gen_range(0..n);
        if reasons[u] == 0 {
            return u as u32;
        }
    }
    // Only reachable when fraud is dense; fall back to a scan from a random point.
    let from = rng.gen_range(0..n);
    (0..n)
        .map(|i| (from + i) % n)
        .find(|&u| reasons[u] == 0)
        .expect("counts keep fraud users well below the population") as u32
}

/// Most victims one attacker takes over.
const MAX_VICTIMS: usize = 4;

/// Chooses the fraudulent users among the generated ones, leaving their attributes alone.
pub(crate) fn plan_users<R: Rng>(cfg: &PaymentsConfig, users: &[User], rng: &mut R) -> UserPlan {
    let counts = Counts::for_config(cfg);
    let window = i64::from(cfg.days) * DAY;
    let mut reasons = vec![0u8; users.len()];
    let mut plan = UserPlan {
        counts,
        user_reason: Vec::new(),
        rings: Vec::new(),
        ring_of: BTreeMap::new(),
        takeovers: Vec::new(),
        attackers: 0,
        takeover_of: BTreeMap::new(),
        mules: Vec::new(),
    };

    for r in 0..counts.rings {
        let size = rng.gen_range(5..=MAX_RING_SIZE);
        let members: Vec<u32> = (0..size)
            .map(|_| {
                let u = free_user(&reasons, rng);
                reasons[u as usize] = Reason::Ring as u8;
                u
            })
            .collect();
        // Few enough shared assets that each is used by at least four members (see
        // `world::gen_network`): that sharing is what gives a ring away.
        let most = (size as u32 / 4).clamp(1, 3);
        let (devices, ips) = match rng.gen_range(0..4) {
            0 => (rng.gen_range(1..=most), 0),
            1 => (0, rng.gen_range(1..=most)),
            _ => (rng.gen_range(1..=most), rng.gen_range(1..=most)),
        };
        for (k, &m) in members.iter().enumerate() {
            plan.ring_of.insert(m, (r as usize, k as u32));
        }
        plan.rings.push(RingPlan {
            members,
            devices,
            ips,
            activation: cfg.start_time + rng.gen_range(0..window * 3 / 4),
        });
    }
    for _ in 0..counts.takeovers {
        let u = free_user(&reasons, rng);
        reasons[u as usize] = Reason::AccountTakeover as u8;
        // Late enough that the card has a history, early enough for the spree to fit.
        let t = cfg.start_time + rng.gen_range(window / 4..window - 8 * HOUR);
        plan.takeovers.push((u, t));
    }
    // Attackers work through a list of stolen logins: consecutive victims share one, until it
    // has taken over 2 to MAX_VICTIMS accounts.
    let mut left = plan.takeovers.len();
    let mut next = 0;
    while left > 0 {
        let take = if left <= MAX_VICTIMS {
            left
        } else {
            rng.gen_range(2..=MAX_VICTIMS.min(left - 2))
        };
        for &(u, t) in &plan.takeovers[next..next + take] {
            plan.takeover_of.insert(u, (plan.attackers, t));
        }
        plan.attackers += 1;
        next += take;
        left -= take;
    }
    for i in 0..counts.chains + counts.cycles {
        let cycle = i >= counts.chains;
        let reason = if cycle {
            Reason::MuleCycle
        } else {
            Reason::MuleChain
        };
        let len = rng.gen_range(3..=6);
        let users: Vec<u32> = (0..len)
            .map(|_| {
                let u = free_user(&reasons, rng);
                reasons[u as usize] = reason as u8;
                u
            })
            .collect();
        plan.mules.push(MulePath { users, cycle });
    }
    plan.user_reason = reasons;
    plan
}

/// A planted payment.
pub(crate) struct FraudTxn {
    pub(crate) time: i64,
    pub(crate) card: u32,
    pub(crate) merchant: u32,
    pub(crate) cents: u64,
    pub(crate) channel: u8,
    pub(crate) reason: Reason,
}

/// A planted transfer.
pub(crate) struct FraudTransfer {
    pub(crate) time: i64,
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) cents: u64,
    pub(crate) reason: Reason,
}

/// Everything planted after cards and merchants exist.
pub(crate) struct Events {
    /// Sorted by time.
    pub(crate) txns: Vec<FraudTxn>,
    /// Sorted by time.
    pub(crate) transfers: Vec<FraudTransfer>,
    /// `Reason` code per card, 0 for legitimate cards.
    pub(crate) card_reason: Vec<u8>,
    pub(crate) bursts: u64,
}

pub(crate) fn plan_events<R: Rng>(
    cfg: &PaymentsConfig,
    cards: &Cards,
    merchants: &[Merchant],
    plan: &UserPlan,
    rng: &mut R,
) -> Events {
    let end = cfg.start_time + i64::from(cfg.days) * DAY;
    let window = end - cfg.start_time;
    let mut card_reason = vec![0u8; cards.list.len()];
    let mut txns = Vec::new();
    let mut transfers = Vec::new();

    // Where stolen value is cashed out; any merchant if the sample has none of those.
    let mut risky: Vec<u32> = (0..merchants.len() as u32)
        .filter(|&m| CATEGORIES[merchants[m as usize].category as usize].risky)
        .collect();
    if risky.is_empty() {
        risky = (0..merchants.len() as u32).collect();
    }
    // Card testers look for web checkouts.
    let mut online: Vec<u32> = (0..merchants.len() as u32)
        .filter(|&m| CATEGORIES[merchants[m as usize].category as usize].channels[1] >= 0.3)
        .collect();
    if (online.len() as u64) < MAX_BURST {
        online = (0..merchants.len() as u32).collect();
    }

    for (r, ring) in plan.rings.iter().enumerate() {
        for &m in &ring.members {
            for c in cards.of(m) {
                card_reason[c] = Reason::Ring as u8;
            }
            if (r as u64) < plan.counts.rings_paying {
                let range = cards.of(m);
                for _ in 0..rng.gen_range(1..=RING_TXNS_PER_MEMBER) {
                    let card = rng.gen_range(range.clone());
                    let merchant = *risky.choose(rng).expect("non-empty");
                    let cat = merchants[merchant as usize].category;
                    let cents = payment_cents(cat, 1.0, rng) * rng.gen_range(2..=5);
                    txns.push(FraudTxn {
                        time: (ring.activation + rng.gen_range(2 * HOUR..4 * DAY)).min(end - 1),
                        card: card as u32,
                        merchant,
                        cents,
                        channel: ECOM,
                        reason: Reason::Ring,
                    });
                }
            }
        }
    }

    for &(user, t) in &plan.takeovers {
        let card = rng.gen_range(cards.of(user));
        card_reason[card] = Reason::AccountTakeover as u8;
        // "Usual" is the card's typical spend; the attacker spends 10-50 times that.
        let usual = 60.0 * f64::from(cards.list[card].spend);
        for _ in 0..rng.gen_range(2..=MAX_TAKEOVER_TXNS) {
            let merchant = *risky.choose(rng).expect("non-empty");
            let amount = usual * rng.gen_range(10.0..50.0);
            txns.push(FraudTxn {
                time: (t + rng.gen_range(10 * MINUTE..6 * HOUR)).min(end - 1),
                card: card as u32,
                merchant,
                cents: (amount * 100.0).round() as u64,
                channel: ECOM,
                reason: Reason::AccountTakeover,
            });
        }
    }

    let mut bursts = 0;
    for _ in 0..plan.counts.bursts {
        // A stolen card of an otherwise honest customer.
        let Some(card) = (0..1_000).find_map(|_| {
            let c = rng.gen_range(0..cards.list.len());
            let owner = cards.list[c].owner as usize;
            (card_reason[c] == 0 && plan.user_reason[owner] == 0).then_some(c)
        }) else {
            continue;
        };
        card_reason[card] = Reason::CardTesting as u8;
        bursts += 1;
        let size = rng
            .gen_range(MIN_BURST..=MAX_BURST)
            .min(online.len() as u64) as usize;
        let chosen: Vec<u32> = online.choose_multiple(rng, size).copied().collect();
        let mut t = cfg.start_time + rng.gen_range(0..window - 15 * MINUTE);
        for merchant in chosen {
            txns.push(FraudTxn {
                time: t,
                card: card as u32,
                merchant,
                cents: rng.gen_range(50..=500),
                channel: ECOM,
                reason: Reason::CardTesting,
            });
            t += rng.gen_range(1..=8);
        }
    }

    for path in &plan.mules {
        let hops = (if path.cycle {
            path.users.len()
        } else {
            path.users.len() - 1
        }) as i64;
        let reason = if path.cycle {
            Reason::MuleCycle
        } else {
            Reason::MuleChain
        };
        // A cycle closes within a day; a chain may take longer. Either fits in half the window.
        let (min_gap, max_gap) = if path.cycle {
            (2 * MINUTE, (23 * HOUR / hops).min(window / 2 / hops))
        } else {
            (10 * MINUTE, (8 * HOUR).min(window / 2 / hops))
        };
        let mut t = cfg.start_time + rng.gen_range(0..window - hops * max_gap);
        // A sum ordinary large transfers also move (see `world::large_transfer_cents`).
        let mut cents = large_transfer_cents(rng);
        for h in 0..hops as usize {
            let src = path.users[h];
            let dst = path.users[(h + 1) % path.users.len()];
            transfers.push(FraudTransfer {
                time: t,
                src,
                dst,
                cents,
                reason,
            });
            t += rng.gen_range(min_gap..=max_gap);
            // Each mule keeps a small cut.
            cents = (cents as f64 * rng.gen_range(0.90..0.98)) as u64;
        }
    }

    // Stable, so simultaneous events keep their planned order.
    txns.sort_by_key(|t| t.time);
    transfers.sort_by_key(|t| t.time);
    Events {
        txns,
        transfers,
        card_reason,
        bursts,
    }
}
