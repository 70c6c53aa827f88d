//! A run as JUnit XML, as CI systems read it (GitHub shows it as test results): one
//! testsuite, a testcase per scenario, a `<failure>` per finding no baseline knows (the suite
//! counts the cases that have one), a `<skipped>` for a scenario that did not run; known
//! findings go to the case's system-out.

use std::fmt::Write;

use super::run::RunReport;
use crate::check::{FindingKind, Status};

/// Text for an attribute or an element: XML's five escapes, and no control characters XML 1.0
/// cannot carry.
fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn render(report: &RunReport) -> String {
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    let mut n = 0;
    for v in &report.verdicts {
        let _ = writeln!(
            cases,
            "    <testcase classname=\"rethfs.run\" name=\"{}\">",
            xml(&v.scenario)
        );
        if let Status::Skipped(why) = &v.status {
            skipped += 1;
            let _ = writeln!(cases, "      <skipped message=\"{}\"/>", xml(why));
        }
        let mut out = String::new();
        let mut failed = false;
        for f in &v.findings {
            n += 1;
            let what = match &f.kind {
                FindingKind::Divergence => "divergence".to_owned(),
                FindingKind::LifetimeDivergence => "lifetime divergence".to_owned(),
                FindingKind::Violation { invariant, .. } => format!("violation of {invariant}"),
            };
            let text = format!(
                "step {} (line {}): {}\nhost:  {}\nmodel: {}\n{}",
                f.step, f.line, f.action, f.host, f.model, f.detail
            );
            match report.known(n) {
                Some(k) => {
                    let _ = writeln!(out, "known ({}): {what}\n{text}\n", k.reason);
                }
                None => {
                    failed = true;
                    let _ = writeln!(
                        cases,
                        "      <failure type=\"{}\" message=\"{} at step {}\">{}</failure>",
                        xml(&what),
                        xml(&what),
                        f.step,
                        xml(&text)
                    );
                }
            }
        }
        failures += usize::from(failed);
        for note in &v.notes {
            let _ = writeln!(out, "note: {note}");
        }
        if !out.is_empty() {
            let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&out));
        }
        cases.push_str("    </testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"rethfs run: \
         Linux {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
         {cases}  </testsuite>\n</testsuites>\n",
        xml(&report.host.kernel),
        report.verdicts.len()
    )
}
