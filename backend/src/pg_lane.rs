//! A small pool of PostgreSQL connections for the one query every authenticated request makes
//! (the caller's user row, [`crate::auth::principal`]), kept apart from SeaORM's sqlx pool
//! because of what that pool does when a connection is returned.
//!
//! **Why.** sqlx 0.9 returns a connection by spawning a task that pings it first
//! (`PoolConnection::return_to_pool` → `ping`: a `Sync` message, then a wait for PostgreSQL's
//! `ReadyForQuery`). For a request that makes one query that is a second round trip: strace
//! of `/api/auth/me` counted two `sendto` to PostgreSQL per request, and PostgreSQL wakes,
//! reads, answers and sleeps twice (docs/benchmarks.md, issue 3). sqlx has no switch for it.
//!
//! **Rules.** A connection whose query completed ([`LaneConn::release`]) goes straight back to
//! the idle list: the protocol is at `ReadyForQuery`, nothing to flush. One dropped without
//! `release` (the query failed, or the request was cancelled midway) is closed instead, since
//! its protocol state is unknown. As in the main pool (`db.rs`), a connection idle for a second
//! or more is pinged before use, so a restarted server costs no request an error. Connections
//! are opened on demand with the main pool's connect options (the `sslmode` rule included), at
//! most `max` of them; waiting for one is bounded like the main pool's acquire.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{self, ConnectOptions, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Same bound as the main pool's `acquire_timeout` (db.rs): waiting plus connecting.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Same rule as the main pool's `test_before_acquire_if_idle_for` (db.rs).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub struct PgLane {
    options: PgConnectOptions,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Semaphore,
}

impl std::fmt::Debug for PgLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The options hold the password: never print them.
        f.debug_struct("PgLane")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A checked-out connection. Call [`LaneConn::release`] once its query has completed.
pub struct LaneConn<'a> {
    conn: Option<PgConnection>,
    lane: &'a PgLane,
    // Dropped after the connection is back on the idle list (fields drop after `release`'s
    // body), so a waiter woken by this permit finds it there.
    _permit: SemaphorePermit<'a>,
}

impl PgLane {
    pub fn new(options: PgConnectOptions, max: u32) -> PgLane {
        PgLane {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max.max(1) as usize),
        }
    }

    pub async fn acquire(&self) -> Result<LaneConn<'_>, sqlx::Error> {
        // Uncontended case first: a free permit and a recently used idle connection need no
        // wait, so no timer. `tokio::time::timeout` registers one with the runtime's timer
        // wheel (a shared lock) and removes it again, on every request.
        if let Ok(permit) = self.permits.try_acquire() {
            if let Some(conn) = self.pop_fresh() {
                return Ok(LaneConn {
                    conn: Some(conn),
                    lane: self,
                    _permit: permit,
                });
            }
            // A ping or a connect ahead: bounded like any other wait.
            return tokio::time::timeout(ACQUIRE_TIMEOUT, self.checkout(permit))
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?;
        }
        tokio::time::timeout(ACQUIRE_TIMEOUT, async {
            let permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| sqlx::Error::PoolClosed)?;
            self.checkout(permit).await
        })
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    /// The most recently released idle connection, if it was used less than
    /// [`PING_IF_IDLE_FOR`] ago (older ones are left for [`PgLane::checkout`] to ping).
    fn pop_fresh(&self) -> Option<PgConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.last() {
            Some((_, since)) if since.elapsed() < PING_IF_IDLE_FOR => idle.pop().map(|(c, _)| c),
            _ => None,
        }
    }

    async fn checkout<'a>(
        &'a self,
        permit: SemaphorePermit<'a>,
    ) -> Result<LaneConn<'a>, sqlx::Error> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some((conn, since)) if since.elapsed() < PING_IF_IDLE_FOR => conn,
            Some((mut conn, _)) => match conn.ping().await {
                Ok(()) => conn,
                // Broken (e.g. the server restarted): drop it and open a fresh one.
                Err(_) => self.options.connect().await?,
            },
            None => self.options.connect().await?,
        };
        Ok(LaneConn {
            conn: Some(conn),
            lane: self,
            _permit: permit,
        })
    }

    /// Idle connections right now (tests).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl LaneConn<'_> {
    pub fn conn(&mut self) -> &mut PgConnection {
        // Only `release` takes it, and that consumes `self`.
        self.conn
            .as_mut()
            .expect("connection present until release")
    }

    /// The query completed: keep the connection for the next request.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.lane
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((conn, Instant::now()));
        }
    }
}

impl Drop for LaneConn<'_> {
    fn drop(&mut self) {
        // Not released: close it (a Terminate message) off the request's path.
        if let Some(conn) = self.conn.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}
