//! `rethfs doctor`: the kernel profile, as a table or JSON.

use crate::{
    error::{Error, Result, require_root},
    profile::{KernelProfile, ProfileOptions},
    report,
};

/// Prints the profile; fails with an environment error (exit 2) when something rethfs needs is
/// missing, after printing everything it found.
pub fn run(opts: &ProfileOptions, json: bool) -> Result<()> {
    require_root("doctor")?;
    let profile = KernelProfile::compute(opts)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&profile).map_err(anyhow::Error::from)?
        );
    } else {
        print!("{}", report::doctor::table(&profile));
    }
    let problems = profile.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Environment(problems.join("\n")))
    }
}
