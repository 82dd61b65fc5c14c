//! The generic CRUD API: one implementation of list/count/autocomplete/get/create/update/
//! delete/deleteByIds with permission checks, mounted per resource from a [`Resource`]
//! descriptor (see `resources/`). A new entity needs its SeaORM model, a field table, its
//! write logic, and one `crud_router!` line.

pub mod csv;
pub mod engine;
pub mod handlers;
pub mod query;
pub mod sql;

use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::AppError;
use crate::state::AppState;

pub use engine::{By, Keys, Relation};
pub use query::{Field, Kind};
pub use sql::Table;

pub type Row = Map<String, Value>;

/// One CRUD resource.
pub trait Resource: Send + Sync + 'static {
    /// Plural name, used in messages and the CSV file name.
    const NAME: &'static str;
    /// Suffix of the permissions guarding it: `READ_<PERMISSION>` etc.
    const PERMISSION: &'static str;
    const TABLE: Table;
    /// Columns returned, filterable and sortable (the id is always returned).
    const FIELDS: &'static [Field];
    /// Whether a user may read and update the row whose id is their own (users only).
    const SELF_ACCESS: bool = false;

    /// The `data` object of create and update.
    type Data: DeserializeOwned + Send + 'static;

    /// The related objects to attach to the rows whose keys are given (`detail` for a
    /// single-row read), as JSON text; the engine writes them into each row.
    fn relations(
        state: &AppState,
        keys: &Keys<'_>,
        detail: bool,
    ) -> impl Future<Output = Result<Vec<Relation>, AppError>> + Send;

    fn create(
        state: &AppState,
        actor: &Principal,
        data: Self::Data,
    ) -> impl Future<Output = Result<Uuid, AppError>> + Send;

    /// `self_only`: the actor lacks UPDATE_X and is editing their own row.
    fn update(
        state: &AppState,
        actor: &Principal,
        id: Uuid,
        data: Self::Data,
        self_only: bool,
    ) -> impl Future<Output = Result<(), AppError>> + Send;

    /// Deletes (soft or hard) the rows that exist; returns how many.
    fn delete(
        state: &AppState,
        actor: &Principal,
        ids: Vec<Uuid>,
    ) -> impl Future<Output = Result<u64, AppError>> + Send;
}
