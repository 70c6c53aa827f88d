//! `rethfs baseline`: a run's findings as a baseline, each entry with a reason to edit.

use std::path::Path;

use crate::{baseline::Baseline, error::Result, report::run::RunReport};

pub fn run(from: &Path, out: &Path) -> Result<()> {
    let report = RunReport::read(from)?;
    let baseline = Baseline::from_report(&report);
    super::write_file(out, &baseline.to_toml())?;
    println!(
        "{}: {} finding(s) of {} as known; edit each reason to say why",
        out.display(),
        baseline.entries.len(),
        from.display()
    );
    Ok(())
}
