//! The verdict table: one line per scenario, then every finding with both sides' answers.

use std::fmt::Write;

use crate::{
    baseline::Judgement,
    check::{FindingKind, LifetimeCheck, Side, Status, Verdict},
};

fn status(s: &Status) -> String {
    match s {
        Status::Pass => "pass".into(),
        Status::Divergence => "DIVERGENCE".into(),
        Status::Violation => "VIOLATION".into(),
        Status::Skipped(why) => format!("skipped ({why})"),
    }
}

pub fn table(header: &str, verdicts: &[Verdict]) -> String {
    let mut s = format!("rethfs run: {header}\n");
    let _ = writeln!(
        s,
        "{:<11} {:<12} {:>5} {:>8} {:>9}  LIFETIMES (host/model events)",
        "SCENARIO", "RESULT", "STEPS", "SKIPPED", "FINDINGS"
    );
    for v in verdicts {
        let lifetimes = match &v.lifetimes {
            LifetimeCheck::Made { host, model } => format!("checked ({host}/{model})"),
            LifetimeCheck::NotMade(_) => "not checked".to_owned(),
        };
        let _ = writeln!(
            s,
            "{:<11} {:<12} {:>5} {:>8} {:>9}  {lifetimes}",
            v.scenario,
            status(&v.status),
            v.steps,
            v.skipped_steps,
            v.findings.len()
        );
    }
    // One line for the reasons lifetimes went unchecked, said once when all share it.
    let reasons: std::collections::BTreeSet<&str> = verdicts
        .iter()
        .filter_map(|v| match &v.lifetimes {
            LifetimeCheck::NotMade(why) if !matches!(v.status, Status::Skipped(_)) => {
                Some(why.as_str())
            }
            _ => None,
        })
        .collect();
    for why in reasons {
        let _ = writeln!(s, "lifetimes not checked: {why}");
    }
    for v in verdicts {
        for note in &v.notes {
            let _ = writeln!(s, "note: {}: {note}", v.scenario);
        }
        for f in &v.findings {
            let what = match &f.kind {
                FindingKind::Divergence => "divergence".to_owned(),
                FindingKind::LifetimeDivergence => "lifetime divergence".to_owned(),
                FindingKind::Violation {
                    invariant,
                    side: Side::Both,
                } => {
                    format!("violation of {invariant} (kernel finding, the model agrees)")
                }
                FindingKind::Violation { invariant, side } => {
                    format!("violation of {invariant} on the {side:?} side")
                }
            };
            let _ = writeln!(
                s,
                "\n{} step {} (line {}): {}\n  {what}: {}",
                v.scenario, f.step, f.line, f.action, f.detail
            );
            for note in &f.notes {
                let _ = writeln!(s, "  {note}");
            }
            for (side, text) in [("host: ", &f.host), ("model:", &f.model)] {
                if !text.is_empty() {
                    let _ = writeln!(s, "  {side} {text}");
                }
            }
        }
    }
    let count = |p: fn(&Status) -> bool| verdicts.iter().filter(|v| p(&v.status)).count();
    let _ = writeln!(
        s,
        "\n{} pass, {} divergence, {} violation, {} skipped",
        count(|s| *s == Status::Pass),
        count(|s| *s == Status::Divergence),
        count(|s| *s == Status::Violation),
        count(|s| matches!(s, Status::Skipped(_)))
    );
    s
}

/// The observer's line: what it delivered and lost, and what the hooks this kernel lacks keep
/// from being compared.
pub fn observer(o: Option<&serde_json::Value>) -> String {
    let Some(o) = o else {
        return String::new();
    };
    let mut s = format!(
        "observer: {}, {} kernel records, {} lost ({} of them runs the kernel skipped)\n",
        o["name"].as_str().unwrap_or_default(),
        o["records"],
        o["lost"],
        o["skipped"]
    );
    for h in o["hooks"].as_array().into_iter().flatten() {
        // Left out by choice (the dcache where tracefs has its own, --hooks full) is not
        // missing.
        let detail = h["detail"].as_str().unwrap_or_default();
        if h["attached"] == false && h["left_out"] != true {
            let _ = writeln!(
                s,
                "not seen, not compared: {} ({}: {detail})",
                h["sees"].as_str().unwrap_or_default(),
                h["function"].as_str().unwrap_or_default(),
            );
        }
    }
    s
}

/// A run's findings against its baseline.
pub fn baseline(j: &Judgement) -> String {
    let mut s = format!(
        "baseline {}: {} known, {} new, {} fixed\n",
        j.file,
        j.known.len(),
        j.new.len(),
        j.fixed.len()
    );
    for e in &j.fixed {
        let _ = writeln!(
            s,
            "fixed: {} in {} (the baseline's reason: {})",
            e.signature, e.scenario, e.reason
        );
    }
    s
}
