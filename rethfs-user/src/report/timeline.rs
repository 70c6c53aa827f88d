//! The lifetimes of each scenario as an SVG a person reads at a glance: one lane per object
//! path, the kernel's lifetime as a solid bar with the model's prediction as a thin bar under
//! it, each lifetime event marked, and the steps that removed something drawn across.

use std::{collections::HashMap, fmt::Write};

use super::trace::{ScenarioLifetimes, ends, lane, positions, starts};
use crate::interface::{Lifetime, LifetimeKind};

const LEFT: f64 = 330.0;
const LANE: f64 = 26.0;
const MAX_LANES: usize = 48;
const MAX_STEPS: usize = 400;
const PLOT_WIDTH: f64 = 1100.0;

/// Marker shape and colour per kind; references and successful revalidations are too many to
/// mark and are left to the trace.
fn style(kind: LifetimeKind) -> Option<(&'static str, &'static str)> {
    use LifetimeKind::*;
    Some(match kind {
        DentryBorn => ("circle", "#2e7d32"),
        DentryLookedUp => ("ring", "#2e7d32"),
        DentryDropped => ("tick", "#757575"),
        RevalidateFailed => ("triangle", "#ef6c00"),
        DentryInvalidated => ("diamond", "#ef6c00"),
        DentryKilled => ("cross", "#c62828"),
        EiCreated => ("square", "#1565c0"),
        EiFreed => ("diamond", "#6a1b9a"),
        EiPut => ("tick", "#6a1b9a"),
        EiReleased => ("square", "#212121"),
        DentryReferenced | Revalidated => return None,
    })
}

fn marker(out: &mut String, shape: &str, colour: &str, x: f64, y: f64, title: &str) {
    let body = match shape {
        "circle" => format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"##),
        "ring" => format!(
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="white" stroke="{colour}" stroke-width="1.5"/>"##
        ),
        "tick" => format!(
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.5"/>"##,
            y - 5.0,
            y + 5.0
        ),
        "triangle" => format!(
            r##"<polygon points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"##,
            y - 5.0,
            x - 5.0,
            y + 4.0,
            x + 5.0,
            y + 4.0
        ),
        "diamond" => format!(
            r##"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}" fill="{colour}"/>"##,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        "cross" => format!(
            r##"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{colour}" stroke-width="2.5"/>"##,
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
        _ => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{colour}"/>"##,
            x - 4.0,
            y - 4.0
        ),
    };
    let _ = write!(out, "<g><title>{}</title>{body}</g>", escape(title));
}

/// Characters of a lane's path that fit left of the plot; longer paths keep their end.
const LABEL_CHARS: usize = 46;

