//! A concurrent history as an SVG: one lane per thread, each call a bar from its call to its
//! return (a call that never returned runs to the right edge, dashed), the calls a finding
//! points at in red; hovering a bar shows the call, its times and its result.

use std::fmt::Write;

use crate::interface::Outcome;
use crate::race::history::History;

const LEFT: f64 = 160.0;
const LANE: f64 = 28.0;
const PLOT_WIDTH: f64 = 1100.0;
/// Calls drawn per history: more would be bars thinner than a pixel.
pub const MAX_CALLS: usize = 400;

/// One history to draw: the scenario, what is drawn of its history, the calls to mark.
pub struct Drawn {
    pub scenario: String,
    /// What the calls are (the smallest failing sub-history, or the calls before an oops).
    pub caption: String,
    pub history: History,
    pub marked: Vec<usize>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every history in `drawn`, one below the other, in one SVG document.
pub fn svg(drawn: &[Drawn]) -> String {
    let mut body = String::new();
    let mut y = 20.0;
    for d in drawn {
        let calls = &d.history.calls[..d.history.calls.len().min(MAX_CALLS)];
        let t0 = calls.iter().map(|c| c.call_ns).min().unwrap_or(0);
        let t1 = calls
            .iter()
            .map(|c| c.return_ns.unwrap_or(c.call_ns))
            .max()
            .unwrap_or(t0)
            .max(t0 + 1);
        let x = |t: u64| LEFT + (t.saturating_sub(t0)) as f64 / (t1 - t0) as f64 * PLOT_WIDTH;
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y:.0}" font-weight="bold">{}: {}</text>"#,
            escape(&d.scenario),
            escape(&d.caption)
        );
        let _ = writeln!(
            body,
            r#"<text x="{:.0}" y="{y:.0}" text-anchor="end">{:.1} µs</text>"#,
            LEFT + PLOT_WIDTH,
            (t1 - t0) as f64 / 1e3
        );
        y += 12.0;
        for (lane, name) in d.history.threads.iter().enumerate() {
            let top = y + lane as f64 * LANE;
            let _ = writeln!(
                body,
                r##"<text x="10" y="{:.0}">{}</text><line x1="{LEFT}" y1="{:.0}" x2="{:.0}" y2="{:.0}" stroke="#eee"/>"##,
                top + 17.0,
                escape(name),
                top + LANE,
                LEFT + PLOT_WIDTH,
                top + LANE
            );
        }
        for (i, c) in calls.iter().enumerate() {
            let top = y + c.thread as f64 * LANE + 6.0;
            let (x0, x1) = (x(c.call_ns), c.return_ns.map_or(LEFT + PLOT_WIDTH, x));
            let colour = if d.marked.contains(&i) {
                "#c62828"
            } else if matches!(c.outcome, Some(Outcome::Err(_))) {
                "#90a4ae"
            } else {
                "#42a5f5"
            };
            let dash = if c.return_ns.is_none() {
                r##" stroke="#c62828" stroke-dasharray="4 2" fill-opacity="0.4""##
            } else {
                ""
            };
            let outcome = c
                .outcome
                .as_ref()
                .map_or("(did not return)".to_owned(), Outcome::to_string);
            let _ = writeln!(
                body,
                r#"<rect x="{x0:.1}" y="{top:.1}" width="{:.1}" height="16" fill="{colour}"{dash}><title>{}: {} -> {} [+{:.1}..{} µs]</title></rect>"#,
                (x1 - x0).max(1.0),
                escape(&d.history.threads[c.thread]),
                escape(&c.action.summary()),
                escape(&outcome),
                (c.call_ns - t0) as f64 / 1e3,
                c.return_ns.map_or("never".to_owned(), |r| format!(
                    "+{:.1}",
                    (r - t0) as f64 / 1e3
                ))
            );
        }
        y += d.history.threads.len() as f64 * LANE + 30.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{y:.0}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
{body}</svg>
"#,
        LEFT + PLOT_WIDTH + 20.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::{Action, Errno};
    use crate::race::history::Call;

    fn call(thread: usize, at: u64, ret: Option<u64>, outcome: Option<Outcome>) -> Call {
        Call {
            thread,
            action: Action::Stat {
                path: "events/g/e/enable".into(),
            },
            line: 1,
            call_ns: at,
            return_ns: ret,
            outcome,
        }
    }

    #[test]
    fn each_call_is_a_bar_in_its_threads_lane_and_marked_ones_are_red() {
        let history = History::new(
            vec!["writer".into(), "held".into()],
            vec![
                call(0, 0, Some(10), Some(Outcome::Err(Errno::ENOENT))),
                call(1, 5, None, None),
            ],
        );
        let (sub, marked) = history.around_pending(MAX_CALLS).expect("a pending call");
        assert_eq!(marked, vec![1]);
        let out = svg(&[Drawn {
            scenario: "churn".into(),
            caption: "before the oops".into(),
            history: sub,
            marked,
        }]);
        assert_eq!(out.matches("<rect x=").count(), 2);
        assert!(out.contains(r##"fill="#c62828" stroke="#c62828" stroke-dasharray"##));
        assert!(out.contains("held: stat events/g/e/enable -> (did not return)"));
        assert!(out.contains(">writer</text>") && out.contains("churn: before the oops"));
    }
}
