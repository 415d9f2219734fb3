//! Small sampling primitives shared by the generators.
//!
//! They are hand-rolled rather than taken from `rand_distr` so the exact sequence of random draws
//! (and therefore the output bytes) is fixed by this crate alone.

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One independent random stream per generation phase, so changing how one phase draws numbers
/// does not shift the output of every later phase.
pub(crate) fn phase_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Walker/Vose alias table: O(1) weighted sampling over large tables (cards, merchants).
pub(crate) struct AliasTable {
    /// Probability of keeping slot `i`, scaled to `u32`; `u32::MAX` means "always keep".
    keep: Vec<u32>,
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds a table from non-negative weights with a positive sum.
    pub(crate) fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!(
            n > 0 && n <= u32::MAX as usize,
            "alias table size out of range"
        );
        let sum: f64 = weights.iter().sum();
        assert!(sum > 0.0, "alias table weights must have a positive sum");
        let scale = n as f64 / sum;
        let mut prob: Vec<f64> = weights.iter().map(|w| w * scale).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, &p) in prob.iter().enumerate() {
            if p < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        let mut done = vec![false; n];
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s] = l as u32;
            done[s] = true;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left over is (up to rounding) exactly full.
        let keep = prob
            .iter()
            .zip(&done)
            .map(|(&p, &d)| {
                if !d || p >= 1.0 {
                    u32::MAX
                } else {
                    (p * 4_294_967_296.0) as u32
                }
            })
            .collect();
        Self { keep, alias }
    }

    /// Draws one index; a single 64-bit draw supplies both the slot and the coin.
    #[inline]
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let r: u64 = rng.gen();
        let slot = (((r >> 32) * self.keep.len() as u64) >> 32) as usize;
        if (r as u32) < self.keep[slot] || self.keep[slot] == u32::MAX {
            slot
        } else {
            self.alias[slot] as usize
        }
    }
}

/// Standard normal draw (Box–Muller).
#[inline]
pub(crate) fn std_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.gen::<f64>(); // (0, 1], so ln is finite
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// Uniform float in `[lo, hi)`.
#[inline]
pub(crate) fn uniform<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// Produces `n` uniform values in `[0, 1)` already in ascending order, one at a time and in O(1)
/// memory, by drawing successive order statistics. This is what lets the big files be streamed
/// in time order without sorting.
pub(crate) struct SortedUniform {
    remaining: u64,
    current: f64,
}

impl SortedUniform {
    pub(crate) fn new(n: u64) -> Self {
        Self {
            remaining: n,
            current: 0.0,
        }
    }

    pub(crate) fn next<R: Rng>(&mut self, rng: &mut R) -> Option<f64> {
        if self.remaining == 0 {
            return None;
        }
        let u = 1.0 - rng.gen::<f64>();
        // The minimum of k uniforms on (current, 1) is current + (1 - current)(1 - U^(1/k)).
        let shrink = (u.ln() / self.remaining as f64).exp();
        let next = 1.0 - (1.0 - self.current) * shrink;
        self.current = next.max(self.current);
        self.remaining -= 1;
        Some(self.current.min(1.0 - f64::EPSILON))
    }
}

/// Relative activity per hour of day (UTC): quiet nights, busy lunch and evening.
const HOURLY: [f64; 24] = [
    0.30, 0.20, 0.15, 0.12, 0.12, 0.18, 0.35, 0.60, 0.85, 1.00, 1.05, 1.15, 1.30, 1.25, 1.10, 1.05,
    1.10, 1.25, 1.40, 1.45, 1.30, 1.05, 0.75, 0.50,
];

/// Maps a position in `[0, 1)` monotonically onto seconds of the generation window, following the
/// daily activity curve, so sorted uniforms become sorted, realistically clustered timestamps.
pub(crate) struct TimeWarp {
    days: u32,
    cumulative: [f64; 25],
}

impl TimeWarp {
    pub(crate) fn new(days: u32) -> Self {
        let mut cumulative = [0.0; 25];
        for h in 0..24 {
            cumulative[h + 1] = cumulative[h] + HOURLY[h];
        }
        Self { days, cumulative }
    }

    /// Offset in seconds from the window start, in `[0, days * 86400)`.
    #[inline]
    pub(crate) fn offset(&self, x: f64) -> i64 {
        let pos = x * f64::from(self.days);
        let day = (pos.floor() as i64).clamp(0, i64::from(self.days) - 1);
        let mass = (pos - day as f64).clamp(0.0, 1.0) * self.cumulative[24];
        let mut hour = 0;
        while hour < 23 && self.cumulative[hour + 1] <= mass {
            hour += 1;
        }
        let within = ((mass - self.cumulative[hour]) / HOURLY[hour]).clamp(0.0, 1.0);
        let second = ((within * 3600.0) as i64).min(3599);
        day * 86_400 + hour as i64 * 3600 + second
    }
}

/// Luhn check digit for a card number body (all digits but the last).
pub(crate) fn luhn_check_digit(body: u64) -> u64 {
    let mut sum = 0;
    let mut rest = body;
    // The check digit will sit to the right, so the body's last digit is the first one doubled.
    let mut double = true;
    while rest > 0 {
        let mut d = rest % 10;
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        rest /= 10;
    }
    (10 - sum % 10) % 10
}

/// Whether `number` is a non-empty string of ASCII digits with a valid Luhn check digit.
pub fn luhn_valid(number: &str) -> bool {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_numbers() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("41x1"));
        assert_eq!(luhn_check_digit(7_992_739_871), 3);
        assert_eq!(luhn_check_digit(411_111_111_111_111), 1);
    }

    #[test]
    fn alias_table_follows_weights() {
        let table = AliasTable::new(&[1.0, 0.0, 3.0, 6.0]);
        let mut rng = phase_rng(7, 0);
        let mut counts = [0u32; 4];
        for _ in 0..100_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let frac = |c: u32| f64::from(c) / 100_000.0;
        assert!((frac(counts[0]) - 0.1).abs() < 0.01, "{counts:?}");
        assert!((frac(counts[2]) - 0.3).abs() < 0.01, "{counts:?}");
        assert!((frac(counts[3]) - 0.6).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn sorted_uniform_is_sorted_and_spread() {
        let mut rng = phase_rng(1, 1);
        let mut s = SortedUniform::new(10_000);
        let mut last = 0.0;
        let mut below_half = 0;
        while let Some(x) = s.next(&mut rng) {
            assert!(x >= last && x < 1.0);
            if x < 0.5 {
                below_half += 1;
            }
            last = x;
        }
        assert!((4_700..5_300).contains(&below_half), "{below_half}");
        assert!(last > 0.99);
    }

    #[test]
    fn time_warp_is_monotone_and_bounded() {
        let warp = TimeWarp::new(3);
        let mut last = -1;
        for i in 0..100_000 {
            let t = warp.offset(f64::from(i) / 100_000.0);
            assert!(t >= last && t < 3 * 86_400);
            last = t;
        }
        assert!(warp.offset(1.0 - f64::EPSILON) < 3 * 86_400);
    }
}