fn label(path: &str) -> String {
    let n = path.chars().count();
    if n <= LABEL_CHARS {
        return path.to_owned();
    }
    let tail: String = path.chars().skip(n - (LABEL_CHARS - 1)).collect();
    format!("…{tail}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Bars from each start to its end (or the scenario's end), with the events' positions.
fn bars(events: &[(usize, Lifetime)], xs: &[f64], end: f64) -> Vec<(String, f64, f64)> {
    let mut open: HashMap<(String, u32), f64> = HashMap::new();
    let mut out = Vec::new();
    for ((_, l), &x) in events.iter().zip(xs) {
        let key = (lane(l), l.generation);
        if starts(l.kind) {
            open.insert(key.clone(), x);
        }
        if ends(l.kind) {
            let from = open.remove(&key).unwrap_or(x);
            out.push((key.0, from, x));
        }
    }
    out.extend(open.into_iter().map(|((lane, _), from)| (lane, from, end)));
    out
}

/// The whole run's timelines, one section per scenario.
pub fn svg(scenarios: &[ScenarioLifetimes]) -> String {
    let mut body = String::new();
    let mut y = 70.0;
    for sc in scenarios {
        let lanes = lane_order(sc);
        let steps = sc.steps.len().max(1);
        let _ = write!(
            body,
            r##"<text x="10" y="{y:.0}" font-size="16" font-weight="bold">{} ({} steps; {}, model {} events)</text>"##,
            escape(&sc.scenario),
            sc.steps.len(),
            if sc.observed {
                format!("kernel {} events", sc.host.len())
            } else {
                "kernel not observed: no lifetime observer loads here".to_owned()
            },
            sc.model.len()
        );
        y += 12.0;
        if steps > MAX_STEPS || lanes.is_empty() {
            let why = if lanes.is_empty() {
                "no lifetime events of the run's objects".to_owned()
            } else {
                format!("more than {MAX_STEPS} steps: too long to draw; see the trace JSON")
            };
            let _ = write!(
                body,
                r##"<text x="20" y="{:.0}" font-size="12" fill="#555">{why}</text>"##,
                y + 14.0
            );
            y += 40.0;
            continue;
        }
        let step_px = (PLOT_WIDTH / (steps as f64 + 1.0)).clamp(4.0, 60.0);
        let x_of = |pos: f64| LEFT + (pos - 1.0) * step_px + 4.0;
        let shown = &lanes[..lanes.len().min(MAX_LANES)];
        let row: HashMap<&str, usize> = shown
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let top = y;
        let bottom = top + shown.len() as f64 * LANE;
        // Step grid and numbers.
        let every = (steps / 20).max(1);
        for s in (1..=steps).step_by(every) {
            let x = x_of(s as f64);
            let _ = write!(
                body,
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" font-size="9" fill="#888">{s}</text>"##,
                bottom + 11.0
            );
        }
        for (i, l) in shown.iter().enumerate() {
            let ly = top + i as f64 * LANE;
            let _ = write!(
                body,
                r##"<text x="{:.0}" y="{:.1}" font-size="11" text-anchor="end" font-family="monospace">{}</text>"##,
                LEFT - 8.0,
                ly + 15.0,
                escape(&label(l))
            );
        }
        let end = steps as f64 + 1.0;
        for (events, solid) in [(&sc.host, true), (&sc.model, false)] {
            let xs = positions(events);
            for (lane_name, from, to) in bars(events, &xs, end) {
                let Some(&i) = row.get(lane_name.as_str()) else {
                    continue;
                };
                let ly = top + i as f64 * LANE;
                let (by, h, fill) = if solid {
                    (ly + 4.0, 10.0, "#90caf9")
                } else {
                    (ly + 17.0, 4.0, "#bdbdbd")
                };
                let _ = write!(
                    body,
                    r##"<rect x="{:.1}" y="{by:.1}" width="{:.1}" height="{h}" fill="{fill}"/>"##,
                    x_of(from),
                    (x_of(to) - x_of(from)).max(2.0)
                );
            }
            for ((step, l), x) in events.iter().zip(&xs) {
                let (Some((shape, colour)), Some(&i)) = (style(l.kind), row.get(lane(l).as_str()))
                else {
                    continue;
                };
                let ly = top + i as f64 * LANE + if solid { 9.0 } else { 19.0 };
                let side = if solid { "kernel" } else { "model" };
                let title = format!(
                    "{side}, step {step} ({}): {} {} gen {} refs {}",
                    sc.steps[step - 1],
                    l.kind.name(),
                    l.path,
                    l.generation,
                    l.refs
                );
                marker(&mut body, shape, colour, x_of(*x), ly, &title);
            }
        }
        for (n, &s) in sc.removals.iter().enumerate() {
            let x = x_of(s as f64) - 2.0;
            // Labels of removals close together go on successive lines.
            let close = n > 0 && x - x_of(sc.removals[n - 1] as f64) < 200.0;
            let line = if close { (n % 3) as f64 * 10.0 } else { 0.0 };
            // Labels in the right half run leftwards, so they stay on the page.
            let anchor = if x > LEFT + PLOT_WIDTH / 2.0 {
                "end"
            } else {
                "start"
            };
            let _ = write!(
                body,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#c62828" stroke-dasharray="4,3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#c62828" text-anchor="{anchor}">{}</text>"##,
                top - 2.0,
                if anchor == "end" { x - 3.0 } else { x + 3.0 },
                top + 8.0 + line,
                escape(&sc.steps[s - 1])
            );
        }
        y = bottom + 20.0;
        if lanes.len() > shown.len() {
            let _ = write!(
                body,
                r##"<text x="20" y="{y:.0}" font-size="11" fill="#555">{} more lanes not drawn; see the trace JSON</text>"##,
                lanes.len() - shown.len()
            );
            y += 16.0;
        }
        y += 24.0;
    }
    let width = LEFT + PLOT_WIDTH + 80.0;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{:.0}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"##,
        y + 10.0
    );
    out.push_str(&legend());
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// Lanes in order of first appearance on either side, kernel first.
fn lane_order(sc: &ScenarioLifetimes) -> Vec<String> {
    let mut lanes: Vec<String> = Vec::new();
    for (_, l) in sc.host.iter().chain(&sc.model) {
        if style(l.kind).is_some() && !lanes.contains(&lane(l)) {
            lanes.push(lane(l));
        }
    }
    lanes
}

fn legend() -> String {
    let mut out = String::from(
        r##"<text x="10" y="20" font-size="13">rethfs lifetimes: kernel (observed) = blue bar, model (predicted) = grey bar below; dashed red = a removal</text>"##,
    );
    let kinds = [
        LifetimeKind::DentryBorn,
        LifetimeKind::DentryLookedUp,
        LifetimeKind::DentryDropped,
        LifetimeKind::RevalidateFailed,
        LifetimeKind::DentryInvalidated,
        LifetimeKind::DentryKilled,
        LifetimeKind::EiCreated,
        LifetimeKind::EiFreed,
        LifetimeKind::EiPut,
        LifetimeKind::EiReleased,
    ];
    for (i, k) in kinds.iter().enumerate() {
        let x = 16.0 + i as f64 * 125.0;
        if let Some((shape, colour)) = style(*k) {
            marker(&mut out, shape, colour, x, 40.0, k.name());
        }
        let _ = write!(
            out,
            r##"<text x="{:.0}" y="44" font-size="11">{}</text>"##,
            x + 9.0,
            k.name()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lane_labels_keep_their_end() {
        let path = "instances/rethfs_1_2/events/handshake/handshake_cancel_busy/enable";
        let l = label(path);
        assert_eq!(l.chars().count(), LABEL_CHARS);
        assert!(l.starts_with('…') && l.ends_with("handshake_cancel_busy/enable"));
        assert_eq!(label("events/g"), "events/g");
    }

    #[test]
    fn draws_lanes_bars_markers_and_removals() {
        use LifetimeKind::*;
        let l = |kind, path: &str| Lifetime {
            kind,
            path: path.into(),
            generation: 0,
            refs: 0,
            ino: 0,
            t_ns: None,
        };
        let sc = ScenarioLifetimes {
            scenario: "cache".into(),
            steps: vec!["stat x".into(), "echo \"-:g/e\" >> uprobe_events".into()],
            host: vec![
                (1, l(DentryBorn, "events/g/e")),
                (2, l(DentryKilled, "events/g/e")),
            ],
            model: vec![(1, l(DentryBorn, "events/g/e"))],
            removals: vec![2],
            observed: true,
        };
        let svg = svg(&[sc]);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(">events/g/e</text>"));
        // One kernel bar and one model bar, a birth on each side and one kill.
        assert_eq!(svg.matches("fill=\"#90caf9\"").count(), 1);
        assert_eq!(svg.matches("fill=\"#bdbdbd\"").count(), 1);
        assert_eq!(svg.matches("killed events/g/e").count(), 1);
        assert_eq!(svg.matches(": born events/g/e").count(), 2);
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("echo &quot;-:g/e&quot; &gt;&gt; uprobe_events"));
    }
}
