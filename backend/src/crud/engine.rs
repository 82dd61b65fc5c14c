//! Reading rows generically: run the SQL from [`super::sql`], turn each row into JSON by the
//! field table's kinds, and let the resource attach its relations.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, QueryStatementBuilder};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use serde_json::Value;
use uuid::Uuid;

use super::query::{Kind, ListQuery};
use super::sql::{self, col};
use super::{Resource, Row};
use crate::error::AppError;
use crate::state::AppState;

/// Decodes by position, in the column order [`sql::select_fields`] writes (`id`, then the
/// fields other than `id`): reading by name would cost SeaORM a `format!` and a name lookup
/// per cell, a measurable share of a list page's CPU.
fn to_json<R: Resource>(row: &QueryResult) -> Result<Row, AppError> {
    let mut out = Row::new();
    let id: Uuid = row.try_get_by_index(0).map_err(AppError::internal)?;
    out.insert("id".into(), Value::String(id.to_string()));
    for (i, f) in R::FIELDS.iter().filter(|f| f.column != "id").enumerate() {
        let i = i + 1;
        let v = match f.kind {
            Kind::Text => row
                .try_get_by_index::<Option<String>>(i)
                .map(|v| v.map(Value::String)),
            Kind::Bool => row
                .try_get_by_index::<Option<bool>>(i)
                .map(|v| v.map(Value::Bool)),
            Kind::Int => row
                .try_get_by_index::<Option<i64>>(i)
                .map(|v| v.map(Value::from)),
            Kind::DateTime => row
                .try_get_by_index::<Option<DateTime<Utc>>>(i)
                .map(|v| v.map(|d| Value::String(d.to_rfc3339()))),
            Kind::Uuid => row
                .try_get_by_index::<Option<Uuid>>(i)
                .map(|v| v.map(|u| Value::String(u.to_string()))),
        }
        .map_err(AppError::internal)?;
        out.insert(f.name.into(), v.unwrap_or(Value::Null));
    }
    Ok(out)
}

/// Rows for a list page or a CSV chunk, relations attached.
pub async fn rows<R: Resource>(
    state: &AppState,
    q: &ListQuery,
    limit: u64,
    offset: u64,
) -> Result<Vec<Row>, AppError> {
    let stmt = sql::select_rows(&R::TABLE, R::FIELDS, q, limit, offset);
    let raw = state.db.query_all(&stmt).await?;
    let mut rows = raw
        .iter()
        .map(to_json::<R>)
        .collect::<Result<Vec<_>, _>>()?;
    R::expand(state, &mut rows, false).await?;
    Ok(rows)
}

/// A list page and the total matching the filters, in one round trip: each row of the page
/// carries `(SELECT COUNT(*) … same filters)`, the size of the filtered set. A scalar subquery
/// rather than `COUNT(*) OVER ()`: the window made PostgreSQL read and sort the whole filtered
/// set before LIMIT, where the subquery lets the page itself stop after `limit` rows of an index
/// on the order column (pgbench on the bench's 100 users: 23k vs 16.5k statements/s). Only a
/// page past the end (no row to carry the total) costs a second query.
pub async fn page<R: Resource>(
    state: &AppState,
    q: &ListQuery,
    limit: u64,
    offset: u64,
) -> Result<(Vec<Row>, u64), AppError> {
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
    let mut rows = raw
        .iter()
        .map(to_json::<R>)
        .collect::<Result<Vec<_>, _>>()?;
    R::expand(state, &mut rows, false).await?;
    Ok((rows, total))
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
    let mut rows = vec![to_json::<R>(&raw)?];
    R::expand(state, &mut rows, true).await?;
    Ok(rows.pop())
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
