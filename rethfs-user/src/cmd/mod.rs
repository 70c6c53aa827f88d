//! One module per subcommand: each checks its environment, does its job, reports.

pub mod baseline;
pub mod bench;
pub mod cleanup;
pub mod doctor;
pub mod explore;
pub mod model;
pub mod observe;
pub mod repro;
pub mod run;

use std::path::Path;

use crate::error::{Error, Result};

/// Writes an output file a command was asked for; the error names it.
fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))
}

/// Writes an output file, or prints it where its name is `-`.
fn write_or_print(path: &Path, text: &str) -> Result<()> {
    if path == Path::new("-") {
        print!("{text}");
        Ok(())
    } else {
        write_file(path, text)
    }
}
