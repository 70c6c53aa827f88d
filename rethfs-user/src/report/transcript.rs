//! A scenario transcript as a table: each step, its outcome, and the lifetimes it caused.

use std::fmt::Write;

use crate::scenario::Transcript;

pub fn table(t: &Transcript, description: &str, kernel: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {}: {}",
        t.scenario,
        description.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(s, "target   {}, kernel {kernel}", t.target);
    let _ = writeln!(s, "{:>4} {:>5}  {:<60} OUTCOME", "STEP", "LINE", "ACTION");
    for step in &t.steps {
        let line = if step.line == 0 {
            "end".to_owned()
        } else {
            step.line.to_string()
        };
        let _ = writeln!(
            s,
            "{:>4} {:>5}  {:<60} {}",
            step.index,
            line,
            step.action.summary(),
            step.outcome
        );
        for l in &step.lifetimes {
            let _ = writeln!(
                s,
                "{:>12}{:<20} {}#{} refs {}{}",
                "",
                format!("{:?}", l.kind),
                l.path,
                l.generation,
                l.refs,
                if l.ino != 0 {
                    format!(" ino {}", l.ino)
                } else {
                    String::new()
                }
            );
        }
    }
    s
}

/// The built-in scenarios and what each checks.
pub fn catalogue(entries: &[(&str, &str)]) -> String {
    let mut s = String::from("built-in scenarios (rethfs model --scenario NAME):\n");
    for (name, text) in entries {
        let description = text
            .split("\"\"\"")
            .nth(1)
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let _ = writeln!(s, "  {name:<10} {description}");
    }
    s
}
