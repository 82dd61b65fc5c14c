//! Generic handlers, one per CRUD verb, and the [`crud_router!`] macro that mounts them for a
//! resource with its OpenAPI description (utoipa needs literal paths, hence a macro).

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::query::{ListQuery, MAX_LIMIT, parse_list};
use super::{Resource, Row, csv, engine};
use crate::auth::{Auth, Principal};
use crate::error::AppError;
use crate::state::AppState;

/// `{rows, count}`: one page and the total matching the filters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutocompleteItem {
    pub id: Uuid,
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody<D> {
    pub data: D,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody<D> {
    /// Must equal the id in the path when given.
    pub id: Option<Uuid>,
    pub data: D,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteByIdsBody {
    #[schema(max_items = 1000)]
    pub data: Vec<Uuid>,
}

/// Query parameters of `GET /` (besides per-field filters `<field>=` and `<field>Range=`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Rows per page, 1 to 100 (default 10; larger values are capped at 100).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Page number, from 0.
    #[param(minimum = 0, maximum = 10000000)]
    pub page: Option<u64>,
    /// Field to sort by (unknown → 400).
    pub field: Option<String>,
    /// `asc` or `desc` (default desc).
    #[param(pattern = "^([aA][sS][cC]|[dD][eE][sS][cC])$")]
    pub sort: Option<String>,
    /// `csv` for a CSV attachment of the same query (all pages unless `limit` is given).
    #[param(pattern = "^csv$")]
    pub filetype: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AutocompleteParams {
    /// Case-insensitive substring of the label.
    pub query: Option<String>,
    /// At most this many results (default 10, max 100).
    #[param(minimum = 1)]
    pub limit: Option<u64>,
}

fn require(actor: &Principal, verb: &str, permission: &str) -> Result<(), AppError> {
    let name = format!("{verb}_{permission}");
    if actor.can(&name) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "You need the {name} permission"
        )))
    }
}

pub fn parse_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::bad_request("The id in the path must be a UUID"))
}

pub async fn list<R: Resource>(
    state: AppState,
    auth: Auth,
    params: Vec<(String, String)>,
) -> Result<Response, AppError> {
    require(&auth.principal, "READ", R::PERMISSION)?;
    let q = parse_list(R::FIELDS, &params).map_err(|e| AppError::bad_request(e.0))?;
    if q.csv {
        return Ok(csv_response::<R>(state, q));
    }
    let offset = q.page.saturating_mul(q.limit);
    // The `Page` shape, written straight from the decoded rows (see `engine::page_json`).
    let body = engine::page_json::<R>(&state, &q, q.limit, offset).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

const CSV_CHUNK: u64 = 500;

/// Streams the CSV in chunks, so an export of any size uses bounded memory.
fn csv_response<R: Resource>(state: AppState, q: ListQuery) -> Response {
    let header = {
        let mut names = vec!["id"];
        names.extend(
            R::FIELDS
                .iter()
                .filter(|f| f.column != "id")
                .map(|f| f.name),
        );
        csv::line(names)
    };
    let total = if q.limit_given { Some(q.limit) } else { None };
    let start = if q.limit_given {
        q.page.saturating_mul(q.limit)
    } else {
        0
    };
    // hyper polls the body after the handler returned, outside the request's span: each page
    // query (and its error line) runs in that span again, so logs keep the request id.
    let span = tracing::Span::current();
    let body = stream::unfold(
        (Some(header), state, q, start, 0u64, false),
        move |(head, state, q, offset, sent, done)| {
            async move {
                if let Some(h) = head {
                    return Some((
                        Ok::<_, std::io::Error>(h),
                        (None, state, q, offset, sent, done),
                    ));
                }
                if done {
                    return None;
                }
                let want = match total {
                    Some(t) if sent >= t => return None,
                    Some(t) => CSV_CHUNK.min(t - sent),
                    None => CSV_CHUNK,
                };
                match engine::rows::<R>(&state, &q, want, offset).await {
                    Ok(rows) => {
                        let n = rows.len() as u64;
                        let mut text = String::new();
                        for row in &rows {
                            let mut cells = vec![row.get("id").map(csv::cell).unwrap_or_default()];
                            cells.extend(
                                R::FIELDS
                                    .iter()
                                    .filter(|f| f.column != "id")
                                    .map(|f| row.get(f.name).map(csv::cell).unwrap_or_default()),
                            );
                            text.push_str(&csv::line(cells.iter().map(String::as_str)));
                        }
                        let finished = n < want;
                        if n == 0 {
                            return None;
                        }
                        Some((Ok(text), (None, state, q, offset + n, sent + n, finished)))
                    }
                    Err(e) => {
                        tracing::error!("CSV export of {} stopped: {e}", R::NAME);
                        Some((
                            Err(std::io::Error::other("export failed")),
                            (None, state, q, offset, sent, true),
                        ))
                    }
                }
            }
            .instrument(span.clone())
        },
    );
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        "text/csv; charset=utf-8".parse().expect("static"),
    );
    if let Ok(v) = format!("attachment; filename=\"{}.csv\"", R::NAME).parse() {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

pub async fn count<R: Resource>(
    state: AppState,
    auth: Auth,
    params: Vec<(String, String)>,
) -> Result<axum::Json<CountResponse>, AppError> {
    require(&auth.principal, "READ", R::PERMISSION)?;
    let q = parse_list(R::FIELDS, &params).map_err(|e| AppError::bad_request(e.0))?;
    Ok(axum::Json(CountResponse {
        count: engine::count::<R>(&state.db, &q).await?,
    }))
}

pub async fn autocomplete<R: Resource>(
    state: AppState,
    auth: Auth,
    params: Vec<(String, String)>,
) -> Result<axum::Json<Vec<AutocompleteItem>>, AppError> {
    require(&auth.principal, "READ", R::PERMISSION)?;
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit").map(str::trim).filter(|v| !v.is_empty()) {
        None => 10,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| AppError::bad_request("limit must be a whole number, at least 1"))?
            .min(MAX_LIMIT),
    };
    let query = get("query");
    if query.is_some_and(|q| q.len() > 1000) {
        return Err(AppError::bad_request(
            "query is too long (1000 characters at most)",
        ));
    }
    let items = engine::autocomplete::<R>(&state.db, query, limit).await?;
    Ok(axum::Json(
        items
            .into_iter()
            .map(|(id, label)| AutocompleteItem { id, label })
            .collect(),
    ))
}

