//! The app's API server as a library; `main.rs` only calls [`cli::main`].
//!
//! Map: [`config`] (typed, validated settings), [`db`] (pool), [`migration`] + [`entities`]
//! (schema), [`password`] (argon2id), [`error`] + [`extract`] (one JSON error shape),
//! [`app`] (router assembly: the merge point for new modules), [`server`] (listen, graceful
//! shutdown), [`cli`] (subcommands).

pub mod app;
pub mod auth;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod crud;
pub mod db;
pub mod entities;
pub mod error;
pub mod extract;
pub mod health;
pub mod layers;
pub mod mail;
pub mod memory;
pub mod migrate;
pub mod migration;
pub mod password;
pub mod pg_lane;
pub mod reset;
pub mod resources;
pub mod seed;
pub mod server;
pub mod state;
pub mod telemetry;
