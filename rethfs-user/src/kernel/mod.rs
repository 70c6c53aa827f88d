//! What the running kernel is, as read off the machine: its build configuration, its symbols,
//! its lockdown mode. The profile and the observer both read these; neither owns them.

mod config;
pub mod kallsyms;
pub mod lockdown;

pub use config::{KernelConfig, OPTIONS as CONFIG_OPTIONS};
