//! When to try a request again: exponential backoff with full jitter,
//! `Retry-After`, and an optional cap on requests per second.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rand::TryRng;

/// Exponential backoff with full jitter: before retry `n` (from 0), a wait
/// drawn uniformly from zero to `min(cap, base × 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Duration,
    /// The highest ceiling.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before retry `retry` (0 for the first), at least `floor`
    /// (the server's `Retry-After`, when it gave one).
    pub fn wait(&self, retry: u32, floor: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        let jittered = ceiling.mul_f64(random_fraction());
        floor.map_or(jittered, |floor| floor.max(jittered))
    }
}

/// A number in [0, 1) from the operating system's RNG (0.5 if it fails:
/// jitter only spreads retries out, it guards nothing).
fn random_fraction() -> f64 {
    let bits = rand::rngs::SysRng.try_next_u64().unwrap_or(1 << 63);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A `Retry-After` header value: delay-seconds, or an HTTP date (any of the
/// three forms of RFC 9110), as a wait from `now`. None if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Spaces requests out to at most `per_second`, across threads.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// At most `per_second` requests each second (at least one a day).
    pub fn new(per_second: f64) -> Pacer {
        let day = Duration::from_secs(86_400);
        Pacer {
            interval: Duration::try_from_secs_f64(1.0 / per_second).map_or(day, |i| i.min(day)),
            next: Mutex::new(None),
        }
    }

    /// Reserves the next free slot and returns how long to wait for it.
    pub fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = next.map_or(now, |at| at.max(now));
        *next = Some(slot + self.interval);
        slot - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_never_waits_less_than_retry_after() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for retry in 0..40 {
            let ceiling = Duration::from_millis(100 << retry.min(4)).min(backoff.cap);
            for _ in 0..20 {
                assert!(backoff.wait(retry, None) <= ceiling, "retry {retry}");
            }
        }
        // Full jitter: the waits spread over the range, not all at the ceiling.
        let waits: Vec<_> = (0..50).map(|_| backoff.wait(10, None)).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_millis(500)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(500)));
        let floor = Duration::from_secs(7);
        assert!(backoff.wait(0, Some(floor)) >= floor);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 10:00:00 GMT").unwrap();
        let wait = |v| parse_retry_after(v, now);
        assert_eq!(wait("3"), Some(Duration::from_secs(3)));
        assert_eq!(wait(" 120 "), Some(Duration::from_secs(120)));
        let in_90 = Some(Duration::from_secs(90));
        assert_eq!(wait("Sun, 29 Nov 2026 10:01:30 GMT"), in_90);
        assert_eq!(wait("Sunday, 29-Nov-26 10:01:30 GMT"), in_90);
        assert_eq!(wait("Sun Nov 29 10:01:30 2026"), in_90);
        assert_eq!(wait("Sun, 29 Nov 2026 09:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(wait("soon"), None);
        assert_eq!(wait("-1"), None);
    }

    #[test]
    fn a_pacer_slower_than_one_a_day_or_not_a_rate_still_works() {
        for rate in [1e-20, 0.0, -1.0, f64::NAN] {
            assert!(Pacer::new(rate).reserve() < Duration::from_secs(1));
        }
    }

    #[test]
    fn the_pacer_hands_out_evenly_spaced_slots() {
        let pacer = Pacer::new(10.0);
        let waits: Vec<_> = (0..4).map(|_| pacer.reserve()).collect();
        assert!(waits[0] < Duration::from_millis(5));
        for (i, wait) in waits.iter().enumerate().skip(1) {
            let expected = Duration::from_millis(100 * i as u64);
            assert!(
                wait.abs_diff(expected) < Duration::from_millis(20),
                "{i}: {wait:?}"
            );
        }
    }
}
