//! Checks a person would otherwise do by hand: `verify` (the seed's 1.6: is everything
//! answering?) and `doctor` (the seed's 1.8: what is wrong and how to fix it), plus the mode
//! rules that `runway up` applies before anything starts.

pub mod doctor;
pub mod mode;
pub mod ports;
pub mod topology;
pub mod verify;
