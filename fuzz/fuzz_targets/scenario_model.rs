//! Any bytes as a scenario file: parsed, and where they parse, run on the model under every
//! kernel policy, judged against itself (comparison, invariants, lifetime rules) and drawn as
//! the table `rethfs model` prints. Nothing may panic, abort or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rethfs::{
    check::{self, lifetime::Scope},
    model::{Model, ModelConfig, Policy},
    report,
    scenario::{self, Scenario},
    interface::LifetimeKind,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Threads as `rethfs model` runs them: one after another.
    let Ok(s) = Scenario::parse("fuzz.toml", &text).map(|s| s.sequential()) else {
        return;
    };
    let prefix = format!("rethfs_{}", std::process::id());
    for policy in Policy::ALL {
        let mut model = Model::new(policy, ModelConfig::default());
        let t = scenario::run(&mut model, &s);
        let scope = Scope {
            prefix: &prefix,
            seen: LifetimeKind::ALL.to_vec(),
        };
        let v = check::verdict(&t, &t, policy, Ok(&scope));
        std::hint::black_box(report::verdict::table("fuzz", &[v]));
        std::hint::black_box(report::transcript::table(&t, &s.description, "fuzz"));
    }
});
