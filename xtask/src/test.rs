//! `cargo xtask test`: every test, with the host tests (root, real tracefs) included when root.

use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail, ensure};

use crate::{
    pins::{cargo, workspace_root},
    privilege, process,
    run::build_rethfs,
    setup,
};

pub fn run() -> Result<u8> {
    setup::run()?;
    // The integration tests drive the binary, so it must be current.
    build_rethfs()?;
    let mut test = cargo();
    test.args([
        "test",
        "--release",
        "--workspace",
        "--exclude",
        "rethfs-ebpf",
        "--no-fail-fast",
    ]);
    // --show-output: the figures tests print (the kill campaign's counts) reach the log.
    test.args(["--", "--show-output"]);
    if privilege::is_root() {
        test.arg("--include-ignored");
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

/// The tests that boot a test VM, counted like tests; true when one failed. The catalogue
/// runs once per entry of [`VM_TESTS`], each observer forced: the kernel and the model must
/// agree on outcomes and lifetimes, with no record lost. Then the user's own scenario files
/// must reach the guest, and the readdir finding's C reproducer must judge each kernel of
/// [`REPRODUCER_EXITS`] as expected.
fn vm_tests(totals: &mut Totals) -> bool {
    let mut failed = false;
    for (kernel, observer) in VM_TESTS {
        let name = format!("vm::{kernel}::{observer}::catalogue_lifetimes");
        failed |= vm_count(totals, &name, || vm_test(kernel, observer));
    }
    failed |= vm_count(totals, "vm::6.12::user_scenario_files", user_scenario_files);
    let mut repro = None;
    failed |= vm_count(
        totals,
        &format!("vm::{REPRODUCER_FROM}::readdir_reproducer_written"),
        || {
            repro = Some(readdir_reproducer()?);
            Ok(())
        },
    );
    for (kernel, want) in REPRODUCER_EXITS {
        let name = format!("vm::{kernel}::readdir_reproducer_exits_{want}");
        failed |= vm_count(totals, &name, || {
            let program = repro.as_deref().context("no reproducer was written")?;
            let code = crate::vm::run(kernel, Some(program), &[], 300)?;
            ensure!(code == want, "the reproducer exited {code}, not {want}");
            Ok(())
        });
    }
    failed
}

/// The kernel whose run writes the readdir d_off finding's reproducer: one that shows it.
const REPRODUCER_FROM: &str = "7.3";

/// What that reproducer must exit with: 1 where eventfs's readdir resumes past an entry after a
/// seek (6.12 and 7.3, as on this host), 0 on 6.1, whose events are plain dcache directories.
/// This checks the reproducer against the kernels' known behaviour, not the kernels.
const REPRODUCER_EXITS: [(&str, u8); 3] = [("6.1", 0), ("6.12", 1), ("7.3", 1)];

/// `rethfs run --scenario readdir --repro` in a [`REPRODUCER_FROM`] guest, then the C
/// reproducer it wrote built on the host by the command its header gives: the static program,
/// copied to `target/readdir-repro`.
fn readdir_reproducer() -> Result<PathBuf> {
    let args = ["run", "--scenario", "readdir", "--repro", "repro"].map(String::from);
    let code = crate::vm::run(REPRODUCER_FROM, None, &args, 600)?;
    ensure!(
        code == 1,
        "the readdir run exited {code}, not 1 (its finding)"
    );
    let out = workspace_root().join(format!("target/rethfs-vm-{REPRODUCER_FROM}/repro"));
    // The first finding's: directories are named by finding number.
    let dir = fs::read_dir(&out)
        .with_context(|| out.display().to_string())?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|d| d.join("repro.c").is_file())
        .min()
        .with_context(|| format!("no repro.c below {}", out.display()))?;
    let source = fs::read_to_string(dir.join("repro.c"))?;
    let build = source
        .lines()
        .find_map(|l| l.split_once("Build: "))
        .and_then(|(_, b)| b.split("   (").next())
        .context("repro.c's header gives no build command")?;
    process::run(Command::new("sh").args(["-c", build]).current_dir(&dir))?;
    // Out of target/rethfs-vm-*, which the next boot of that kernel empties.
    let program = workspace_root().join("target/readdir-repro");
    fs::copy(dir.join("repro"), &program)?;
    Ok(program)
}

/// Runs VM test `name` when root and a Debian archive is known, prints its line and counts
/// it; true when it failed.
fn vm_count(totals: &mut Totals, name: &str, test: impl FnOnce() -> Result<()>) -> bool {
    if !privilege::is_root() {
        println!("test {name} ... skipped: needs root (qemu and the kernel cache)");
        totals.ignored += 1;
        return false;
    }
    if let Err(e) = crate::vm::archive_uri() {
        println!("test {name} ... skipped: {e} (set RETHFS_DEBIAN_ARCHIVE)");
        totals.ignored += 1;
        return false;
    }
    match test() {
        Ok(()) => {
            println!("test {name} ... ok");
            totals.passed += 1;
            false
        }
        Err(e) => {
            println!("test {name} ... FAILED\n{e:#}");
            totals.failed += 1;
            true
        }
    }
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
    let code = crate::vm::run(kernel, None, &args, 600)?;
    let path = workspace_root().join(format!("target/rethfs-vm-{kernel}.json"));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    agreement(&report, observer, code)
}

/// Scenario files of the user's, named as `cargo xtask vm -- run --scenario FILE` would:
/// one by a path relative to the current directory, one by an absolute path with a space.
const USER_SCENARIOS: [(&str, &str); 2] = [
    (
        "user-a",
        r#"name = "user-a"
description = "a uprobe event, looked up, removed, looked up again"
[[step]]
op = "control"
file = "uprobe_events"
line = "p:{prefix}/ev {uprobe}"
[[step]]
op = "stat"
path = "events/{prefix}/ev/enable"
[[step]]
op = "control"
file = "uprobe_events"
line = "-:{prefix}/ev"
[[step]]
op = "stat"
path = "events/{prefix}/ev/enable"
"#,
    ),
    (
        "user-b",
        r#"name = "user-b"
description = "the events directory listed"
[[step]]
op = "list"
path = "events"
"#,
    ),
];

/// Both [`USER_SCENARIOS`] must reach a 6.12 guest from their host files and pass there.
fn user_scenario_files() -> Result<()> {
    let pid = std::process::id();
    let near = workspace_root().join(format!("target/xtask-vm-test-{pid}"));
    let spaced = PathBuf::from(format!("/tmp/rethfs vm test {pid}"));
    let result = (|| {
        let [(a, a_toml), (b, b_toml)] = USER_SCENARIOS;
        for (dir, name, toml) in [(&near, a, a_toml), (&spaced, b, b_toml)] {
            fs::create_dir_all(dir)?;
            fs::write(dir.join(format!("{name}.toml")), toml)?;
        }
        // `cargo xtask` runs in the user's directory, somewhere in the workspace.
        let cwd = std::env::current_dir()?.canonicalize()?;
        let relative = relative_to(&cwd, &near.canonicalize()?).join(format!("{a}.toml"));
        let absolute = spaced.join(format!("{b}.toml"));
        let args = [
            "run",
            "--scenario",
            relative.to_str().context("the relative path")?,
            "--scenario",
            absolute.to_str().context("the absolute path")?,
            "--json",
            "report.json",
        ]
        .map(String::from);
        let code = crate::vm::run("6.12", None, &args, 600)?;
        let path = workspace_root().join("target/rethfs-vm-6.12.json");
        let report: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(&path).with_context(|| path.display().to_string())?,
        )?;
        all_passed(&report, &[a, b], code)
    })();
    for dir in [&near, &spaced] {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

/// The relative path from directory `from` to `to`, both canonical.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(f, t)| f == t)
        .count();
    let mut path: PathBuf = from.components().skip(common).map(|_| "..").collect();
    path.extend(to.components().skip(common));
    path
}

/// A run of exactly `scenarios` that all passed (exit 0, or 1 for a finding that then shows
/// as a verdict that did not pass).
fn all_passed(report: &serde_json::Value, scenarios: &[&str], code: u8) -> Result<()> {
    let verdicts = report["verdicts"].as_array().cloned().unwrap_or_default();
    let ran: Vec<&str> = verdicts
        .iter()
        .map(|v| v["scenario"].as_str().unwrap_or("?"))
        .collect();
    if code > 1 || ran != scenarios {
        bail!("rethfs exited {code} having run {ran:?} instead of {scenarios:?}");
    }
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| v["status"] != "pass")
        .map(|v| format!("{}: {} {}", v["scenario"], v["status"], v["reason"]))
        .collect();
    if !failed.is_empty() {
        bail!("scenarios that did not pass:\n{}", failed.join("\n"));
    }
    Ok(())
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
    use super::{Totals, agreement, all_passed, relative_to};
    use serde_json::json;
    use std::path::{Path, PathBuf};

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        let rel = |from, to| relative_to(Path::new(from), Path::new(to));
        assert_eq!(rel("/w", "/w/target/t"), PathBuf::from("target/t"));
        assert_eq!(
            rel("/w/xtask/src", "/w/target/t"),
            PathBuf::from("../../target/t")
        );
    }

    #[test]
    fn a_user_scenario_run_passes_only_when_each_scenario_ran_and_passed() {
        let report = |statuses: &[(&str, &str)]| {
            let v: Vec<_> = statuses
                .iter()
                .map(|(s, st)| json!({"scenario": s, "status": st, "reason": "why"}))
                .collect();
            json!({ "verdicts": v })
        };
        let both = report(&[("a", "pass"), ("b", "pass")]);
        assert!(all_passed(&both, &["a", "b"], 0).is_ok());
        assert!(all_passed(&both, &["a", "b"], 2).is_err());
        assert!(all_passed(&report(&[("a", "pass")]), &["a", "b"], 0).is_err());
        let skipped = report(&[("a", "pass"), ("b", "skipped")]);
        assert!(all_passed(&skipped, &["a", "b"], 0).is_err());
        let finding = report(&[("a", "violation"), ("b", "pass")]);
        assert!(all_passed(&finding, &["a", "b"], 1).is_err());
    }

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
