//! `cargo xtask matrix [--kernels LIST]`: the host and each test-VM kernel, one row each:
//! kernel, model policy, attach backends, scenario verdicts, findings. Written as a table, as
//! JSON and as Markdown (target/rethfs-matrix.{json,md}).

use std::{collections::BTreeSet, fs};

use anyhow::{Context as _, Result};

use crate::{pins::workspace_root, privilege, process, run::build_rethfs, setup, vm};

/// One kernel's row, read off its `rethfs run` JSON report.
struct Row {
    kernel: String,
    policy: String,
    backends: String,
    counts: [usize; 4],
    findings: String,
}

fn row(report: &serde_json::Value) -> Row {
    let verdicts = report["verdicts"].as_array().cloned().unwrap_or_default();
    let count = |s: &str| verdicts.iter().filter(|v| v["status"] == s).count();
    let findings: BTreeSet<String> = verdicts
        .iter()
        .flat_map(|v| v["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| match f["invariant"].as_str() {
            Some(i) => format!("{i} ({})", f["side"].as_str().unwrap_or("")),
            None => "divergence".to_owned(),
        })
        .collect();
    let backends: Vec<String> = report["host"]["backends"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|b| b["available"] == true)
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .collect();
    Row {
        kernel: report["host"]["kernel"].as_str().unwrap_or("?").to_owned(),
        policy: report["policy"].as_str().unwrap_or("?").to_owned(),
        backends: backends.join(" "),
        counts: [
            count("pass"),
            count("divergence"),
            count("violation"),
            count("skipped"),
        ],
        findings: findings.into_iter().collect::<Vec<_>>().join(", "),
    }
}

pub fn run(kernels: &[String], timeout: u64) -> Result<u8> {
    setup::run()?;
    let target = workspace_root().join("target");
    let mut reports = Vec::new();
    // The host first.
    let rethfs = build_rethfs()?;
    let host_json = target.join("rethfs-run.json");
    process::status(
        privilege::as_root(&rethfs)?
            .args(["run", "--json"])
            .arg(&host_json),
    )?;
    reports.push(("host".to_owned(), fs::read_to_string(&host_json).ok()));
    for k in kernels {
        let outcome = vm::run(k, &[], timeout);
        let path = target.join(format!("rethfs-vm-{k}.json"));
        if let Err(e) = &outcome {
            eprintln!("xtask: kernel {k}: {e:#}");
        }
        reports.push((
            k.clone(),
            outcome.ok().and_then(|_| fs::read_to_string(path).ok()),
        ));
    }
    let mut table = String::from(
        "| where | kernel | policy | backends | pass | divergence | violation | skipped | findings |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut json = Vec::new();
    for (where_, report) in &reports {
        let Some(text) = report else {
            table.push_str(&format!("| {where_} | (no report) | | | | | | | |\n"));
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text).context("a run report")?;
        let r = row(&value);
        let [p, d, v, s] = r.counts;
        table.push_str(&format!(
            "| {where_} | {} | {} | {} | {p} | {d} | {v} | {s} | {} |\n",
            r.kernel, r.policy, r.backends, r.findings
        ));
        json.push(serde_json::json!({"where": where_, "report": value}));
    }
    print!("{table}");
    fs::write(target.join("rethfs-matrix.md"), &table)?;
    fs::write(
        target.join("rethfs-matrix.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("xtask: matrix in target/rethfs-matrix.md and .json");
    Ok(u8::from(reports.iter().any(|(_, r)| r.is_none())) * 2)
}
