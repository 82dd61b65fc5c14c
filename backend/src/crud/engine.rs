//! Reading rows generically: run the SQL from [`super::sql`], decode each row by the field
//! table's kinds, let the resource name its relations ([`Relation`]), then either write a list
//! page straight into JSON bytes ([`page_json`]) or build JSON objects ([`Row`]) for single
//! rows and CSV.
//!
//! The list page skips the per-row `serde_json::Map` (a `String` key and a `Value` per cell, a
//! role object copied into every row): building those was most of the server's CPU on
//! `GET /api/users` (docs/benchmarks.md, issue 3). Both paths give the same JSON: keys in
//! sorted order (what `serde_json::Map` gives without `preserve_order`), the same values.

use std::collections::HashMap;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, QueryStatementBuilder};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use serde_json::Value;
use uuid::Uuid;

use super::query::{Field, Kind, ListQuery};
use super::sql::{self, col};
use super::{Resource, Row};
use crate::error::AppError;
use crate::state::AppState;

/// One decoded cell.
enum Cell {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    DateTime(DateTime<Utc>),
    Uuid(Uuid),
}

/// A row as read: its id, then the cells of the fields other than `id`, in field-table order.
pub struct Decoded {
    pub id: Uuid,
    cells: Vec<Cell>,
}

