//! Every dentry and eventfs_inode lifetime of a run in the Chrome trace event format
//! (the "JSON Object Format" of the Trace Event Format document), which Perfetto and
//! chrome://tracing open.
//!
//! Each scenario side is a process ("seed: kernel", "seed: model"), each object path a thread,
//! each object a complete ("X") event from birth to end, and each lifetime event an instant
//! ("i") on it. Time is the scenario's steps, one millisecond each, so the two sides line up
//! step for step; the kernel's own clock travels in the instants' `args.kernel_ns`. Steps that
//! remove something are global instants drawn across every lane.

use std::{collections::HashMap, io::Write};

use serde_json::{Value, json};

use crate::{
    check::lifetime::ours,
    interface::{Action, Lifetime, LifetimeKind},
    scenario::Transcript,
};

/// The lifetimes of one scenario's run objects on both sides, by step.
#[derive(Debug, Clone)]
pub struct ScenarioLifetimes {
    pub scenario: String,
    /// Each step's action, one line.
    pub steps: Vec<String>,
    /// (1-based step, event), in the order recorded.
    pub host: Vec<(usize, Lifetime)>,
    pub model: Vec<(usize, Lifetime)>,
    /// Steps that removed an event, a group or an instance.
    pub removals: Vec<usize>,
    /// Whether a lifetime observer watched the kernel side (else only the model's are drawn).
    pub observed: bool,
}

impl ScenarioLifetimes {
    /// The run's objects (named `prefix`) from both transcripts.
    pub fn of(host: &Transcript, model: &Transcript, prefix: &str, observed: bool) -> Self {
        let pick = |t: &Transcript| -> Vec<(usize, Lifetime)> {
            t.steps
                .iter()
                .flat_map(|s| s.lifetimes.iter().map(move |l| (s.index, l)))
                .filter(|(_, l)| ours(&l.path, prefix))
                .map(|(i, l)| (i, l.clone()))
                .collect()
        };
        ScenarioLifetimes {
            scenario: host.scenario.clone(),
            steps: host.steps.iter().map(|s| s.action.summary()).collect(),
            host: pick(host),
            model: pick(model),
            removals: host
                .steps
                .iter()
                .filter(|s| s.outcome.is_ok() && removes(&s.action))
                .map(|s| s.index)
                .collect(),
            observed,
        }
    }
}

/// Whether `a` removes something: `-:` probe lines, `rmdir`.
pub fn removes(a: &Action) -> bool {
    match a {
        Action::Control { line, .. } => line.trim_start().starts_with('-'),
        Action::Rmdir { .. } => true,
        _ => false,
    }
}

/// Microseconds per step on the trace's clock.
const STEP_US: u64 = 1000;

/// Where each event of a step sits: spread evenly over the first 90% of the step.
pub fn positions(events: &[(usize, Lifetime)]) -> Vec<f64> {
    let mut per_step: HashMap<usize, usize> = HashMap::new();
    for (s, _) in events {
        *per_step.entry(*s).or_default() += 1;
    }
    let mut seen: HashMap<usize, usize> = HashMap::new();
    events
        .iter()
        .map(|(s, _)| {
            let i = seen.entry(*s).or_default();
            let x = *s as f64 + 0.9 * *i as f64 / per_step[s] as f64;
            *i += 1;
            x
        })
        .collect()
}

/// Whether the event ends its object.
pub fn ends(kind: LifetimeKind) -> bool {
    matches!(kind, LifetimeKind::DentryKilled | LifetimeKind::EiReleased)
}

/// Whether the event starts an object.
pub fn starts(kind: LifetimeKind) -> bool {
    matches!(kind, LifetimeKind::DentryBorn | LifetimeKind::EiCreated)
}

/// The lane an event is drawn in: its path, eventfs_inodes apart from dentries.
pub fn lane(l: &Lifetime) -> String {
    if l.kind.is_ei() {
        format!("ei {}", l.path)
    } else {
        l.path.clone()
    }
}

/// Writes events one at a time: a whole run's trace (the audit alone has a quarter of a million
/// events) would not fit a small VM as one JSON value.
struct Events<W: Write> {
    out: W,
    first: bool,
    error: Option<std::io::Error>,
}

impl<W: Write> Events<W> {
    fn push(&mut self, e: Value) {
        if self.error.is_some() {
            return;
        }
        let sep = if std::mem::take(&mut self.first) {
            ""
        } else {
            ",\n"
        };
        if let Err(e) = write!(self.out, "{sep}{e}") {
            self.error = Some(e);
        }
    }
}

