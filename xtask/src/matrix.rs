//! `cargo xtask matrix [--kernels LIST]`: the host and each test-VM kernel, one row each:
//! kernel, model policy, attach backends, scenario verdicts, findings; then the known bugs
//! (the `cves` the scenarios name) by kernel: what their triggers showed there. Written as
//! tables, as JSON and as Markdown (target/rethfs-matrix.{json,md}).

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
    // Findings are numbered from 1 in report order; the baseline's judgement names the known.
    let known: BTreeSet<u64> = report["baseline"]["known"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["finding"].as_u64())
        .collect();
    let findings: BTreeSet<String> = verdicts
        .iter()
        .flat_map(|v| v["findings"].as_array().cloned().unwrap_or_default())
        .zip(1..)
        .map(|(f, n)| {
            let what = match f["invariant"].as_str() {
                Some(i) => format!("{i} ({})", f["side"].as_str().unwrap_or("")),
                None => f["kind"].as_str().unwrap_or("divergence").replace('_', " "),
            };
            if known.contains(&n) {
                format!("{what}, known")
            } else {
                what
            }
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

/// The verdicts of `report` whose scenario runs the trigger of `cve`.
fn tagged<'a>(report: &'a serde_json::Value, cve: &str) -> Vec<&'a serde_json::Value> {
    report["verdicts"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| {
                    v["cves"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c == cve))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `text` cut to a table cell's length.
fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(100) {
        Some((at, _)) => format!("{}...", &one_line[..at]),
        None => one_line,
    }
}

/// What the scenarios that run `cve`'s trigger showed on the kernel of `report`: the kernel
/// failing (`reproduced`, with what it said), or the trigger ran without that (with what
/// could have hidden a symptom, the other findings to read in the report, and what was left
/// undecided), or not applicable (why the scenarios were skipped before running), or not
/// run there at all.
fn cve_cell(report: &serde_json::Value, cve: &str) -> String {
    let verdicts = tagged(report, cve);
    if verdicts.is_empty() {
        return "not run (races are opt-in on a host: `rethfs run --races`)".into();
    }
    let findings: Vec<serde_json::Value> = verdicts
        .iter()
        .flat_map(|v| v["findings"].as_array().cloned().unwrap_or_default())
        .collect();
    let kind = |f: &serde_json::Value| f["invariant"].as_str().unwrap_or("divergence").to_owned();
    if let Some(f) = findings.iter().find(|f| kind(f) == "kernel-survives") {
        return format!(
            "reproduced: {}",
            short(f["host"].as_str().unwrap_or_default())
        );
    }
    // Nothing ran: every step skipped (a feature the kernel lacks), or none to run.
    if verdicts
        .iter()
        .all(|v| v["skipped_steps"].as_u64().unwrap_or(0) == v["steps"].as_u64().unwrap_or(0))
    {
        let why = verdicts[0]["reason"].as_str().unwrap_or("skipped");
        return format!("not applicable: {why}");
    }
    let mut cell = match report["host"]["config"]["options"]["CONFIG_KASAN"].as_str() {
        Some("y") => "ran, the kernel survived (KASAN on)".to_owned(),
        Some(_) => "ran, the kernel survived (no KASAN: a use after free may pass unseen)".into(),
        None => "ran, the kernel survived (config unknown: KASAN may be off)".into(),
    };
    let others: BTreeSet<String> = findings.iter().map(kind).collect();
    if !others.is_empty() {
        let others: Vec<String> = others.into_iter().collect();
        cell.push_str(&format!(
            "; other findings: {} (see the report)",
            others.join(", ")
        ));
    }
    if let Some(why) = verdicts
        .iter()
        .filter(|v| v["status"] == "skipped")
        .find_map(|v| v["reason"].as_str())
    {
        cell.push_str(&format!("; undecided: {why}"));
    }
    cell
}

/// A kernel that died before rethfs could report, as its guest's console shows it: the
/// scenario rethfs had begun when the kernel first failed, and the kernel's words.
#[derive(Debug, PartialEq)]
struct Death {
    scenario: Option<String>,
    said: String,
}

/// What marks the kernel failing on a console (the first such line starts its words).
const FAILED: [&str; 5] = [
    "BUG:",
    "Oops:",
    "general protection fault",
    "Kernel panic",
    "WARNING:",
];

/// The death `console` shows, if the kernel failed there: its first failure line, the
/// faulting kernel function's `RIP` line after it, and the last panic line.
fn death(console: &str) -> Option<Death> {
    let lines: Vec<&str> = console.lines().collect();
    let first = lines
        .iter()
        .position(|l| FAILED.iter().any(|f| l.contains(f)))?;
    // The console line without its timestamp: `[   39.5919] BUG: ...`.
    let words = |l: &str| l.split_once("] ").map_or(l, |(_, w)| w).trim().to_owned();
    let mut said = vec![words(lines[first])];
    said.extend(
        lines[first..]
            .iter()
            .find(|l| l.contains("RIP: 0010:"))
            .map(|l| words(l)),
    );
    said.extend(
        lines[first..]
            .iter()
            .rev()
            .find(|l| l.contains("Kernel panic"))
            .map(|l| words(l)),
    );
    let scenario = lines[..first].iter().rev().find_map(|l| {
        let (_, name) = l.strip_prefix(vm::SCENARIO_BEGUN)?.split_once(": ")?;
        Some(name.split(", step ").next()?.to_owned())
    });
    said.dedup();
    Some(Death {
        scenario,
        said: said.join("; "),
    })
}

/// The cell of `cve` for a kernel that died: reproduced when the scenario it died in runs that
/// bug's trigger (as `tags`, the other reports, say), else where it died.
fn death_cell(death: &Death, cve: &str, tags: &dyn Fn(&str, &str) -> bool) -> String {
    match &death.scenario {
        Some(s) if tags(s, cve) => format!(
            "reproduced: {} (in `{s}`; the guest then died, no report)",
            death.said
        ),
        Some(s) => format!(
            "no report: the kernel failed in `{s}`: {}",
            short(&death.said)
        ),
        None => format!("no report: the kernel failed: {}", short(&death.said)),
    }
}

/// The known bugs by kernel, one row per bug the reports' scenarios name, in id order.
fn cve_table(reports: &[(String, Option<serde_json::Value>)], deaths: &[Option<Death>]) -> String {
    let cves: BTreeSet<String> = reports
        .iter()
        .filter_map(|(_, r)| r.as_ref())
        .flat_map(|r| r["verdicts"].as_array().cloned().unwrap_or_default())
        .flat_map(|v| v["cves"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let mut out = format!(
        "| bug | {} |\n|---|{}\n",
        reports
            .iter()
            .map(|(w, r)| match r {
                Some(r) => format!("{w} ({})", r["host"]["kernel"].as_str().unwrap_or("?")),
                None => format!("{w} (no report)"),
            })
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(reports.len())
    );
    // Which scenario runs which bug's trigger, from the reports there are.
    let tags = |scenario: &str, cve: &str| {
        reports.iter().filter_map(|(_, r)| r.as_ref()).any(|r| {
            tagged(r, cve)
                .iter()
                .any(|v| v["scenario"].as_str() == Some(scenario))
        })
    };
    for cve in &cves {
        let cells: Vec<String> = reports
            .iter()
            .zip(deaths)
            .map(|((_, r), d)| match (r, d) {
                (Some(r), _) => cve_cell(r, cve),
                (None, Some(d)) => death_cell(d, cve, &tags),
                (None, None) => "no report".into(),
            })
            .map(|c| c.replace('|', "\\|").replace('\n', " "))
            .collect();
        out.push_str(&format!("| {cve} | {} |\n", cells.join(" | ")));
    }
    out
}

pub fn run(kernels: &[String], timeout: u64) -> Result<u8> {
    setup::run()?;
    let target = workspace_root().join("target");
    let mut reports = Vec::new();
    let mut deaths = vec![None];
    // The host first.
    let rethfs = build_rethfs()?;
    let host_json = target.join("rethfs-run.json");
    let baseline = workspace_root().join("baselines/known.toml");
    process::status(
        privilege::as_root(&rethfs)?
            .arg("run")
            .arg("--baseline")
            .arg(&baseline)
            .arg("--json")
            .arg(&host_json),
    )?;
    reports.push(("host".to_owned(), fs::read_to_string(&host_json).ok()));
    for (i, k) in kernels.iter().enumerate() {
        eprintln!("xtask: matrix: kernel {} of {}: {k}", i + 1, kernels.len());
        let outcome = vm::run(k, None, &[], timeout);
        let path = target.join(format!("rethfs-vm-{k}.json"));
        if let Err(e) = &outcome {
            eprintln!("xtask: kernel {k}: {e:#}");
        }
        let report = outcome.ok().and_then(|_| fs::read_to_string(path).ok());
        // Without a report, what the console says of a kernel that died.
        let died = match report {
            Some(_) => None,
            None => fs::read_to_string(vm::console(k))
                .ok()
                .and_then(|c| death(&c)),
        };
        reports.push((k.clone(), report));
        deaths.push(died);
    }
    let mut table = String::from(
        "| where | kernel | policy | backends | pass | divergence | violation | skipped | findings |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut json = Vec::new();
    let mut parsed = Vec::new();
    for ((where_, report), died) in reports.iter().zip(&deaths) {
        let Some(text) = report else {
            let why = died.as_ref().map_or(String::new(), |d| {
                format!("the kernel failed: {}", short(&d.said))
            });
            table.push_str(&format!("| {where_} | (no report) | | | | | | | {why} |\n"));
            parsed.push((where_.clone(), None));
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text).context("a run report")?;
        parsed.push((where_.clone(), Some(value.clone())));
        let r = row(&value);
        let [p, d, v, s] = r.counts;
        table.push_str(&format!(
            "| {where_} | {} | {} | {} | {p} | {d} | {v} | {s} | {} |\n",
            r.kernel, r.policy, r.backends, r.findings
        ));
        json.push(serde_json::json!({"where": where_, "report": value}));
    }
    table.push('\n');
    table.push_str(&cve_table(&parsed, &deaths));
    print!("{table}");
    fs::write(target.join("rethfs-matrix.md"), &table)?;
    fs::write(
        target.join("rethfs-matrix.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("xtask: matrix in target/rethfs-matrix.md and .json");
    Ok(u8::from(reports.iter().any(|(_, r)| r.is_none())) * 2)
}

#[cfg(test)]
mod tests {
    use super::{Death, cve_cell, death, death_cell};
    use serde_json::json;

    #[test]
    fn a_guest_that_died_is_read_off_its_console() {
        // 6.12.107's console under churn: the oops, then a second fault that panicked it.
        let console = "rethfs-vm: init ran\n\
            rethfs run: scenario 20 of 26: open-removal\n\
            rethfs run: scenario 21 of 26: churn\n\
            [   39.591906] BUG: kernel NULL pointer dereference, address: 0000000000000050\n\
            [   39.596803] #PF: supervisor read access in kernel mode\n\
            [   39.598075] RIP: 0010:eventfs_iterate+0x29c/0x340\n\
            [   39.601987] RIP: 0033:0x7f837618fb62\n\
            [   61.096943] Oops: double fault: 0000 [#2] PREEMPT SMP NOPTI\n\
            [   61.111295] Kernel panic - not syncing: Fatal exception in interrupt\n";
        let d = death(console).unwrap();
        assert_eq!(
            d,
            Death {
                scenario: Some("churn".into()),
                said: "BUG: kernel NULL pointer dereference, address: 0000000000000050; RIP: \
                       0010:eventfs_iterate+0x29c/0x340; Kernel panic - not syncing: Fatal \
                       exception in interrupt"
                    .into(),
            }
        );
        let tags = |s: &str, cve: &str| s == "churn" && cve == "CVE-2026-74605";
        assert!(death_cell(&d, "CVE-2026-74605", &tags).starts_with("reproduced: BUG: kernel"));
        assert!(
            death_cell(&d, "CVE-2024-36963", &tags)
                .starts_with("no report: the kernel failed in `churn`")
        );
        assert_eq!(
            death("rethfs-vm: init ran\nrethfs run: scenario 1 of 1: x\n"),
            None
        );
    }

    fn report(verdicts: serde_json::Value, kasan: &str) -> serde_json::Value {
        json!({
            "verdicts": verdicts,
            "host": {"kernel": "k", "config": {"options": {"CONFIG_KASAN": kasan}}},
        })
    }

    #[test]
    fn a_cell_says_what_the_tagged_scenarios_showed() {
        let cve = "CVE-2026-74605";
        let oops = json!([{"cves": [cve], "status": "violation", "steps": 9, "findings": [
            {"invariant": "linearizable", "host": "ENOENT"},
            {"invariant": "kernel-survives", "host": "the kernel failed in eventfs_iterate"},
        ]}]);
        assert_eq!(
            cve_cell(&report(oops, "not set"), cve),
            "reproduced: the kernel failed in eventfs_iterate"
        );
        let clean = json!([
            {"cves": [cve], "status": "pass", "steps": 9, "findings": []},
            {"cves": ["CVE-2024-36963"], "status": "violation", "steps": 9,
                "findings": [{"host": "x"}]},
        ]);
        assert!(cve_cell(&report(clean.clone(), "not set"), cve).contains("no KASAN"));
        assert_eq!(
            cve_cell(&report(clean, "y"), cve),
            "ran, the kernel survived (KASAN on)"
        );
        let other = json!([
            {"cves": [cve], "status": "violation", "steps": 9,
                "findings": [{"invariant": "linearizable", "host": "x"}]},
            {"cves": [cve], "status": "skipped", "reason": "the search gave up", "steps": 9,
                "findings": []},
        ]);
        assert_eq!(
            cve_cell(&report(other, "y"), cve),
            "ran, the kernel survived (KASAN on); other findings: linearizable (see the \
             report); undecided: the search gave up"
        );
        let skipped = json!([{"cves": [cve], "status": "skipped", "reason": "no eventfs",
            "steps": 0, "findings": []}]);
        assert_eq!(
            cve_cell(&report(skipped, "y"), cve),
            "not applicable: no eventfs"
        );
        let refused = json!([{"cves": [cve], "status": "skipped", "steps": 2,
            "skipped_steps": 2, "reason": "this kernel has no user_events", "findings": []}]);
        assert_eq!(
            cve_cell(&report(refused, "y"), cve),
            "not applicable: this kernel has no user_events"
        );
        assert!(cve_cell(&report(json!([]), "y"), cve).starts_with("not run"));
    }
}
