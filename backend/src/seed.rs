//! `backend seed`: roles, permissions and the seeded users, idempotently (rows are matched by
//! name/email; existing rows, including passwords, are left as they are).
//!
//! Users' password: `ADMIN_PASS`. Without it, development uses [`DEV_ADMIN_PASS`] and logs it
//! once, when the users are created; other modes seed roles and permissions only and say how
//! to create the users, so a platform that doesn't set ADMIN_PASS still starts.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::config::{Config, Mode};
use crate::entities::{permissions, role_permissions, roles, users};

pub const DEV_ADMIN_PASS: &str = "runway-dev-password";
pub const ROLE_SUPER_ADMIN: &str = "Super Administrator";
pub const ROLE_ADMIN: &str = "Administrator";
pub const ROLE_USER: &str = "User";
/// The domain of the seeded accounts.
pub const SEED_DOMAIN: &str = "runway.local";

/// Every permission name: CRUD × USERS/ROLES/PERMISSIONS, plus READ_API_DOCS.
pub fn permission_names() -> Vec<String> {
    let mut names = Vec::new();
    for entity in ["USERS", "ROLES", "PERMISSIONS"] {
        for verb in ["CREATE", "READ", "UPDATE", "DELETE"] {
            names.push(format!("{verb}_{entity}"));
        }
    }
    names.push("READ_API_DOCS".to_owned());
    names
}

/// (email local part, first name, last name, role)
pub const SEED_USERS: [(&str, &str, &str, &str); 4] = [
    ("super_admin", "Super", "Admin", ROLE_SUPER_ADMIN),
    ("admin", "Admin", "User", ROLE_ADMIN),
    ("john", "John", "Doe", ROLE_USER),
    ("client", "Client", "User", ROLE_USER),
];

pub fn seed_email(local: &str) -> String {
    format!("{local}@{SEED_DOMAIN}")
}

/// Rows created by one run (all zero on a second run).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub roles: usize,
    pub permissions: usize,
    pub grants: usize,
    pub users: usize,
    pub users_skipped: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Report::default() {
            return write!(f, "Seed: nothing to do, every seeded row already exists.");
        }
        write!(
            f,
            "Seed: created {} role(s), {} permission(s), {} role grant(s), {} user(s).",
            self.roles, self.permissions, self.grants, self.users
        )?;
        if self.users_skipped {
            write!(
                f,
                " Users not created: ADMIN_PASS is not set (set it and run `backend seed`)."
            )?;
        }
        Ok(())
    }
}

pub async fn run(db: &DatabaseConnection, config: &Config) -> anyhow::Result<Report> {
    let password = match (&config.admin_pass, config.mode) {
        (Some(p), _) => Some((p.clone(), false)),
        (None, Mode::Development) => Some((SecretString::from(DEV_ADMIN_PASS.to_owned()), true)),
        (None, _) => None,
    };
    let txn = db.begin().await?;
    let mut report = Report::default();

    let mut role_ids = std::collections::HashMap::new();
    for (name, global) in [
        (ROLE_SUPER_ADMIN, true),
        (ROLE_ADMIN, false),
        (ROLE_USER, false),
    ] {
        let id = match roles::Entity::find()
            .filter(roles::Column::Name.eq(name))
            .one(&txn)
            .await?
        {
            Some(r) => r.id,
            None => {
                report.roles += 1;
                let now = Utc::now();
                roles::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    name: Set(name.to_owned()),
                    global_access: Set(global),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?
                .id
            }
        };
        role_ids.insert(name, id);
    }

    let mut perm_ids = Vec::new();
    for name in permission_names() {
        let id = match permissions::Entity::find()
            .filter(permissions::Column::Name.eq(name.as_str()))
            .one(&txn)
            .await?
        {
            Some(p) => p.id,
            None => {
                report.permissions += 1;
                let now = Utc::now();
                permissions::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    name: Set(name.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?
                .id
            }
        };
        perm_ids.push((name, id));
    }

    // Super Administrator and Administrator hold every permission; User may read the API docs.
    for (role, filter) in [
        (ROLE_SUPER_ADMIN, None),
        (ROLE_ADMIN, None),
        (ROLE_USER, Some("READ_API_DOCS")),
    ] {
        let role_id = role_ids[role];
        for (name, perm_id) in &perm_ids {
            if filter.is_some_and(|f| f != name) {
                continue;
            }
            report.grants += grant(&txn, role_id, *perm_id).await?;
        }
    }

    if let Some((password, is_default)) = password {
        let mut hash = None;
        for (local, first, last, role) in SEED_USERS {
            let email = seed_email(local);
            let exists = users::Entity::find()
                .filter(
                    Expr::expr(Func::lower(Expr::col(users::Column::Email)))
                        .eq(email.to_lowercase()),
                )
                .one(&txn)
                .await?
                .is_some();
            if exists {
                continue;
            }
            if hash.is_none() {
                hash = Some(crate::password::hash(config.mode, password.clone()).await?);
            }
            let now = Utc::now();
            users::ActiveModel {
                id: Set(Uuid::new_v4()),
                email: Set(email),
                password_hash: Set(hash.clone()),
                first_name: Set(Some(first.to_owned())),
                last_name: Set(Some(last.to_owned())),
                phone: Set(None),
                disabled: Set(false),
                email_verified: Set(true),
                provider: Set(Some("local".to_owned())),
                provider_id: Set(None),
                role_id: Set(Some(role_ids[role])),
                token_version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
            }
            .insert(&txn)
            .await?;
            report.users += 1;
        }
        if report.users > 0 && is_default {
            tracing::warn!(
                "seeded users {} got the development default password {DEV_ADMIN_PASS:?} \
                 (set ADMIN_PASS to choose one; this is printed only when they are created)",
                SEED_USERS
                    .iter()
                    .map(|u| seed_email(u.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    } else {
        report.users_skipped = true;
    }

    txn.commit().await?;
    Ok(report)
}

async fn grant(
    db: &impl ConnectionTrait,
    role_id: Uuid,
    permission_id: Uuid,
) -> anyhow::Result<usize> {
    let exists = role_permissions::Entity::find()
        .filter(role_permissions::Column::RoleId.eq(role_id))
        .filter(role_permissions::Column::PermissionId.eq(permission_id))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(0);
    }
    role_permissions::ActiveModel {
        role_id: Set(role_id),
        permission_id: Set(permission_id),
    }
    .insert(db)
    .await?;
    Ok(1)
}