/// READ_X, or the caller's own row when the resource allows self-access.
fn may_touch<R: Resource>(actor: &Principal, verb: &str, id: Uuid) -> Result<bool, AppError> {
    match require(actor, verb, R::PERMISSION) {
        Ok(()) => Ok(false),
        Err(_) if R::SELF_ACCESS && actor.id == id => Ok(true),
        Err(e) => Err(e),
    }
}

/// After any CRUD write (committed or failed): roles, permissions and grants may have changed,
/// so the cached role permissions are dropped. Writes are rare; the next request reloads.
/// Called for every resource, not only roles and permissions, so a new resource that touches
/// grants cannot forget it.
fn wrote(state: &AppState) {
    state.auth.roles.invalidate();
}

fn not_found<R: Resource>() -> AppError {
    AppError::not_found(format!("No such record in {}", R::NAME))
}

pub async fn get_one<R: Resource>(
    state: AppState,
    auth: Auth,
    id: String,
) -> Result<axum::Json<Row>, AppError> {
    let id = parse_id(&id)?;
    may_touch::<R>(&auth.principal, "READ", id)?;
    engine::one::<R>(&state, id)
        .await?
        .map(axum::Json)
        .ok_or_else(not_found::<R>)
}

pub async fn create<R: Resource>(
    state: AppState,
    auth: Auth,
    body: CreateBody<R::Data>,
) -> Result<Response, AppError> {
    require(&auth.principal, "CREATE", R::PERMISSION)?;
    let created = R::create(&state, &auth.principal, body.data).await;
    wrote(&state);
    let id = created?;
    let row = engine::one::<R>(&state, id)
        .await?
        .ok_or_else(not_found::<R>)?;
    Ok((StatusCode::OK, axum::Json(row)).into_response())
}

pub async fn update<R: Resource>(
    state: AppState,
    auth: Auth,
    id: String,
    body: UpdateBody<R::Data>,
) -> Result<axum::Json<Row>, AppError> {
    let id = parse_id(&id)?;
    if body.id.is_some_and(|b| b != id) {
        return Err(AppError::validation(
            "id in the body differs from the id in the path",
        ));
    }
    let self_only = may_touch::<R>(&auth.principal, "UPDATE", id)?;
    if engine::existing::<R>(&state.db, &[id]).await?.is_empty() {
        return Err(not_found::<R>());
    }
    let updated = R::update(&state, &auth.principal, id, body.data, self_only).await;
    wrote(&state);
    updated?;
    engine::one::<R>(&state, id)
        .await?
        .map(axum::Json)
        .ok_or_else(not_found::<R>)
}

pub async fn delete<R: Resource>(
    state: AppState,
    auth: Auth,
    id: String,
) -> Result<axum::Json<Value>, AppError> {
    let id = parse_id(&id)?;
    require(&auth.principal, "DELETE", R::PERMISSION)?;
    let deleted = R::delete(&state, &auth.principal, vec![id]).await;
    wrote(&state);
    if deleted? == 0 {
        return Err(not_found::<R>());
    }
    Ok(axum::Json(Value::Bool(true)))
}

pub async fn delete_by_ids<R: Resource>(
    state: AppState,
    auth: Auth,
    body: DeleteByIdsBody,
) -> Result<axum::Json<Value>, AppError> {
    require(&auth.principal, "DELETE", R::PERMISSION)?;
    if body.data.len() > 1000 {
        return Err(AppError::validation("data: at most 1000 ids at once"));
    }
    let deleted = R::delete(&state, &auth.principal, body.data).await;
    wrote(&state);
    deleted?;
    Ok(axum::Json(Value::Bool(true)))
}

