//! Rendering results for people and programs.

pub mod doctor;
pub mod explore;
pub mod history_view;
pub mod junit;
pub mod ktap;
pub mod progress;
pub mod records;
pub mod run;
pub mod timeline;
pub mod trace;
pub mod transcript;
pub mod verdict;