/// The fields other than `id`, in the column order [`sql::select_fields`] writes.
fn data_fields(fields: &'static [Field]) -> impl Iterator<Item = &'static Field> {
    fields.iter().filter(|f| f.column != "id")
}

/// Decodes by position (`id`, then the other fields): reading by name would cost SeaORM a
/// `format!` and a name lookup per cell, a measurable share of a list page's CPU.
fn decode<R: Resource>(row: &QueryResult) -> Result<Decoded, AppError> {
    let id: Uuid = row.try_get_by_index(0).map_err(AppError::internal)?;
    let mut cells = Vec::with_capacity(R::FIELDS.len());
    for (i, f) in data_fields(R::FIELDS).enumerate() {
        let i = i + 1;
        let cell = match f.kind {
            Kind::Text => row
                .try_get_by_index::<Option<String>>(i)
                .map(|v| v.map(Cell::Text)),
            Kind::Bool => row
                .try_get_by_index::<Option<bool>>(i)
                .map(|v| v.map(Cell::Bool)),
            Kind::Int => row
                .try_get_by_index::<Option<i64>>(i)
                .map(|v| v.map(Cell::Int)),
            Kind::DateTime => row
                .try_get_by_index::<Option<DateTime<Utc>>>(i)
                .map(|v| v.map(Cell::DateTime)),
            Kind::Uuid => row
                .try_get_by_index::<Option<Uuid>>(i)
                .map(|v| v.map(Cell::Uuid)),
        }
        .map_err(AppError::internal)?;
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Decoded { id, cells })
}

/// What a relation's objects are looked up by.
pub enum By {
    /// The row's own id (e.g. a role's permissions).
    RowId,
    /// The UUID in this field (by its API name); a relation whose key is that field's name
    /// replaces the field (e.g. a user's `app_role` id becomes the role object).
    Field(&'static str),
}

/// Related objects a resource attaches to its rows under `key`, as JSON text by UUID.
pub struct Relation {
    pub key: &'static str,
    pub by: By,
    pub json: HashMap<Uuid, String>,
    /// JSON text for a row whose UUID is null or not in `json` (`null`, `[]`).
    pub missing: &'static str,
}

/// A relation as a response uses it: where each row's lookup key sits is found once per
/// response, not once per row.
struct Attached {
    rel: Relation,
    key: KeyAt,
}

enum KeyAt {
    RowId,
    /// Position in `Decoded::cells`.
    Cell(usize),
    /// `By::Field` names no field of the resource: every row gets `missing`.
    Nowhere,
}

impl Attached {
    fn new(rel: Relation, fields: &'static [Field]) -> Attached {
        let key = match rel.by {
            By::RowId => KeyAt::RowId,
            By::Field(name) => data_fields(fields)
                .position(|f| f.name == name)
                .map_or(KeyAt::Nowhere, KeyAt::Cell),
        };
        Attached { rel, key }
    }

    /// The relation's JSON text for `row`.
    fn json_for(&self, row: &Decoded) -> &str {
        let uuid = match self.key {
            KeyAt::RowId => Some(row.id),
            KeyAt::Cell(i) => match row.cells.get(i) {
                Some(Cell::Uuid(u)) => Some(*u),
                _ => None,
            },
            KeyAt::Nowhere => None,
        };
        uuid.and_then(|k| self.rel.json.get(&k))
            .map_or(self.rel.missing, String::as_str)
    }
}

/// The UUIDs a resource needs to look its relations up: row ids and UUID fields of a page.
pub struct Keys<'a> {
    fields: &'static [Field],
    rows: &'a [Decoded],
}

impl Keys<'_> {
    /// The rows' ids, sorted, without duplicates.
    pub fn ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.rows.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The non-null UUIDs of field `name` (its API name), sorted, without duplicates.
    pub fn field(&self, name: &str) -> Vec<Uuid> {
        let Some(i) = data_fields(self.fields).position(|f| f.name == name) else {
            return Vec::new();
        };
        let mut ids: Vec<Uuid> = self
            .rows
            .iter()
            .filter_map(|r| match r.cells.get(i) {
                Some(Cell::Uuid(u)) => Some(*u),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

async fn relations<R: Resource>(
    state: &AppState,
    rows: &[Decoded],
    detail: bool,
) -> Result<Vec<Attached>, AppError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys = Keys {
        fields: R::FIELDS,
        rows,
    };
    let rels = R::relations(state, &keys, detail).await?;
    Ok(rels
        .into_iter()
        .map(|rel| Attached::new(rel, R::FIELDS))
        .collect())
}

fn cell_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(s) => Value::String(s.clone()),
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Int(i) => Value::from(*i),
        Cell::DateTime(d) => Value::String(d.to_rfc3339()),
        Cell::Uuid(u) => Value::String(u.to_string()),
    }
}

/// A decoded row with its relations as a JSON object (single-row reads, CSV).
fn to_row<R: Resource>(row: &Decoded, rels: &[Attached]) -> Result<Row, AppError> {
    let mut out = Row::new();
    out.insert("id".into(), Value::String(row.id.to_string()));
    for (f, cell) in data_fields(R::FIELDS).zip(&row.cells) {
        out.insert(f.name.into(), cell_value(cell));
    }
    for rel in rels {
        let v = serde_json::from_str(rel.json_for(row)).map_err(AppError::internal)?;
        out.insert(rel.rel.key.into(), v);
    }
    Ok(out)
}

/// Where a key's value comes from when writing a row.
enum Source {
    Id,
    Cell(usize),
    Relation(usize),
}

/// The keys of a row object in the order `serde_json::Map` keeps them (sorted), with sources;
/// a relation named like a field replaces it.
fn layout(fields: &'static [Field], rels: &[Attached]) -> Vec<(&'static str, Source)> {
    let mut keys: Vec<(&'static str, Source)> = vec![("id", Source::Id)];
    for (i, f) in data_fields(fields).enumerate() {
        keys.push((f.name, Source::Cell(i)));
    }
    for (i, rel) in rels.iter().enumerate() {
        match keys.iter_mut().find(|(k, _)| *k == rel.rel.key) {
            Some(slot) => slot.1 = Source::Relation(i),
            None => keys.push((rel.rel.key, Source::Relation(i))),
        }
    }
    keys.sort_by(|a, b| a.0.cmp(b.0));
    keys
}

fn write_uuid(out: &mut Vec<u8>, u: &Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(u.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), AppError> {
    serde_json::to_writer(&mut *out, s).map_err(AppError::internal)
}

fn write_row(
    out: &mut Vec<u8>,
    layout: &[(&'static str, Source)],
    rels: &[Attached],
    row: &Decoded,
) -> Result<(), AppError> {
    out.push(b'{');
    for (n, (key, source)) in layout.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, key)?;
        out.push(b':');
        match source {
            Source::Id => write_uuid(out, &row.id),
            Source::Relation(i) => {
                if let Some(rel) = rels.get(*i) {
                    out.extend_from_slice(rel.json_for(row).as_bytes());
                }
            }
            Source::Cell(i) => match row.cells.get(*i) {
                None | Some(Cell::Null) => out.extend_from_slice(b"null"),
                Some(Cell::Text(s)) => write_str(out, s)?,
                Some(Cell::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                Some(Cell::Int(i)) => write!(out, "{i}").map_err(AppError::internal)?,
                Some(Cell::DateTime(d)) => write_str(out, &d.to_rfc3339())?,
                Some(Cell::Uuid(u)) => write_uuid(out, u),
            },
        }
    }
    out.push(b'}');
    Ok(())
}

/// Rows for a CSV chunk, relations attached.
pub async fn rows<R: Resource>(
    state: &AppState,
    q: &ListQuery,
    limit: u64,
    offset: u64,
) -> Result<Vec<Row>, AppError> {
    let stmt = sql::select_rows(&R::TABLE, R::FIELDS, q, limit, offset);
    let raw = state.db.query_all(&stmt).await?;
    let decoded = raw.iter().map(decode::<R>).collect::<Result<Vec<_>, _>>()?;
    let rels = relations::<R>(state, &decoded, false).await?;
    decoded.iter().map(|r| to_row::<R>(r, &rels)).collect()
}

/// A list page as the JSON body `{"rows":[…],"count":N}`, where `count` is the total matching
/// the filters, in one round trip: each row of the page carries `(SELECT COUNT(*) … same
/// filters)`, the size of the filtered set. A scalar subquery rather than `COUNT(*) OVER ()`:
/// the window made PostgreSQL read and sort the whole filtered set before LIMIT, where the
/// subquery lets the page itself stop after `limit` rows of an index on the order column
/// (pgbench on the bench's 100 users: 23k vs 16.5k statements/s). Only a page past the end (no
/// row to carry the total) costs a second query.
pub async fn page_json<R: Resource>(
    state: &AppState,
    q: &ListQuery,
    limit: u64,
    offset: u64,
) -> Result<Vec<u8>, AppError> {
    let mut stmt = sql::select_rows(&R::TABLE, R::FIELDS, q, limit, offset);
    stmt.expr_as(
        Expr::SubQuery(
            None,
            Box::new(sql::select_count(&R::TABLE, q).into_sub_query_statement()),
        ),
        Alias::new(sql::TOTAL),
    );
    let raw = state.db.query_all(&stmt).await?;
    let total = match raw.first() {
        Some(r) => {
            let n: i64 = r.try_get("", sql::TOTAL).map_err(AppError::internal)?;
            u64::try_from(n).unwrap_or(0)
        }
        None if offset == 0 => 0,
        None => count::<R>(&state.db, q).await?,
    };
    let decoded = raw.iter().map(decode::<R>).collect::<Result<Vec<_>, _>>()?;
    drop(raw);
    let rels = relations::<R>(state, &decoded, false).await?;
    let layout = layout(R::FIELDS, &rels);
    // About 350 bytes per user row with its role: one allocation for a typical page.
    let mut out = Vec::with_capacity(32 + decoded.len() * 384);
    out.extend_from_slice(b"{\"rows\":[");
    for (n, row) in decoded.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_row(&mut out, &layout, &rels, row)?;
    }
    write!(out, "],\"count\":{total}}}").map_err(AppError::internal)?;
    Ok(out)
}

pub async fn count<R: Resource>(db: &DatabaseConnection, q: &ListQuery) -> Result<u64, AppError> {
    let row = db.query_one(&sql::select_count(&R::TABLE, q)).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "count").map_err(AppError::internal)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One row by id (not soft-deleted), with `detail` relations.
pub async fn one<R: Resource>(state: &AppState, id: Uuid) -> Result<Option<Row>, AppError> {
    let db = &state.db;
    let mut stmt = sql::select_fields(&R::TABLE, R::FIELDS);
    stmt.and_where(col("id").eq(id));
    if let Some(deleted) = R::TABLE.soft_delete {
        stmt.and_where(col(deleted).is_null());
    }
    let Some(raw) = db.query_one(&stmt).await? else {
        return Ok(None);
    };
    let decoded = [decode::<R>(&raw)?];
    let rels = relations::<R>(state, &decoded, true).await?;
    to_row::<R>(&decoded[0], &rels).map(Some)
}

/// `[{id, label}]` whose label contains `query` (case-insensitive), ordered by label.
pub async fn autocomplete<R: Resource>(
    db: &DatabaseConnection,
    query: Option<&str>,
    limit: u64,
) -> Result<Vec<(Uuid, Option<String>)>, AppError> {
    let label = R::TABLE.label;
    let mut stmt = Query::select()
        .from_as(Alias::new(R::TABLE.name), Alias::new("t"))
        .expr_as(col("id"), Alias::new("id"))
        .expr_as(col(label), Alias::new("label"))
        .to_owned();
    if let Some(deleted) = R::TABLE.soft_delete {
        stmt.and_where(col(deleted).is_null());
    }
    if let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) {
        stmt.and_where(sql::contains(label, q));
    }
    stmt.order_by_expr(Expr::expr(col(label)), Order::Asc)
        .limit(limit);
    let raw = db.query_all(&stmt).await?;
    raw.iter()
        .map(|r| {
            Ok((
                r.try_get("", "id").map_err(AppError::internal)?,
                r.try_get("", "label").map_err(AppError::internal)?,
            ))
        })
        .collect()
}

/// Which of `ids` exist (and are not soft-deleted).
pub async fn existing<R: Resource>(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = Query::select()
        .from_as(Alias::new(R::TABLE.name), Alias::new("t"))
        .expr_as(col("id"), Alias::new("id"))
        .to_owned();
    stmt.and_where(col("id").is_in(ids.iter().copied()));
    if let Some(deleted) = R::TABLE.soft_delete {
        stmt.and_where(col(deleted).is_null());
    }
    db.query_all(&stmt)
        .await?
        .iter()
        .map(|r| r.try_get("", "id").map_err(AppError::internal))
        .collect()
}
