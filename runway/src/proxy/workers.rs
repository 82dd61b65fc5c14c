//! The proxy's worker threads: each runs a single-threaded tokio runtime, and each accepted
//! connection is handed to one of them (round robin) for its whole life.
//!
//! Why: a proxied request involves the client connection, the upstream connection and the
//! response body, each a task. On the daemon's multi-thread runtime those tasks woke each other
//! across threads (futex wake-ups, cache misses) and shared one locked upstream pool. On a
//! worker they all run on one thread, wake each other through a local run queue, and use the
//! thread's own upstream pool ([`super::pool`]). The listeners' accept loops stay on the
//! caller's runtime: accepting is rare next to requests on kept-alive connections.
//!
//! The threads exist only while a proxy does: a daemon without `[proxy]` routes starts none.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::pool;

/// How often each worker drops expired idle upstream connections.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Blocking-pool threads per worker (file loads, compression, streamed reads of big files).
const MAX_BLOCKING_PER_WORKER: usize = 8;

pub struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// `pool_idle_timeout` in milliseconds (changes on reload).
    idle_ms: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
}

impl Workers {
    /// Starts `count` worker threads (at least one); idle upstream connections expire after
    /// `idle_timeout`.
    pub fn start(count: usize, idle_timeout: Duration) -> std::io::Result<Workers> {
        let (stop, stop_rx) = watch::channel(false);
        let idle_ms = Arc::new(AtomicU64::new(millis(idle_timeout)));
        let mut handles = Vec::new();
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(MAX_BLOCKING_PER_WORKER)
                .thread_name(format!("runway-proxy-{index}-blocking"))
                .build()?;
            handles.push(runtime.handle().clone());
            let mut stop_rx = stop_rx.clone();
            let idle = idle_ms.clone();
            std::thread::Builder::new()
                .name(format!("runway-proxy-{index}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let mut tick = tokio::time::interval(SWEEP_EVERY);
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        loop {
                            tokio::select! {
                                _ = tick.tick() => {
                                    let ms = idle.load(Ordering::Relaxed);
                                    pool::sweep(Duration::from_millis(ms));
                                },
                                _ = stop_rx.wait_for(|stop| *stop) => break,
                            }
                        }
                    });
                    // Connections still open are dropped with the runtime, then the pool.
                    runtime.shutdown_background();
                    pool::clear();
                })?;
        }
        Ok(Workers {
            handles,
            next: AtomicUsize::new(0),
            idle_ms,
            stop,
        })
    }

    /// Runs `task` (a connection) on the next worker.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[index].spawn(task);
    }

    pub fn set_idle_timeout(&self, idle_timeout: Duration) {
        self.idle_ms.store(millis(idle_timeout), Ordering::Relaxed);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Drop for Workers {
    fn drop(&mut self) {
        // The threads stop on their own (not joined: this may run inside an async task).
        let _ = self.stop.send(true);
    }
}
