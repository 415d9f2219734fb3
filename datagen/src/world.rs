//! The in-memory part of the world: users, cards, devices, IPs and merchants. These tables are
//! proportional to the number of users and merchants (not transactions) and are needed for
//! random access while the transaction stream is generated.

use std::collections::HashSet;

use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::fraud::UserPlan;
use crate::sample::{luhn_check_digit, std_normal, uniform};
use crate::PaymentsConfig;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
pub(crate) const MINUTE: i64 = 60;

/// Countries with rough relative weights of where users and merchants are.
pub(crate) const COUNTRIES: [(&str, f64); 18] = [
    ("US", 30.0),
    ("GB", 9.0),
    ("DE", 8.0),
    ("FR", 7.0),
    ("ES", 5.0),
    ("IT", 5.0),
    ("NL", 4.0),
    ("CA", 5.0),
    ("BR", 5.0),
    ("MX", 4.0),
    ("IN", 5.0),
    ("AU", 3.0),
    ("PL", 3.0),
    ("SE", 2.0),
    ("JP", 3.0),
    ("NG", 1.0),
    ("IE", 1.0),
    ("MT", 0.5),
];

pub(crate) const BRANDS: [&str; 3] = ["visa", "mastercard", "discover"];
const BRAND_WEIGHTS: [f64; 3] = [0.55, 0.35, 0.10];

pub(crate) const OSES: [&str; 5] = ["android", "ios", "windows", "macos", "linux"];
const OS_WEIGHTS: [f64; 5] = [0.45, 0.30, 0.15, 0.08, 0.02];

/// Payment channels, in the order of [`Category::channels`].
pub(crate) const CHANNELS: [&str; 4] = ["pos", "ecom", "atm", "moto"];
pub(crate) const ECOM: u8 = 1;

