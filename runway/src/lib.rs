//! Placeholder: see issue "runway, part 1".