/// The whole run as one trace JSON document, written to `out`.
pub fn write_chrome_json(scenarios: &[ScenarioLifetimes], out: impl Write) -> std::io::Result<()> {
    let mut events = Events {
        out,
        first: true,
        error: None,
    };
    writeln!(
        events.out,
        "{{\"displayTimeUnit\": \"ms\", \"traceEvents\": ["
    )?;
    let mut base_steps = 0u64;
    for (n, sc) in scenarios.iter().enumerate() {
        let base = base_steps * STEP_US;
        for (side_no, (side, lifetimes)) in [("kernel", &sc.host), ("model", &sc.model)]
            .into_iter()
            .enumerate()
        {
            let pid = (n * 2 + side_no + 1) as u64;
            events.push(
                json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                "args": {"name": format!("{}: {side}", sc.scenario)}}),
            );
            events.push(
                json!({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                "args": {"sort_index": pid}}),
            );
            let mut lanes: HashMap<String, u64> = HashMap::new();
            let mut open: HashMap<(String, u32), (u64, u64)> = HashMap::new();
            let ts_of = |x: f64| base + (x * STEP_US as f64) as u64;
            for ((step, l), x) in lifetimes.iter().zip(positions(lifetimes)) {
                let next = lanes.len() as u64 + 1;
                let tid = *lanes.entry(lane(l)).or_insert_with(|| {
                    events.push(json!({"ph": "M", "name": "thread_name", "pid": pid,
                        "tid": next, "args": {"name": lane(l)}}));
                    next
                });
                let ts = ts_of(x);
                let key = (lane(l), l.generation);
                if starts(l.kind) {
                    open.insert(key.clone(), (ts, tid));
                }
                if ends(l.kind) {
                    let (start, _) = open.remove(&key).unwrap_or((ts_of(*step as f64), tid));
                    events.push(complete(l, pid, tid, start, ts - start));
                }
                let mut args = json!({"step": step, "generation": l.generation,
                    "refs": l.refs, "ino": l.ino, "action": sc.steps[step - 1]});
                if let Some(ns) = l.t_ns {
                    args["kernel_ns"] = json!(ns);
                }
                events.push(json!({"ph": "i", "s": "t", "name": l.kind.name(),
                    "cat": if l.kind.is_ei() { "ei" } else { "dentry" },
                    "pid": pid, "tid": tid, "ts": ts, "args": args}));
            }
            // Objects alive at the end of the scenario run to its end.
            let end = ts_of(sc.steps.len() as f64 + 1.0);
            let mut still: Vec<_> = open.into_iter().collect();
            still.sort();
            for ((path, generation), (start, tid)) in still {
                events.push(json!({"ph": "X", "name": path, "pid": pid, "tid": tid,
                    "ts": start, "dur": end - start,
                    "args": {"generation": generation, "alive_at_end": true}}));
            }
            for &step in &sc.removals {
                events.push(json!({"ph": "i", "s": "p", "name": sc.steps[step - 1],
                    "cat": "removal", "pid": pid, "tid": 0, "ts": base + step as u64 * STEP_US}));
            }
        }
        base_steps += sc.steps.len() as u64 + 2;
    }
    if let Some(e) = events.error {
        return Err(e);
    }
    writeln!(events.out, "\n]}}")?;
    events.out.flush()
}

fn complete(l: &Lifetime, pid: u64, tid: u64, ts: u64, dur: u64) -> Value {
    json!({"ph": "X", "name": l.path, "cat": if l.kind.is_ei() { "ei" } else { "dentry" },
        "pid": pid, "tid": tid, "ts": ts, "dur": dur,
        "args": {"generation": l.generation, "ino": l.ino}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(kind: LifetimeKind, path: &str, generation: u32) -> Lifetime {
        Lifetime {
            kind,
            path: path.into(),
            generation,
            refs: 0,
            ino: 7,
            t_ns: Some(5),
        }
    }

    fn sample() -> ScenarioLifetimes {
        use LifetimeKind::*;
        ScenarioLifetimes {
            scenario: "s".into(),
            steps: vec!["stat a".into(), "echo \"-:g/e\" >> uprobe_events".into()],
            host: vec![
                (1, l(DentryBorn, "events/g", 0)),
                (1, l(DentryDropped, "events/g", 0)),
                (2, l(DentryKilled, "events/g", 0)),
                (2, l(EiCreated, "events/g", 0)),
            ],
            model: vec![(1, l(DentryBorn, "events/g", 0))],
            removals: vec![2],
            observed: true,
        }
    }

    /// The format's rules: a traceEvents array; every event has ph, pid, tid and, except
    /// metadata, a numeric ts; complete events a dur; instants a scope of g, p or t.
    #[test]
    fn follows_the_trace_event_format() {
        let mut text = Vec::new();
        write_chrome_json(&[sample()], &mut text).unwrap();
        let doc: Value = serde_json::from_slice(&text).unwrap();
        let events = doc["traceEvents"].as_array().unwrap();
        for e in events {
            let ph = e["ph"].as_str().unwrap();
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
            match ph {
                "M" => assert!(e["args"]["name"].is_string() || e["args"]["sort_index"].is_u64()),
                "X" => assert!(e["ts"].is_u64() && e["dur"].is_u64(), "{e}"),
                "i" => {
                    assert!(e["ts"].is_u64());
                    assert!(["g", "p", "t"].contains(&e["s"].as_str().unwrap()));
                }
                other => panic!("unexpected phase {other}"),
            }
        }
        let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        // The host's dentry ends at its kill; its ei and the model's dentry run to the end.
        assert_eq!(complete.len(), 3, "{complete:?}");
        let killed = complete
            .iter()
            .find(|e| e["pid"] == 1 && e["cat"] == "dentry")
            .unwrap();
        assert_eq!(killed["ts"], 1000);
        assert_eq!(killed["dur"], 1000);
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["s: kernel", "s: model"]);
        assert!(
            events
                .iter()
                .any(|e| e["cat"] == "removal" && e["ts"] == 2000)
        );
    }

    #[test]
    fn events_of_a_step_are_spread_within_it() {
        let s = sample();
        assert_eq!(positions(&s.host), [1.0, 1.45, 2.0, 2.45]);
    }
}
