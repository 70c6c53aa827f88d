//! explore's speed: cases and steps per second of random cases of up to 10 steps, on the
//! model alone under each policy and, as root with tracefs, on this host against the model,
//! with the time shrinking took per finding. Prints figures; asserts nothing about them.
//!
//! `cargo bench -p rethfs-user --bench explore`

use std::{path::Path, time::Duration};

use rethfs::{
    explore::{self, Budget, Judge, ModelJudge, Plan, Report, Universe, universe::Interfaces},
    host::uprobe_target,
    model::{KernelVersion, ModelConfig},
    session::{self, HostSession},
};

const SEED: u64 = 7;
const MAX_STEPS: usize = 10;
const MODEL_CASES: u64 = 20_000;
const HOST_SECONDS: u64 = 30;

fn run(judge: &mut dyn Judge, universe: &Universe, budget: Budget, prefix: &str) -> Report {
    let plan = Plan::Random {
        seed: SEED,
        max_steps: MAX_STEPS,
        budget,
    };
    explore::explore(judge, universe, plan, prefix, &|| false, &mut |_| {}).expect("explore")
}

fn print(what: &str, r: &Report) {
    let shrink: f64 = r.findings.iter().map(|f| f.shrink_seconds).sum();
    let per_finding = if r.findings.is_empty() {
        "no findings".to_owned()
    } else {
        format!(
            "{} findings, shrinking {:.3} s each",
            r.findings.len(),
            shrink / r.findings.len() as f64
        )
    };
    println!(
        "{what:<24} {:>7} cases {:>8.0} cases/s {:>9.0} steps/s ({:.1} steps a case); {per_finding}",
        r.cases,
        r.cases_per_second(),
        r.steps_per_second(),
        r.steps as f64 / r.cases.max(1) as f64,
    );
}

fn main() {
    let uprobe = uprobe_target().expect("uprobe target");
    let universe = Universe::new(Interfaces::ALL, uprobe.clone(), true);
    for v in ["6.1", "6.6", "6.8", "6.12", "6.17"] {
        let version: KernelVersion = v.parse().unwrap();
        let mut judge = ModelJudge::new(version.policy(), ModelConfig::default());
        let r = run(
            &mut judge,
            &universe,
            Budget::Cases(MODEL_CASES),
            "rethfs_1",
        );
        print(&format!("model only, {}", version.policy()), &r);
    }

    if !nix::unistd::geteuid().is_root() {
        println!("host explore skipped: needs root and a tracefs");
        return;
    }
    let mut host = match HostSession::open(
        "bench",
        &session::Options {
            tracefs: None,
            btf: Path::new("/sys/kernel/btf/vmlinux"),
            attach: None,
            hooks: Default::default(),
            policy_version: None,
            allow_remount: false,
        },
    ) {
        Ok(h) => h,
        Err(e) => {
            println!("host explore skipped: {e}");
            return;
        }
    };
    let universe = Universe::new(Interfaces::of(&host), uprobe, false);
    let prefix = host.prefix.clone();
    let r = run(
        &mut host,
        &universe,
        Budget::Duration(Duration::from_secs(HOST_SECONDS)),
        &prefix,
    );
    let (_, dirty) = host.finish();
    print(
        &format!(
            "host {}",
            nix::sys::utsname::uname()
                .unwrap()
                .release()
                .to_string_lossy()
        ),
        &r,
    );
    if !dirty.is_empty() {
        println!("the host was left changed: {}", dirty.join("; "));
    }
}
