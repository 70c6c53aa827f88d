//! The table `rethfs explore` prints: its figures, then one row per finding.

use std::fmt::Write as _;

use crate::explore::{Report, found::brief};

pub fn table(r: &Report, files: &[String]) -> String {
    let mut out = String::new();
    let shrink = r.findings.iter().fold(0.0, |s, f| s + f.shrink_seconds);
    let _ = writeln!(
        out,
        "rethfs explore: {} cases{} ({} steps) in {:.1} s: {:.1} cases/s, {:.0} steps/s; {} runs \
         in all, {:.1} s of them shrinking{}",
        r.cases,
        r.planned.map_or(String::new(), |n| format!(" of {n}")),
        r.steps,
        r.seconds,
        r.cases_per_second(),
        r.steps_per_second(),
        r.runs,
        shrink,
        if r.interrupted {
            "; interrupted, what was found is kept"
        } else {
            ""
        }
    );
    let skipped: u64 = r.skipped.values().sum();
    if skipped > 0 {
        let _ = writeln!(
            out,
            "{skipped} steps skipped on the host, which tested nothing:"
        );
        for (why, n) in &r.skipped {
            let _ = writeln!(out, "    {n:>7}  {}", brief(why));
        }
    }
    let l = &r.lifetimes;
    let _ = writeln!(
        out,
        "lifetimes compared in {} of {} cases ({} host, {} model events)",
        l.cases, r.cases, l.host_events, l.model_events
    );
    for (why, n) in &l.not_compared {
        let _ = writeln!(out, "    {n:>7}  not compared: {why}");
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "no findings");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<64} {:>6} {:>6} {:>8} {:>8} {:>10}",
        "FINDING", "CASES", "FIRST", "STEPS", "SHRINK", "REPRODUCED"
    );
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<64} {:>6} {:>6} {:>8} {:>7.1}s {:>7}/{}{}",
            f.signature.to_string(),
            f.count,
            f.first_case,
            format!("{}->{}", f.steps_before, f.steps_after),
            f.shrink_seconds,
            f.reproduced_shrunk.shown,
            f.reproduced_shrunk.tries,
            if f.flaky { " flaky" } else { "" }
        );
        if let Some(why) = &f.known {
            let _ = writeln!(out, "    known: {}", brief(why));
        }
        let _ = writeln!(out, "    {}", brief(&f.detail));
        let _ = writeln!(out, "    host:  {}", brief(&f.host));
        let _ = writeln!(out, "    model: {}", brief(&f.model));
        if let Some(file) = files.get(i) {
            let _ = writeln!(out, "    scenario: {file}");
        }
    }
    out
}
