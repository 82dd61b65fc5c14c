//! The app's database as an operator sees it: PostgreSQL connection parameters and probes,
//! provisioning a role and database (the seed's `setup_postgres_project.sh`), a private managed
//! cluster, and the backend's db commands run with the right environment.

pub mod commands;
pub mod managed;
pub mod pg;
pub mod provision;
