//! rethfs: an eBPF-assisted observer and validator of the kernel's tracefs.
//!
//! - [`kernel`]: what the running kernel is, read off the machine: config, symbols, lockdown.
//! - [`profile`]: what the running kernel is and allows, computed once.
//! - [`host`]: the real tracefs.
//! - [`interface`]: the one interface host and model both answer: actions, outcomes, lifetimes.
//! - [`model`]: the reference eventfs, a versioned model of the kernel's rules.
//! - [`scenario`]: the built-in catalogue, the TOML format, and the runner.
//! - [`observe`]: BTF offsets, attach backends and the eBPF observer.
//! - [`check`]: host against model, and invariants on both: the verdict.
//! - [`explore`]: scenarios rethfs writes itself, judged and shrunk.
//! - [`report`]: the typed report of a run, and its renderings for people and programs.
//! - [`baseline`]: known findings, which a run reports as known and fails on no more.
//! - [`repro`]: a finding as a standalone reproducer, a shell script or a C program.
//! - [`session`]: a host session, as `run` and `explore` share it.
//! - [`cmd`]: one module per subcommand.

pub mod baseline;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod explore;
pub mod host;
pub mod interface;
pub mod kernel;
pub mod model;
pub mod observe;
pub mod profile;
pub mod race;
pub mod report;
pub mod repro;
pub mod scenario;
pub mod session;

pub use error::{Error, Result};
