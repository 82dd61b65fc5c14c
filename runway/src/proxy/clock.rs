//! Cheap clock reads for what needs only coarse precision: the wall-clock second of the `date`
//! header and the access log's timestamp, and the age of idle pooled connections.
//!
//! Why: a precise read (`Instant::now`, `SystemTime::now`) reads the TSC through the vDSO,
//! about 50 ns on this kind of VM, and the proxied request path took nine of them; together
//! they were 2 % of the proxy's CPU per request (docs/benchmarks.md, issue 5). The `_COARSE`
//! clocks are a plain memory read in the vDSO, updated every kernel tick (at most 4 ms
//! behind), which is plenty for a one-second timestamp or a keep-alive timeout in seconds.
//!
//! Also here: [`poll_deadline`], the way a connection reuses one tokio timer for many waits.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

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

/// Polls `timer` as the alarm of a wait that ends at `deadline`: `Ready` once it has passed.
/// For a timer kept across the waits of one connection (the fast path's header read and
/// upstream read): a timer still set for an earlier wait fires early, and is then moved to
/// this wait's deadline; one set later than `deadline` is moved back first.
///
/// Why: arming a fresh tokio timer per wait inserts it into the timer wheel (a lock) and
/// removes it when dropped; with the upstream read timeout that was ~600 instructions per
/// proxied request, 4.5 % of the proxy's own (docs/benchmarks.md, issue 5, 2026-12-03
/// afternoon). Moving a registered timer later is an atomic update, and a timer that fires
/// at or after `deadline` proves it passed without a clock read (tokio never fires early).
pub fn poll_deadline(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if timer.deadline() >= deadline {
            return Poll::Ready(());
        }
        timer.as_mut().reset(deadline);
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

    /// Waits for `deadline` on `timer` the way the fast path does; returns when it was ready.
    async fn wait(timer: Pin<&mut Sleep>, deadline: Instant) -> Instant {
        let mut timer = timer;
        std::future::poll_fn(|cx| poll_deadline(timer.as_mut(), deadline, cx)).await;
        Instant::now()
    }

    #[tokio::test]
    async fn a_reused_timer_never_ends_a_wait_early_or_late() {
        let start = Instant::now();
        // Set for an earlier wait: fires early, is moved, and the wait ends at its deadline.
        let timer = tokio::time::sleep_until(start + Duration::from_millis(10));
        tokio::pin!(timer);
        let deadline = start + Duration::from_millis(80);
        assert!(wait(timer.as_mut(), deadline).await >= deadline);
        // Reused for a later wait (already fired): the same.
        let deadline = Instant::now() + Duration::from_millis(40);
        assert!(wait(timer.as_mut(), deadline).await >= deadline);
        // Set later than the wait's deadline: moved back, not waited for (60 s).
        timer
            .as_mut()
            .reset(Instant::now() + Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_millis(20);
        let ended = wait(timer.as_mut(), deadline).await;
        assert!(ended >= deadline);
        assert!(
            ended < deadline + Duration::from_secs(30),
            "waited for the old deadline"
        );
    }
}
