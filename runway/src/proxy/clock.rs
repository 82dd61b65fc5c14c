//! Cheap clock reads for what needs only coarse precision: the wall-clock second of the `date`
//! header and the access log's timestamp, and the age of idle pooled connections.
//!
//! Why: a precise read (`Instant::now`, `SystemTime::now`) reads the TSC through the vDSO,
//! about 50 ns on this kind of VM, and the proxied request path took nine of them; together
//! they were 2 % of the proxy's CPU per request (docs/benchmarks.md, issue 5). The `_COARSE`
//! clocks are a plain memory read in the vDSO, updated every kernel tick (at most 4 ms
//! behind), which is plenty for a one-second timestamp or a keep-alive timeout in seconds.

use std::time::Duration;

fn read(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the coarse clocks exist on every Linux
    // since 2.6.32 (on failure `now` stays zero, which only makes timestamps wrong, never UB).
    unsafe { libc::clock_gettime(clock, &mut now) };
    Duration::new(
        now.tv_sec.max(0) as u64,
        now.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Seconds since the Unix epoch (wall clock, to the last kernel tick).
pub fn unix_secs() -> u64 {
    read(libc::CLOCK_REALTIME_COARSE).as_secs()
}

/// A monotonic time stamp (to the last kernel tick), for ages measured in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Coarse(Duration);

impl Coarse {
    pub fn now() -> Coarse {
        Coarse(read(libc::CLOCK_MONOTONIC_COARSE))
    }

    /// Time since this stamp (zero if the clock has not moved on).
    pub fn elapsed(self) -> Duration {
        Coarse::now().0.saturating_sub(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clocks_follow_the_precise_ones() {
        let precise = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // One second of slack either way: the two reads can straddle a second.
        assert!(
            unix_secs().abs_diff(precise) <= 1,
            "{} vs {precise}",
            unix_secs()
        );
        let stamp = Coarse::now();
        std::thread::sleep(Duration::from_millis(50));
        let age = stamp.elapsed();
        // At least the sleep minus a tick or two (4 ms each at 250 Hz), not wildly more.
        assert!(age >= Duration::from_millis(30), "{age:?}");
        assert!(age < Duration::from_secs(5), "{age:?}");
    }
}
