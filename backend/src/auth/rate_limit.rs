//! Per-client rate limiting for the routes an attacker would hammer (signin, signup, the
//! email-sending routes): at most `max` requests per `window` per (route group, client IP),
//! as a GCRA so a client gets its burst back gradually rather than all at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The groups limited independently of each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Signin,
    Signup,
    Email,
}

pub struct RateLimiter {
    max: u32,
    window: Duration,
    /// Theoretical arrival time per key: when the key's allowance is fully spent.
    state: Mutex<HashMap<(Bucket, IpAddr), Instant>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("max", &self.max)
            .field("window", &self.window)
            .finish()
    }
}

/// Past this many keys, expired ones are swept on insert so memory stays bounded.
const SWEEP_THRESHOLD: usize = 10_000;

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: max.max(1),
            window,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok(())` when allowed; `Err(retry_after)` when the client must wait.
    pub fn check(&self, bucket: Bucket, ip: IpAddr) -> Result<(), Duration> {
        self.check_at(bucket, ip, Instant::now())
    }

    pub fn check_at(&self, bucket: Bucket, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let interval = self.window / self.max;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.len() > SWEEP_THRESHOLD {
            state.retain(|_, tat| *tat > now);
        }
        let tat = state.get(&(bucket, ip)).copied().unwrap_or(now).max(now);
        let next = tat + interval;
        let ahead = next - now;
        if ahead > self.window {
            return Err(ahead - self.window);
        }
        state.insert((bucket, ip), next);
        Ok(())
    }
}

/// Seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let rl = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rl.check_at(Bucket::Signin, ip(1), t0).is_ok());
        }
        let wait = rl.check_at(Bucket::Signin, ip(1), t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(12));
        assert_eq!(retry_after_secs(wait), 12);
    }

    #[test]
    fn allowance_comes_back_over_time() {
        let rl = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            rl.check_at(Bucket::Signin, ip(1), t0).unwrap();
        }
        assert!(
            rl.check_at(Bucket::Signin, ip(1), t0 + Duration::from_secs(11))
                .is_err()
        );
        assert!(
            rl.check_at(Bucket::Signin, ip(1), t0 + Duration::from_secs(12))
                .is_ok()
        );
        assert!(
            rl.check_at(Bucket::Signin, ip(1), t0 + Duration::from_secs(12))
                .is_err()
        );
    }

    #[test]
    fn clients_and_buckets_are_independent() {
        let rl = RateLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        rl.check_at(Bucket::Signin, ip(1), t0).unwrap();
        assert!(rl.check_at(Bucket::Signin, ip(1), t0).is_err());
        assert!(rl.check_at(Bucket::Signin, ip(2), t0).is_ok());
        assert!(rl.check_at(Bucket::Signup, ip(1), t0).is_ok());
        assert!(rl.check_at(Bucket::Email, ip(1), t0).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
