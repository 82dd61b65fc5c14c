//! Placeholder: see issue "Backend foundation".
