//! The one interface every scenario drives: the host's real tracefs and the reference model
//! both implement [`Target`], take the same [`Action`]s and answer with the same [`Outcome`]s,
//! so a scenario never asks which side it runs on and results compare structurally.

mod action;
mod lifetime;
pub mod limits;
mod outcome;
pub mod path;

pub use action::{Action, ControlFile, HandleUse, OpenMode, Stall};
pub use lifetime::{Lifetime, LifetimeKind};
pub use outcome::{Dirent, Errno, FileKind, Outcome, StatInfo, Value};

/// Something a scenario runs against: a real tracefs or the model of one.
pub trait Target {
    /// What this target is, for reports: the host's kernel, or the model and its policy.
    fn describe(&self) -> String;

    /// Performs one action and reports what a user would see.
    fn apply(&mut self, action: &Action) -> Outcome;

    /// Lifetime events recorded since the last call, oldest first.
    fn take_lifetimes(&mut self) -> Vec<Lifetime>;

    /// What the target has to say about the last action beyond its outcome (the kernel's
    /// `error_log` lines for a refused command), taken once.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}
