//! Test-only helpers, shared by every crate's integration tests:
//! - [`db`]: a fresh database per test on PostgreSQL and on SQLite, dropped afterwards;
//! - [`pg`]: finding a PostgreSQL server, or running a throwaway cluster (also one a test can
//!   stop and restart);
//! - [`process`]: spawning the real `backend` binary on port 0 and talking to it.
//!
//! Write a database test once and run it on both engines with [`db_test!`].

pub mod db;
pub mod pg;
pub mod process;

pub use db::{DbKind, TestDb};
pub use process::{Backend, Output, Running, TEST_ADMIN_PASS};

/// Is this a CI run? There, a test that needs PostgreSQL fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Define `NAME::postgres` and `NAME::sqlite` tests running `async fn BODY(db: TestDb)`.
///
/// ```ignore
/// async fn ready_answers(db: testkit::TestDb) { /* ... */ }
/// testkit::db_test!(ready, ready_answers);
/// ```
#[macro_export]
macro_rules! db_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::TestDb::postgres().await {
                    super::$body(db).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::TestDb::sqlite().await).await
            }
        }
    };
}
