//! Build pipeline: install, build, migrate, seed — each step skipped when its inputs have not
//! changed since it last succeeded (a hash recorded in the state directory), with progress.

pub mod exec;