/// A merchant category: how common it is, what it charges and how it is paid.
pub(crate) struct Category {
    pub(crate) name: &'static str,
    /// Share of merchants in this category.
    share: f64,
    /// Median payment in currency units; amounts are log-normal around it.
    pub(crate) median: f64,
    pub(crate) sigma: f64,
    /// Weights of pos, ecom, atm, moto.
    pub(crate) channels: [f64; 4],
    /// Last word of merchant names.
    words: [&'static str; 4],
    /// Where stolen credentials are typically cashed out.
    pub(crate) risky: bool,
}

const fn cat(
    name: &'static str,
    share: f64,
    median: f64,
    sigma: f64,
    channels: [f64; 4],
    words: [&'static str; 4],
    risky: bool,
) -> Category {
    Category {
        name,
        share,
        median,
        sigma,
        channels,
        words,
        risky,
    }
}

pub(crate) const CATEGORIES: [Category; 16] = [
    cat(
        "grocery",
        14.0,
        35.0,
        0.7,
        [0.85, 0.15, 0.0, 0.0],
        ["Market", "Grocers", "Foods", "Fresh"],
        false,
    ),
    cat(
        "restaurants",
        14.0,
        28.0,
        0.6,
        [0.8, 0.2, 0.0, 0.0],
        ["Kitchen", "Diner", "Bistro", "Grill"],
        false,
    ),
    cat(
        "fuel",
        6.0,
        45.0,
        0.4,
        [0.97, 0.0, 0.0, 0.03],
        ["Fuel", "Gas", "Petrol", "Energy"],
        false,
    ),
    cat(
        "clothing",
        8.0,
        60.0,
        0.7,
        [0.6, 0.4, 0.0, 0.0],
        ["Apparel", "Outfitters", "Boutique", "Wear"],
        false,
    ),
    cat(
        "electronics",
        5.0,
        180.0,
        1.0,
        [0.4, 0.6, 0.0, 0.0],
        ["Electronics", "Tech", "Digital", "Gadgets"],
        true,
    ),
    cat(
        "travel",
        5.0,
        350.0,
        0.9,
        [0.1, 0.7, 0.0, 0.2],
        ["Travel", "Airways", "Tours", "Hotels"],
        true,
    ),
    cat(
        "gambling",
        2.0,
        60.0,
        1.1,
        [0.05, 0.95, 0.0, 0.0],
        ["Casino", "Bets", "Gaming", "Lotto"],
        true,
    ),
    cat(
        "digital_goods",
        5.0,
        12.0,
        0.9,
        [0.0, 1.0, 0.0, 0.0],
        ["Apps", "Games", "Media", "Downloads"],
        true,
    ),
    cat(
        "subscriptions",
        4.0,
        15.0,
        0.5,
        [0.0, 0.95, 0.0, 0.05],
        ["Streaming", "Plus", "Club", "Online"],
        false,
    ),
    cat(
        "pharmacy",
        6.0,
        22.0,
        0.7,
        [0.9, 0.1, 0.0, 0.0],
        ["Pharmacy", "Drugstore", "Health", "Chemists"],
        false,
    ),
    cat(
        "entertainment",
        5.0,
        30.0,
        0.7,
        [0.5, 0.5, 0.0, 0.0],
        ["Cinema", "Tickets", "Events", "Arcade"],
        false,
    ),
    cat(
        "utilities",
        3.0,
        90.0,
        0.5,
        [0.0, 0.7, 0.0, 0.3],
        ["Power", "Water", "Telecom", "Utilities"],
        false,
    ),
    cat(
        "home_improvement",
        5.0,
        85.0,
        0.9,
        [0.8, 0.2, 0.0, 0.0],
        ["Hardware", "Home", "Supply", "Builders"],
        false,
    ),
    cat(
        "jewelry",
        2.0,
        400.0,
        1.0,
        [0.7, 0.3, 0.0, 0.0],
        ["Jewelers", "Gems", "Gold", "Diamonds"],
        true,
    ),
    cat(
        "transport",
        5.0,
        18.0,
        0.6,
        [0.4, 0.6, 0.0, 0.0],
        ["Rides", "Transit", "Taxi", "Parking"],
        false,
    ),
    cat(
        "cash_withdrawal",
        7.0,
        100.0,
        0.6,
        [0.0, 0.0, 1.0, 0.0],
        ["ATM", "Cash Point", "Bank ATM", "Cash"],
        false,
    ),
];

/// Index of the category whose amounts are rounded to banknotes.
pub(crate) const CASH: u8 = 15;

const NAME_A: [&str; 20] = [
    "Blue", "North", "Golden", "Urban", "Maple", "Silver", "Sunrise", "Green", "Royal", "Cedar",
    "Summit", "River", "Oak", "Star", "Prime", "Metro", "Lucky", "Bright", "Union", "Coastal",
];
const NAME_B: [&str; 12] = [
    "Valley", "Point", "Street", "Harbor", "Lane", "Bay", "Park", "Hill", "Square", "Field",
    "Bridge", "Corner",
];

pub(crate) struct User {
    pub(crate) country: u8,
    pub(crate) signup: i64,
    pub(crate) age: u8,
}

pub(crate) fn gen_users<R: Rng>(cfg: &PaymentsConfig, rng: &mut R) -> Vec<User> {
    let countries = WeightedIndex::new(COUNTRIES.iter().map(|c| c.1)).expect("static weights");
    (0..cfg.users)
        .map(|_| {
            let country = countries.sample(rng) as u8;
            let signup = cfg.start_time - rng.gen_range(DAY..6 * 365 * DAY);
            let age = (40.0 + 14.0 * std_normal(rng)).round().clamp(18.0, 90.0) as u8;
            User {
                country,
                signup,
                age,
            }
        })
        .collect()
}

pub(crate) struct Card {
    /// The full 16-digit card number.
    pub(crate) number: u64,
    pub(crate) owner: u32,
    pub(crate) brand: u8,
    pub(crate) issued: i64,
    /// Multiplier on this cardholder's typical spend.
    pub(crate) spend: f32,
    /// Relative share of background transactions; heavy-tailed so some cards are busy.
    pub(crate) activity: f32,
}

pub(crate) struct Cards {
    pub(crate) list: Vec<Card>,
    /// Cards of user `u` are `list[start[u]..start[u + 1]]`.
    pub(crate) start: Vec<u32>,
}

impl Cards {
    pub(crate) fn of(&self, user: u32) -> std::ops::Range<usize> {
        self.start[user as usize] as usize..self.start[user as usize + 1] as usize
    }
}

/// Multiplier coprime to 10^9: `index * MIX + offset (mod 10^9)` is a bijection on account
/// numbers, so card numbers are unique without a lookup set yet do not look sequential.
const ACCOUNT_MIX: u64 = 387_420_489;
const ACCOUNTS: u64 = 1_000_000_000;

pub(crate) fn gen_cards<R: Rng>(cfg: &PaymentsConfig, users: &[User], rng: &mut R) -> Cards {
    let brands = WeightedIndex::new(BRAND_WEIGHTS).expect("static weights");
    let offset = rng.gen_range(0..ACCOUNTS);
    let mut list = Vec::with_capacity(users.len() * 13 / 10 + 1);
    let mut start = Vec::with_capacity(users.len() + 1);
    for (u, user) in users.iter().enumerate() {
        start.push(list.len() as u32);
        // 1 + Bernoulli(0.25) + Bernoulli(0.05): every user has a card, 1.3 on average.
        let n = 1 + u32::from(rng.gen_bool(0.25)) + u32::from(rng.gen_bool(0.05));
        let tenure = cfg.start_time - user.signup;
        for k in 0..n {
            let brand = brands.sample(rng) as u8;
            let bin: u64 = match brand {
                0 => rng.gen_range(400_000..500_000),
                1 => rng.gen_range(510_000..560_000),
                _ => rng.gen_range(601_100..601_200),
            };
            let account = (list.len() as u64 * ACCOUNT_MIX + offset) % ACCOUNTS;
            let body = bin * ACCOUNTS + account;
            let number = body * 10 + luhn_check_digit(body);
            // The first card arrives with the account, later ones any time since.
            let window = if k == 0 { tenure.min(30 * DAY) } else { tenure };
            let issued = user.signup + rng.gen_range(0..window.max(1));
            let spend = (0.5 * std_normal(rng)).exp() as f32;
            let pareto = (1.0 - rng.gen::<f64>()).powf(-1.0 / 1.3).min(500.0);
            list.push(Card {
                number,
                owner: u as u32,
                brand,
                issued,
                spend,
                activity: pareto as f32,
            });
        }
    }
    start.push(list.len() as u32);
    Cards { list, start }
}

/// Devices, IPs and which users have used them.
pub(crate) struct Network {
    /// OS index of each device; the device id is `d{DEVICE_BASE + index}`.
    pub(crate) devices: Vec<u8>,
    /// Each IP with its country.
    pub(crate) ips: Vec<(u32, u8)>,
    /// (user, device index, first seen).
    pub(crate) user_device: Vec<(u32, u32, i64)>,
    /// (user, ip index, first seen).
    pub(crate) user_ip: Vec<(u32, u32, i64)>,
}

/// Device ids start here so they all have the same natural-looking width.
pub(crate) const DEVICE_BASE: u64 = 100_000;

struct IpPool {
    taken: HashSet<u32>,
    /// Recently handed-out IPs, reused to model shared NAT and neighbourhood connections.
    recent: Vec<u32>,
    next_recent: usize,
}

impl IpPool {
    /// A new IP, offered to later users as a shared connection.
    fn fresh<R: Rng>(&mut self, net: &mut Network, country: u8, rng: &mut R) -> u32 {
        let index = self.unlisted(net, country, rng);
        if self.recent.len() < 64 {
            self.recent.push(index);
        } else {
            self.recent[self.next_recent] = index;
            self.next_recent = (self.next_recent + 1) % 64;
        }
        index
    }

    /// A new IP nobody else is handed by chance: the planted patterns' own connections.
    fn unlisted<R: Rng>(&mut self, net: &mut Network, country: u8, rng: &mut R) -> u32 {
        loop {
            let ip: u32 = rng.gen();
            let [a, b, _, d] = ip.to_be_bytes();
            let reserved = a == 0
                || a == 10
                || a == 127
                || a >= 224
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || d == 0
                || d == 255;
            if !reserved && self.taken.insert(ip) {
                net.ips.push((ip, country));
                return (net.ips.len() - 1) as u32;
            }
        }
    }

    /// A new IP most of the time, otherwise one recently used by someone else.
    fn pick<R: Rng>(&mut self, net: &mut Network, country: u8, rng: &mut R) -> u32 {
        if self.recent.is_empty() || rng.gen_bool(0.7) {
            self.fresh(net, country, rng)
        } else {
            self.recent[rng.gen_range(0..self.recent.len())]
        }
    }
}

fn new_device<R: Rng>(net: &mut Network, os: &WeightedIndex<f64>, rng: &mut R) -> u32 {
    net.devices.push(os.sample(rng) as u8);
    (net.devices.len() - 1) as u32
}

/// Share of users who start using a new device (and, separately, a new connection) during the
/// generated window: phones are replaced, people move and travel. A login from a new device in
/// the window is therefore common and says little on its own.
const NEW_IN_WINDOW: f64 = 0.1;

/// Builds devices and IPs user by user. Everyone, fraud actors included, goes through the same
/// steps with the same distributions of counts and first-seen times; a ring member's devices
/// or connections are simply the ring's shared ones, and a takeover adds the attacker's device
/// and connection, shared by all of that attacker's victims. Planted assets are created at the
/// position of the user who first needs them, so their ids and row positions are interleaved
/// with normal ones and give nothing away.
pub(crate) fn gen_network<R: Rng>(
    cfg: &PaymentsConfig,
    users: &[User],
    plan: &UserPlan,
    rng: &mut R,
) -> Network {
    let os = WeightedIndex::new(OS_WEIGHTS).expect("static weights");
    let countries = WeightedIndex::new(COUNTRIES.iter().map(|c| c.1)).expect("static weights");
    let n = users.len();
    let mut net = Network {
        devices: Vec::with_capacity(n * 12 / 10 + 16),
        ips: Vec::with_capacity(n * 9 / 10 + 16),
        user_device: Vec::with_capacity(n * 13 / 10 + 16),
        user_ip: Vec::with_capacity(n * 13 / 10 + 16),
    };
    let mut pool = IpPool {
        taken: HashSet::with_capacity(n),
        recent: Vec::with_capacity(64),
        next_recent: 0,
    };
    let window = i64::from(cfg.days) * DAY;
    // Shared (device, ip) of the household the next user joins, if any.
    let mut household: Option<(u32, u32)> = None;
    // First device and IP index of each ring and each attacker, once created.
    let mut ring_assets: Vec<Option<(u32, u32)>> = vec![None; plan.rings.len()];
    let mut attacker_assets: Vec<Option<(u32, u32)>> = vec![None; plan.attackers];
    for (u, user) in users.iter().enumerate() {
        let uid = u as u32;
        let tenure = (cfg.start_time - user.signup).max(1);
        let seen = |rng: &mut R| user.signup + rng.gen_range(0..tenure);

        // (ring, its first device and IP, the member's position in it).
        let ring = plan.ring_of.get(&uid).map(|&(r, k)| {
            let ring = &plan.rings[r];
            let assets = *ring_assets[r].get_or_insert_with(|| {
                let d0 = net.devices.len() as u32;
                for _ in 0..ring.devices {
                    new_device(&mut net, &os, rng);
                }
                let i0 = net.ips.len() as u32;
                for _ in 0..ring.ips {
                    pool.unlisted(&mut net, user.country, rng);
                }
                (d0, i0)
            });
            (ring, assets, k)
        });
        // The `slot`-th device (IP) of a ring member: members take the shared ones in turn, so
        // each is used by a quarter of the ring or more.
        let ring_device = |slot: u32| {
            ring.filter(|(r, _, _)| r.devices > slot)
                .map(|(r, (d0, _), k)| d0 + (k + slot) % r.devices)
        };
        let ring_ip = |slot: u32| {
            ring.filter(|(r, _, _)| r.ips > slot)
                .map(|(r, (_, i0), k)| i0 + (k + slot) % r.ips)
        };

        let joined = household.take();
        let device = match (ring_device(0), joined) {
            (Some(d), _) => d,
            (None, Some((d, _))) => d,
            (None, None) => new_device(&mut net, &os, rng),
        };
        let ip = match (ring_ip(0), joined) {
            (Some(i), _) => i,
            (None, Some((_, i))) => i,
            (None, None) => pool.pick(&mut net, user.country, rng),
        };
        let t = seen(rng);
        net.user_device.push((uid, device, t));
        net.user_ip.push((uid, ip, seen(rng)));
        if rng.gen_bool(0.2) {
            let d = match ring_device(1) {
                Some(d) => d,
                None => new_device(&mut net, &os, rng),
            };
            net.user_device.push((uid, d, seen(rng)));
        }
        if rng.gen_bool(0.2) {
            let i = match ring_ip(1) {
                Some(i) => i,
                None => pool.pick(&mut net, user.country, rng),
            };
            net.user_ip.push((uid, i, seen(rng)));
        }
        if rng.gen_bool(NEW_IN_WINDOW) {
            let d = new_device(&mut net, &os, rng);
            net.user_device
                .push((uid, d, cfg.start_time + rng.gen_range(0..window)));
        }
        if rng.gen_bool(NEW_IN_WINDOW) {
            let i = pool.pick(&mut net, user.country, rng);
            net.user_ip
                .push((uid, i, cfg.start_time + rng.gen_range(0..window)));
        }
        // Roughly one user in ten shares a device and home connection with the next user
        // (households of two, so nobody joins one and starts another). A ring member's devices
        // belong to the ring, so it starts none.
        if joined.is_none() && ring.is_none() && u + 1 < n && rng.gen_bool(0.1) {
            household = Some((device, ip));
        }

        if let Some(&(a, t)) = plan.takeover_of.get(&uid) {
            // The attacker logs in from its own device and connection, the same for each of
            // its victims.
            let (d, i) = *attacker_assets[a].get_or_insert_with(|| {
                let d = new_device(&mut net, &os, rng);
                let country = countries.sample(rng) as u8;
                (d, pool.unlisted(&mut net, country, rng))
            });
            net.user_device.push((uid, d, t));
            net.user_ip.push((uid, i, t));
        }
    }
    net
}

pub(crate) struct Merchant {
    pub(crate) category: u8,
    pub(crate) country: u8,
    /// Indices into the name word lists.
    pub(crate) name: [u8; 3],
    /// Share of background traffic (Zipf over a random rank).
    pub(crate) weight: f64,
}

impl Merchant {
    pub(crate) fn write_name(&self, out: &mut crate::out::CsvOut) {
        let words = &CATEGORIES[self.category as usize].words;
        out.text(NAME_A[self.name[0] as usize])
            .text(" ")
            .text(NAME_B[self.name[1] as usize])
            .text(" ")
            .text(words[self.name[2] as usize]);
    }
}

pub(crate) fn gen_merchants<R: Rng>(cfg: &PaymentsConfig, rng: &mut R) -> Vec<Merchant> {
    let categories = WeightedIndex::new(CATEGORIES.iter().map(|c| c.share)).expect("static");
    let countries = WeightedIndex::new(COUNTRIES.iter().map(|c| c.1)).expect("static weights");
    let m = cfg.merchants as usize;
    let mut ranks: Vec<u32> = (0..m as u32).collect();
    ranks.shuffle(rng);
    ranks
        .into_iter()
        .map(|rank| Merchant {
            category: categories.sample(rng) as u8,
            country: countries.sample(rng) as u8,
            name: [
                rng.gen_range(0..NAME_A.len()) as u8,
                rng.gen_range(0..NAME_B.len()) as u8,
                rng.gen_range(0..4),
            ],
            weight: (f64::from(rank) + 1.0).powf(-1.05),
        })
        .collect()
}

/// A log-normal amount in cents for a payment in category `cat`, scaled by the card's `spend`.
#[inline]
pub(crate) fn payment_cents<R: Rng>(cat: u8, spend: f32, rng: &mut R) -> u64 {
    let c = &CATEGORIES[cat as usize];
    let amount = c.median * f64::from(spend) * (c.sigma * std_normal(rng)).exp();
    if cat == CASH {
        // Cash machines dispense banknotes.
        return ((amount / 20.0).round().max(1.0) as u64) * 2_000;
    }
    ((amount * 100.0).round() as u64).max(100)
}

/// Share of ordinary person-to-person transfers that move a large sum (rent, a deposit, a used
/// car): [`large_transfer_cents`].
pub(crate) const LARGE_TRANSFER_SHARE: f64 = 0.05;

/// A large transfer in cents: log-uniform between 300 and 9,500. Mule chains move sums of the
/// same size, so a large transfer alone does not single one out; the money passing through
/// within hours does.
#[inline]
pub(crate) fn large_transfer_cents<R: Rng>(rng: &mut R) -> u64 {
    let (low, high) = (300.0f64, 9_500.0f64);
    let amount = (low.ln() + rng.gen::<f64>() * (high / low).ln()).exp();
    (amount * 100.0).round() as u64
}

/// A channel for a payment in category `cat`.
#[inline]
pub(crate) fn channel<R: Rng>(cat: u8, rng: &mut R) -> u8 {
    let w = &CATEGORIES[cat as usize].channels;
    let mut x = uniform(rng, 0.0, w.iter().sum());
    for (i, &p) in w.iter().enumerate() {
        if x < p {
            return i as u8;
        }
        x -= p;
    }
    w.iter().rposition(|&p| p > 0.0).unwrap_or(0) as u8
}
