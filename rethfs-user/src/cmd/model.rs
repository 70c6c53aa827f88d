//! `rethfs model`: a scenario on the reference model alone, as any user may run it, judged by
//! the invariants the model must keep (exit 1 when it breaks one, as `explore --model-only`
//! finds).

use crate::{
    check,
    error::{Error, Result},
    model::{KernelVersion, Model, ModelConfig},
    report,
    scenario::{self, CATALOGUE, RACES, Scenario},
};

pub fn run(scenario: Option<&str>, kernel: Option<KernelVersion>, json: bool) -> Result<u8> {
    let Some(arg) = scenario else {
        let all: Vec<(&str, &str)> = CATALOGUE.iter().chain(RACES).copied().collect();
        print!("{}", report::transcript::catalogue(&all));
        return Ok(0);
    };
    // A concurrent scenario as one sequence: the model alone has no threads to race.
    let scenario = Scenario::resolve(arg)?.sequential();
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
    let violations = check::invariants(&transcript, version.policy());
    let kernel = format!("{}.{} ({source})", version.major, version.minor);
    if json {
        let doc = serde_json::json!({
            "kernel": kernel,
            "policy": version.policy(),
            "description": scenario.description,
            "transcript": transcript,
            "violations": violations,
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
        if violations.is_empty() {
            println!("the model keeps every invariant");
        }
        for v in &violations {
            let name = match &v.kind {
                check::FindingKind::Violation { invariant, .. } => invariant.as_ref(),
                _ => "?",
            };
            println!(
                "violation of {name} at step {} (line {}), {}: {}",
                v.step, v.line, v.action, v.detail
            );
        }
    }
    Ok(u8::from(!violations.is_empty()))
}