/// Mounts the eight CRUD routes of a resource, documented in the OpenAPI document.
///
/// `crud_router!(Users, "users", "/api/users", UserRow, UserData)` expands to a function body
/// returning `OpenApiRouter<AppState>`. Paths are spelled out because utoipa wants literals.
#[macro_export]
macro_rules! crud_router {
    (
        resource = $res:ty, tag = $tag:tt, row = $row:ident, data = $data:ident,
        base = $base:tt, count = $count:tt, autocomplete = $auto:tt, by_id = $by_id:tt,
        delete_by_ids = $del:tt $(,)?
    ) => {{
        use axum::extract::{Path, Query, State};
        use axum::response::Response;
        use utoipa_axum::{router::OpenApiRouter, routes};
        use $crate::auth::Auth;
        use $crate::crud::handlers::{
            self as h, AutocompleteItem, AutocompleteParams, CountResponse, CreateBody,
            DeleteByIdsBody, ListParams, Page, UpdateBody,
        };
        use $crate::error::{AppError, ErrorBody};
        use $crate::extract::Json;
        use $crate::state::AppState;

        /// List with pagination, sorting, filters, ranges; `filetype=csv` exports.
        #[utoipa::path(get, path = $base, tag = $tag, params(ListParams),
            security(("cookie" = []), ("bearer" = [])),
            responses(
                (status = 200, body = Page<$row>, description = "A page and the total count (or text/csv with filetype=csv)"),
                (status = 400, body = ErrorBody, description = "Bad parameter (unknown sort field, bad range, ...)"),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn list(State(s): State<AppState>, a: Auth, Query(p): Query<Vec<(String, String)>>) -> Result<Response, AppError> {
            h::list::<$res>(s, a, p).await
        }

        /// Create from `{data}`; returns the created row.
        #[utoipa::path(post, path = $base, tag = $tag, request_body = CreateBody<$data>,
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = $row), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
                (status = 422, body = ErrorBody, description = "Invalid or unknown fields")))]
        async fn create(State(s): State<AppState>, a: Auth, Json(b): Json<CreateBody<$data>>) -> Result<Response, AppError> {
            h::create::<$res>(s, a, b).await
        }

        /// Count rows matching the same filters as the list.
        #[utoipa::path(get, path = $count, tag = $tag,
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = CountResponse), (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn count(State(s): State<AppState>, a: Auth, Query(p): Query<Vec<(String, String)>>) -> Result<axum::Json<CountResponse>, AppError> {
            h::count::<$res>(s, a, p).await
        }

        /// `[{id, label}]` for pickers.
        #[utoipa::path(get, path = $auto, tag = $tag, params(AutocompleteParams),
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = Vec<AutocompleteItem>), (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn autocomplete(State(s): State<AppState>, a: Auth, Query(p): Query<Vec<(String, String)>>) -> Result<axum::Json<Vec<AutocompleteItem>>, AppError> {
            h::autocomplete::<$res>(s, a, p).await
        }

        /// One row (404 when missing or deleted).
        #[utoipa::path(get, path = $by_id, tag = $tag, params(("id" = String, Path, description = "UUID")),
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = $row), (status = 400, body = ErrorBody, description = "Malformed UUID"),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
        async fn get_one(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> Result<axum::Json<$crate::crud::Row>, AppError> {
            h::get_one::<$res>(s, a, id).await
        }

        /// Update from `{id, data}`; returns the updated row.
        #[utoipa::path(put, path = $by_id, tag = $tag, params(("id" = String, Path, description = "UUID")),
            request_body = UpdateBody<$data>,
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = $row), (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        async fn update(State(s): State<AppState>, a: Auth, Path(id): Path<String>, Json(b): Json<UpdateBody<$data>>) -> Result<axum::Json<$crate::crud::Row>, AppError> {
            h::update::<$res>(s, a, id, b).await
        }

        /// Delete one row.
        #[utoipa::path(delete, path = $by_id, tag = $tag, params(("id" = String, Path, description = "UUID")),
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = bool), (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
        async fn delete(State(s): State<AppState>, a: Auth, Path(id): Path<String>) -> Result<axum::Json<serde_json::Value>, AppError> {
            h::delete::<$res>(s, a, id).await
        }

        /// Delete every listed id that exists.
        #[utoipa::path(post, path = $del, tag = $tag, request_body = DeleteByIdsBody,
            security(("cookie" = []), ("bearer" = [])),
            responses((status = 200, body = bool), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
        async fn delete_by_ids(State(s): State<AppState>, a: Auth, Json(b): Json<DeleteByIdsBody>) -> Result<axum::Json<serde_json::Value>, AppError> {
            h::delete_by_ids::<$res>(s, a, b).await
        }

        OpenApiRouter::<AppState>::new()
            .routes(routes!(list, create))
            .routes(routes!(count))
            .routes(routes!(autocomplete))
            .routes(routes!(delete_by_ids))
            .routes(routes!(get_one, update, delete))
    }};
}
