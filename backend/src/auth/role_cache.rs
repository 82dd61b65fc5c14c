//! An in-process cache of role → (name, global access, permission names).
//!
//! Every authenticated request needs its caller's role and effective permissions. The user row
//! (token version, `disabled`, soft delete, role id, custom permissions) is still read from the
//! database on every request, so revocation stays immediate; only the role's part, which
//! changes rarely and is the costly part of the query (a join over `role_permissions` and
//! `permissions`), is cached here.
//!
//! **Invalidation.** Every CRUD write (`crud::handlers`: create, update, delete, deleteByIds of
//! any resource) calls [`RoleCache::invalidate`] after its transaction commits; that covers all
//! of this process's writes to roles, permissions and role grants. Writes by another process
//! (a second instance, `backend seed`, manual SQL) are seen once an entry is older than
//! [`TTL`]. A load that raced with a write is not stored: loads remember the generation they
//! started in and are dropped if an invalidation happened meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::principal::{RoleRef, statement};
use crate::error::AppError;

/// How long an entry is trusted without a local write: the bound on staleness for changes made
/// by other processes.
pub const TTL: Duration = Duration::from_secs(5);

/// A role and its permission names (sorted, unique).
#[derive(Debug)]
pub struct RoleInfo {
    pub role: RoleRef,
    pub permissions: Vec<String>,
}

#[derive(Debug, Default)]
pub struct RoleCache {
    entries: Mutex<HashMap<Uuid, (Instant, Arc<RoleInfo>)>>,
    generation: AtomicU64,
}

impl RoleCache {
    /// Forget everything; call after committing any change to roles, permissions or grants.
    pub fn invalidate(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// The role `id`, from the cache or the database; `None` when the role does not exist.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<RoleInfo>>, AppError> {
        let generation = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, info)) = entries.get(&id)
                && at.elapsed() < TTL
            {
                return Ok(Some(info.clone()));
            }
            self.generation.load(Ordering::SeqCst)
        };
        let Some(info) = load(db, id).await? else {
            return Ok(None);
        };
        let info = Arc::new(info);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) == generation {
            entries.insert(id, (Instant::now(), info.clone()));
        }
        Ok(Some(info))
    }
}

async fn load(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<RoleInfo>, AppError> {
    let sql = "SELECT r.id, r.name, r.global_access, p.name AS perm FROM roles r \
        LEFT JOIN role_permissions rp ON rp.role_id = r.id \
        LEFT JOIN permissions p ON p.id = rp.permission_id \
        WHERE r.id = $1 ORDER BY p.name";
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), sql, vec![id.into()]))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let get = |e: sea_orm::DbErr| AppError::internal(e);
    let role = RoleRef {
        id: first.try_get("", "id").map_err(get)?,
        name: first.try_get("", "name").map_err(get)?,
        global_access: first.try_get("", "global_access").map_err(get)?,
    };
    let mut permissions = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(p) = row.try_get::<Option<String>>("", "perm").map_err(get)? {
            permissions.push(p);
        }
    }
    permissions.sort_unstable();
    permissions.dedup();
    Ok(Some(RoleInfo { role, permissions }))
}
