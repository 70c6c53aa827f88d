//! A run as KTAP version 1 (Documentation/dev-tools/ktap.rst), as kselftest and ftracetest
//! `-K` print it: a plan, one test per scenario, each finding an indented subtest printed
//! before its scenario's result, with the host's and the model's answers as `#` lines. A
//! finding a baseline knows is `ok ... # XFAIL` (kselftest's expected failure); a skipped
//! scenario `ok ... # SKIP reason`.

use std::fmt::Write;

use super::run::RunReport;
use crate::check::{FindingKind, Status};

/// Text after `#` and in names stays on its line.
fn line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

pub fn render(report: &RunReport) -> String {
    let mut out = String::from("KTAP version 1\n");
    let _ = writeln!(out, "1..{}", report.verdicts.len());
    let _ = writeln!(
        out,
        "# rethfs run: host Linux {} against the model, policy {}",
        report.host.kernel, report.policy
    );
    let mut n = 0;
    for (i, v) in report.verdicts.iter().enumerate() {
        let mut failed = false;
        if !v.findings.is_empty() {
            let _ = writeln!(out, "  KTAP version 1");
            let _ = writeln!(out, "  1..{}", v.findings.len());
        }
        for (j, f) in v.findings.iter().enumerate() {
            n += 1;
            let what = match &f.kind {
                FindingKind::Divergence => "divergence".to_owned(),
                FindingKind::LifetimeDivergence => "lifetime-divergence".to_owned(),
                FindingKind::Violation { invariant, .. } => invariant.to_string(),
            };
            let name = line(&format!("{what} at step {} ({})", f.step, f.action));
            match report.known(n) {
                Some(k) => {
                    let _ = writeln!(out, "  ok {} {name} # XFAIL {}", j + 1, line(&k.reason));
                }
                None => {
                    failed = true;
                    let _ = writeln!(out, "  not ok {} {name}", j + 1);
                }
            }
            for (label, text) in [
                ("host", &f.host),
                ("model", &f.model),
                ("detail", &f.detail),
            ] {
                if !text.is_empty() {
                    let _ = writeln!(out, "  # {label}: {}", line(text));
                }
            }
        }
        let result = match &v.status {
            Status::Skipped(why) => format!("ok {} {} # SKIP {}", i + 1, v.scenario, line(why)),
            _ if failed => format!("not ok {} {}", i + 1, v.scenario),
            _ => format!("ok {} {}", i + 1, v.scenario),
        };
        let _ = writeln!(out, "{result}");
    }
    if !report.host_left_dirty.is_empty() {
        let _ = writeln!(
            out,
            "# host left changed: {}",
            line(&report.host_left_dirty.join("; "))
        );
    }
    out
}
