//! The generic CRUD API: one implementation of list/count/autocomplete/get/create/update/
//! delete/deleteByIds, mounted per resource from a small descriptor (see `resources/`).

pub mod csv;
pub mod query;
pub mod sql;
