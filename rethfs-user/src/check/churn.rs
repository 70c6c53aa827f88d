//! The churn oracle: nothing finds a path strictly after its removal returned and before its
//! next creation began; and the kernel survives the load.

use std::time::Instant;

use super::{Finding, FindingKind, Side};
use crate::host::churn::{Churn, ReadOp};

fn violation(
    step: usize,
    action: String,
    invariant: &'static str,
    host: String,
    detail: String,
) -> Finding {
    Finding {
        step,
        line: 0,
        action,
        kind: FindingKind::Violation {
            invariant,
            side: Side::Host,
        },
        host,
        model: String::new(),
        notes: Vec::new(),
        detail,
    }
}

/// Reads that found the event inside a window where it did not exist.
fn stale_reads(cycles: &[(Instant, Instant, Instant, Instant)], reads: &[ReadOp]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, cycle) in cycles.iter().enumerate() {
        let removed = cycle.3;
        let next_creation = cycles.get(i + 1).map(|c| c.0);
        for op in reads
            .iter()
            .filter(|o| o.found && o.start > removed && next_creation.is_none_or(|n| o.end < n))
        {
            out.push(violation(
                i + 1,
                format!("{} during cycle {}", op.what, i + 1),
                "no-access-after-removal",
                "found the event".into(),
                format!(
                    "began {:?} after the removal returned, ended before the next creation began",
                    op.start - removed
                ),
            ));
        }
    }
    out
}

pub fn oracle(c: &Churn) -> Vec<Finding> {
    let mut out = stale_reads(&c.writer.cycles, &c.reads);
    if c.readers_lost > 0 || !c.oopses.is_empty() {
        out.push(violation(
            c.writer.cycles.len(),
            "concurrent getdents/stat/open against probe removal".into(),
            "kernel-survives",
            format!("{} reader thread(s) killed in the kernel", c.readers_lost),
            format!("kernel log: {}", c.oopses.join(" | ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_read_that_finds_the_event_between_removal_and_recreation_is_a_violation() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Cycle 1 exists 0-10, removed by 20; cycle 2 created from 40.
        let cycles = [
            (at(0), at(10), at(15), at(20)),
            (at(40), at(45), at(50), at(55)),
        ];
        let read = |s, e, found| ReadOp {
            what: "stat",
            start: at(s),
            end: at(e),
            found,
        };
        let reads = [
            read(25, 30, true),  // inside the gap: stale
            read(25, 30, false), // inside the gap, not found: fine
            read(18, 22, true),  // overlaps the removal: allowed either way
            read(35, 42, true),  // overlaps the next creation: allowed
            read(60, 61, true),  // after the last removal: stale
        ];
        let found: Vec<usize> = stale_reads(&cycles, &reads)
            .iter()
            .map(|f| f.step)
            .collect();
        assert_eq!(found, [1, 2]);
    }

    #[test]
    fn a_killed_reader_is_a_kernel_finding() {
        let c = Churn {
            readers_lost: 1,
            oopses: vec!["RIP: 0010:eventfs_iterate+0x2ae".into()],
            ..Churn::default()
        };
        let f = oracle(&c);
        assert_eq!(f.len(), 1);
        assert!(matches!(
            f[0].kind,
            FindingKind::Violation {
                invariant: "kernel-survives",
                ..
            }
        ));
    }
}
