//! `rethfs model`: a scenario on the reference model alone, as any user may run it.

use crate::{
    error::{Error, Result},
    model::{KernelVersion, Model, ModelConfig},
    report,
    scenario::{self, CATALOGUE, Scenario},
};

pub fn run(scenario: Option<&str>, kernel: Option<KernelVersion>, json: bool) -> Result<()> {
    let Some(arg) = scenario else {
        print!("{}", report::transcript::catalogue(CATALOGUE));
        return Ok(());
    };
    let scenario = Scenario::resolve(arg)?;
    let (version, source) = match kernel {
        Some(v) => (v, "--kernel"),
        None => {
            let uts = nix::sys::utsname::uname().map_err(|e| Error::Failed(e.into()))?;
            let release = uts.release().to_string_lossy().into_owned();
            let v = release.parse::<KernelVersion>().map_err(|e| {
                Error::Usage(format!("the running kernel's release: {e}; give --kernel"))
            })?;
            (v, "running kernel")
        }
    };
    let mut model = Model::new(version.policy(), ModelConfig::default());
    let transcript = scenario::run(&mut model, &scenario);
    let kernel = format!("{}.{} ({source})", version.major, version.minor);
    if json {
        let doc = serde_json::json!({
            "kernel": kernel,
            "policy": version.policy(),
            "description": scenario.description,
            "transcript": transcript,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?
        );
    } else {
        print!(
            "{}",
            report::transcript::table(&transcript, &scenario.description, &kernel)
        );
    }
    Ok(())
}
