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
    // One closing line over every test binary, ignored tests counted as skipped.
    println!(
        "summary: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
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
    use super::Totals;

    #[test]
    fn sums_libtest_result_lines() {
        let mut t = Totals::default();
        t.add("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.50s");
        t.add("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add("test foo ... ok");
        assert_eq!((t.passed, t.failed, t.ignored), (5, 1, 1));
    }
}
