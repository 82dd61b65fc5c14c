//! Turns a parsed [`ListQuery`] into SQL for one resource table, the same statement for
//! PostgreSQL and SQLite: filters, soft-delete exclusion, ordering (with `id` as tie-breaker so
//! pages never overlap) and pagination.

use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Func, LikeExpr, Order, Query, SelectStatement,
    SimpleExpr, Value,
};

use super::query::{Direction, Field, Filter, ListQuery, Scalar};

/// Where a resource lives.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// `deleted_at`-style column for soft delete, if the table has one.
    pub soft_delete: Option<&'static str>,
    /// Column ordered by when the client gives no `field`.
    pub default_order: &'static str,
    /// Column searched and shown by `/autocomplete`.
    pub label: &'static str,
}

/// Alias of the filtered-set count column a list page carries (see `engine::page`).
pub const TOTAL: &str = "total_count";

pub fn col(name: &str) -> Expr {
    Expr::col((Alias::new("t"), Alias::new(name)))
}

pub fn scalar_value(s: &Scalar) -> Value {
    match s {
        Scalar::Text(t) => t.clone().into(),
        Scalar::Bool(b) => (*b).into(),
        Scalar::Int(i) => (*i).into(),
        Scalar::DateTime(d) => (*d).into(),
        Scalar::Uuid(u) => (*u).into(),
    }
}

/// `%text%` for LIKE, with the client's `%`, `_` and `\` taken literally.
pub fn contains_pattern(text: &str) -> LikeExpr {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// Case-insensitive substring match: `lower(col) LIKE lower('%text%')` works on both databases.
pub fn contains(column: &str, text: &str) -> SimpleExpr {
    Expr::expr(Func::lower(col(column))).like(contains_pattern(text))
}

pub fn conditions(table: &Table, filters: &[Filter]) -> Condition {
    let mut cond = Condition::all();
    if let Some(deleted) = table.soft_delete {
        cond = cond.add(col(deleted).is_null());
    }
    for f in filters {
        cond = cond.add(match f {
            Filter::Contains { column, text } => contains(column, text),
            Filter::Equals { column, value } => col(column).eq(scalar_value(value)),
            Filter::Range {
                column,
                from,
                to,
                to_exclusive,
            } => {
                let mut c = Condition::all();
                if let Some(from) = from {
                    c = c.add(col(column).gte(scalar_value(from)));
                }
                if let Some(to) = to {
                    c = c.add(if *to_exclusive {
                        col(column).lt(scalar_value(to))
                    } else {
                        col(column).lte(scalar_value(to))
                    });
                }
                c.into()
            }
        });
    }
    cond
}

fn from_table(table: &Table) -> SelectStatement {
    Query::select()
        .from_as(Alias::new(table.name), Alias::new("t"))
        .to_owned()
}

/// One page of rows (or, for CSV, a chunk: `limit`/`offset` given by the caller).
pub fn select_rows(
    table: &Table,
    fields: &[Field],
    q: &ListQuery,
    limit: u64,
    offset: u64,
) -> SelectStatement {
    let mut stmt = select_fields(table, fields);
    stmt.cond_where(conditions(table, &q.filters));
    let (column, dir) = q.order.unwrap_or((table.default_order, Direction::Desc));
    let order = match dir {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    };
    stmt.order_by_expr(col(column), order.clone());
    if column != "id" {
        stmt.order_by_expr(col("id"), order);
    }
    stmt.limit(limit).offset(offset);
    stmt
}

/// `SELECT id, <fields>` from the table (no conditions).
pub fn select_fields(table: &Table, fields: &[Field]) -> SelectStatement {
    let mut stmt = from_table(table);
    stmt.expr_as(col("id"), Alias::new("id"));
    for f in fields.iter().filter(|f| f.column != "id") {
        stmt.expr_as(col(f.column), Alias::new(f.column));
    }
    stmt
}

pub fn select_count(table: &Table, q: &ListQuery) -> SelectStatement {
    let mut stmt = from_table(table);
    stmt.expr_as(Expr::col(Asterisk).count(), Alias::new("count"));
    stmt.cond_where(conditions(table, &q.filters));
    stmt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crud::query::{Kind, parse_list};
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    const T: Table = Table {
        name: "users",
        soft_delete: Some("deleted_at"),
        default_order: "created_at",
        label: "email",
    };
    const FIELDS: &[Field] = &[
        Field::new("email", "email", Kind::Text),
        Field::new("createdAt", "created_at", Kind::DateTime),
    ];

    fn q(pairs: &[(&str, &str)]) -> ListQuery {
        let p: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_list(FIELDS, &p).unwrap()
    }

    #[test]
    fn list_sql_on_both_databases() {
        let query = q(&[("email", "50%_off"), ("field", "email"), ("sort", "asc")]);
        let stmt = select_rows(&T, FIELDS, &query, 10, 20);
        let pg = stmt.to_string(PostgresQueryBuilder);
        assert!(pg.contains(r#""t"."deleted_at" IS NULL"#), "{pg}");
        assert!(
            pg.contains(r#"LOWER("t"."email") LIKE E'%50\\%\\_off%' ESCAPE E'\\'"#),
            "{pg}"
        );
        assert!(
            pg.contains(r#"ORDER BY "t"."email" ASC, "t"."id" ASC LIMIT 10 OFFSET 20"#),
            "{pg}"
        );
        let lite = stmt.to_string(SqliteQueryBuilder);
        assert!(lite.contains("LIMIT 10 OFFSET 20"), "{lite}");
    }

    #[test]
    fn default_order_is_newest_first() {
        let pg = select_rows(&T, FIELDS, &q(&[]), 10, 0).to_string(PostgresQueryBuilder);
        assert!(
            pg.contains(r#"ORDER BY "t"."created_at" DESC, "t"."id" DESC"#),
            "{pg}"
        );
    }

    #[test]
    fn count_uses_the_same_filters() {
        let pg = select_count(&T, &q(&[("createdAtRange", "[2024-01-01,2024-01-31]")]))
            .to_string(PostgresQueryBuilder);
        assert!(pg.starts_with("SELECT COUNT(*)"), "{pg}");
        assert!(
            pg.contains(r#""t"."created_at" >= '2024-01-01 00:00:00"#),
            "{pg}"
        );
        assert!(
            pg.contains(r#""t"."created_at" < '2024-02-01 00:00:00"#),
            "{pg}"
        );
    }
}
