//! Placeholder: see issue "Backend foundation".
pub mod auth;
pub mod crud;
pub mod mail;
