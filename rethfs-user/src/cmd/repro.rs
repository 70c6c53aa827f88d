//! `rethfs repro`: a finding of a run's report as a standalone reproducer, and `run --repro`'s
//! one per finding.

use std::{os::unix::fs::PermissionsExt, path::Path};

use crate::{
    check::Signature,
    error::{Error, Result},
    report::run::RunReport,
    repro::Plan,
};

/// Writes the reproducer of finding `number` (from 1) of the report at `from` into `out`;
/// nothing is written when the input is bad.
pub fn run(from: &Path, number: usize, out: &Path) -> Result<()> {
    let report = RunReport::read(from)?;
    let plan = Plan::from_report(&report, &from.display().to_string(), number)?;
    write(&plan, out)
}

/// `run --repro DIR`: one reproducer per finding of the run, in `DIR/NN-<signature>/`; a
/// finding that has none (a race's) is said so, and the others are still written.
pub fn all(report: &RunReport, source: &str, dir: &Path) -> Result<()> {
    for (n, _, f) in report.findings() {
        match Plan::from_report(report, source, n) {
            Ok(plan) => write(
                &plan,
                &dir.join(format!("{n:02}-{}", Signature::of(f).slug())),
            )?,
            Err(e) => println!("finding {n}: no reproducer: {e}"),
        }
    }
    Ok(())
}

/// Writes `plan`'s reproducer into `dir` and says how to build and run it.
fn write(plan: &Plan, dir: &Path) -> Result<()> {
    let r = plan.reproducer();
    let failed = |e: std::io::Error| Error::Failed(anyhow::anyhow!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let path = dir.join(r.file);
    super::write_file(&path, &r.text)?;
    if r.build.is_none() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(failed)?;
    }
    println!(
        "{}: finding {} ({}), scenario `{}` step {}",
        path.display(),
        plan.number,
        Signature::of(&plan.finding),
        plan.scenario,
        plan.finding.step
    );
    if let Some(build) = r.build {
        println!("  build: cd {} && {build}", dir.display());
    }
    println!(
        "  run as root: cd {} && {}   (exit 0: correct, 1: the finding shows, 125: cannot run here)",
        dir.display(),
        r.run
    );
    Ok(())
}
