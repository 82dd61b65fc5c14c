//! `users`: accounts. Email is unique case-insensitively (index on `lower(email)`); store it
//! as given and compare lower-cased. `deleted_at` set = soft-deleted. `token_version` is bumped
//! to invalidate every access token issued before; `provider`/`provider_id` identify OAuth
//! accounts (which may have no `password_hash`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub disabled: bool,
    pub email_verified: bool,
    pub provider: Option<String>,
    pub provider_id: Option<String>,
    pub role_id: Option<Uuid>,
    pub token_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::roles::Entity",
        from = "Column::RoleId",
        to = "super::roles::Column::Id",
        on_delete = "SetNull"
    )]
    Role,
    #[sea_orm(has_many = "super::refresh_tokens::Entity")]
    RefreshTokens,
    #[sea_orm(has_many = "super::one_time_tokens::Entity")]
    OneTimeTokens,
}

impl Related<super::roles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshTokens.def()
    }
}

impl Related<super::one_time_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OneTimeTokens.def()
    }
}

impl Related<super::permissions::Entity> for Entity {
    fn to() -> RelationDef {
        super::user_permissions::Relation::Permission.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::user_permissions::Relation::User.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
