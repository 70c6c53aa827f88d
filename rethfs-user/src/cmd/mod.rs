//! One module per subcommand: each checks its environment, does its job, reports.

pub mod bench;
pub mod cleanup;
pub mod doctor;
pub mod explore;
pub mod model;
pub mod observe;
pub mod run;
