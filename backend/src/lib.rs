//! Placeholder: see issue "Backend foundation".
pub mod auth;
