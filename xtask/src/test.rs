//! `cargo xtask test`: every test, with the host tests (root, real tracefs) included when root.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result};

use crate::{pins::workspace_root, privilege, process, run::build_rethfs, setup};

pub fn run() -> Result<u8> {
    setup::run()?;
    // The integration tests drive the binary, so it must be current.
    build_rethfs()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut test = Command::new(cargo);
    test.current_dir(workspace_root()).args([
        "test",
        "--release",
        "--workspace",
        "--exclude",
        "rethfs-ebpf",
        "--no-fail-fast",
    ]);
    if privilege::is_root() {
        test.args(["--", "--include-ignored"]);
    } else {
        eprintln!(
            "xtask: not root: host tests (marked ignored) are skipped and counted as ignored"
        );
    }
    eprintln!("xtask: $ {}", process::render(&test));
    let mut child = test
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let mut totals = Totals::default();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.context("reading cargo test output")?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().context("waiting for cargo test")?;
    let vm_failed = vm_tests(&mut totals);
    // One closing line over every test binary and VM test, ignored tests counted as skipped.
    println!(
        "summary: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    let code = status.code().map_or(1, |c| c.clamp(0, 255) as u8);
    Ok(if code == 0 && vm_failed { 1 } else { code })
}

/// The kernels and observers the VM tests force in turn: the lifetime observer in both
/// flavours on an LTS kernel and on the newest series.
const VM_TESTS: [(&str, &str); 4] = [
    ("6.12", "fentry"),
    ("6.12", "kprobe"),
    ("7.3", "fentry"),
    ("7.3", "kprobe"),
];

/// The catalogue in a test VM per entry of [`VM_TESTS`], each observer forced: the kernel
/// and the model must agree on outcomes and lifetimes, with no record lost. Counted like
/// tests; true when one failed.
fn vm_tests(totals: &mut Totals) -> bool {
    let mut failed = false;
    for (kernel, observer) in VM_TESTS {
        let name = format!("vm::{kernel}::{observer}::catalogue_lifetimes");
        if !privilege::is_root() {
            println!("test {name} ... skipped: needs root (qemu and the kernel cache)");
            totals.ignored += 1;
            continue;
        }
        match vm_test(kernel, observer) {
            Ok(()) => {
                println!("test {name} ... ok");
                totals.passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e:#}");
                totals.failed += 1;
                failed = true;
            }
        }
    }
    failed
}

fn vm_test(kernel: &str, observer: &str) -> Result<()> {
    // The catalogue without the whole-tree audit (two minutes under TCG with an observer).
    let args = [
        "run",
        "--scenario",
        "catalogue",
        "--attach",
        observer,
        "--json",
        "report.json",
    ]
    .map(String::from);
    let code = crate::vm::run(kernel, &args, 600)?;
    let path = workspace_root().join(format!("target/rethfs-vm-{kernel}.json"));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    agreement(&report, observer, code)
}

/// What a VM run must show: the forced observer, nothing lost, every scenario's lifetimes
/// checked, and no difference between kernel and model (a kernel finding both show is fine).
fn agreement(report: &serde_json::Value, observer: &str, code: u8) -> Result<()> {
    let mut problems = Vec::new();
    if code > 1 {
        problems.push(format!("rethfs exited {code}"));
    }
    let o = &report["observer"];
    if o["name"] != observer {
        problems.push(format!("observer {} instead of {observer}", o["name"]));
    }
    if o["lost"] != 0 {
        problems.push(format!("{} records lost", o["lost"]));
    }
    for v in report["verdicts"].as_array().into_iter().flatten() {
        let scenario = v["scenario"].as_str().unwrap_or("?");
        if v["status"] == "skipped" {
            problems.push(format!("{scenario}: skipped: {}", v["reason"]));
            continue;
        }
        if v["lifetimes"]["status"] != "made" {
            problems.push(format!(
                "{scenario}: lifetimes not checked: {}",
                v["lifetimes"]["detail"]
            ));
        }
        for f in v["findings"].as_array().into_iter().flatten() {
            if f["kind"] != "violation" || f["side"] != "both" {
                problems.push(format!(
                    "{scenario} step {}: {} {}: {} (host: {}; model: {})",
                    f["step"], f["kind"], f["invariant"], f["detail"], f["host"], f["model"]
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("\n"))
    }
}

#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds the counts of a libtest `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Totals, agreement};
    use serde_json::json;

    #[test]
    fn a_vm_run_agrees_only_without_differences_losses_or_unchecked_lifetimes() {
        let verdict = |findings: serde_json::Value, lifetimes: &str| {
            json!({"scenario": "s", "status": "pass", "findings": findings,
                   "lifetimes": {"status": lifetimes, "detail": "why"}})
        };
        let report = |lost: u64, v: serde_json::Value| json!({"observer": {"name": "kprobe", "lost": lost}, "verdicts": [v]});
        let kernel_finding = json!([{"kind": "violation", "side": "both", "step": 1}]);
        assert!(agreement(&report(0, verdict(kernel_finding, "made")), "kprobe", 1).is_ok());
        assert!(agreement(&report(0, verdict(json!([]), "made")), "fentry", 0).is_err());
        assert!(agreement(&report(3, verdict(json!([]), "made")), "kprobe", 0).is_err());
        assert!(agreement(&report(0, verdict(json!([]), "not_made")), "kprobe", 0).is_err());
        let divergence = json!([{"kind": "lifetime_divergence", "step": 2}]);
        assert!(agreement(&report(0, verdict(divergence, "made")), "kprobe", 1).is_err());
        let one_sided = json!([{"kind": "violation", "side": "host", "step": 2}]);
        assert!(agreement(&report(0, verdict(one_sided, "made")), "kprobe", 1).is_err());
    }

    #[test]
    fn sums_libtest_result_lines() {
        let mut t = Totals::default();
        t.add("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.50s");
        t.add("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add("test foo ... ok");
        assert_eq!((t.passed, t.failed, t.ignored), (5, 1, 1));
    }
}
