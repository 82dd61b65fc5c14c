//! SeaORM entities, one module per table of the initial migration. The auth and CRUD modules
//! query through these; a schema change means a new migration plus an edit here.

pub mod one_time_tokens;
pub mod permissions;
pub mod refresh_tokens;
pub mod role_permissions;
pub mod roles;
pub mod user_permissions;
pub mod users;

pub mod prelude {
    pub use super::one_time_tokens::Entity as OneTimeTokens;
    pub use super::permissions::Entity as Permissions;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::role_permissions::Entity as RolePermissions;
    pub use super::roles::Entity as Roles;
    pub use super::user_permissions::Entity as UserPermissions;
    pub use super::users::Entity as Users;
}
