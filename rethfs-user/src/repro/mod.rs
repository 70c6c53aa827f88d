//! Reproducers: one finding of a run's report as a standalone program that runs its
//! scenario's steps on a kernel's tracefs and exits 0 when the kernel behaves correctly, 1
//! when the finding shows, 125 when it cannot run there (git bisect run's convention).
//!
//! The plan is shared: the steps up to the finding's (those the run skipped left out), what
//! the run's host answered each, what is checked at the last, and what to undo. A POSIX shell
//! script in ftracetest's `.tc` style is written where shell can express every step and the
//! check ([`shell`]), a C program otherwise ([`c`]).

mod c;
mod expect;
mod shell;

use std::collections::HashSet;

use serde::Deserialize;

pub use expect::Expect;

use crate::{
    check::{Finding, FindingKind, SEEK_RESUMES, Signature, compare::is_id_file},
    error::{Error, Result},
    interface::{Action, ControlFile, Outcome},
    report::run::{RunReport, ScenarioRun},
    scenario::Scenario,
};

/// What the run's host answered a step with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    Ok,
    Failed,
    /// Not run (not the run's objects, or not allowed): a reproducer leaves it out too.
    Skipped,
}

/// One step of the scenario, as the run ran it.
#[derive(Debug, Clone)]
pub struct Step {
    pub index: usize,
    pub line: usize,
    /// With `{prefix}` and `{uprobe}` as written.
    pub action: Action,
    pub ran: Ran,
}

/// What the reproducer judges at the finding's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A divergence: the step must give one of `want`, the model's answers as a reproducer
    /// compares them; `host` is what the run's kernel gave instead.
    Answer { want: Vec<Expect>, host: Expect },
    /// readdir-seek-resumes-after-entry, on the getdents of `handle`.
    SeekResumes { handle: String },
    /// The steps run, then 125, saying why nothing is judged.
    NotStandalone(String),
}

/// An event a step makes, undone at cleanup: its `enable` written 0 (an enabled event cannot
/// be removed), then `line` appended to `control`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    pub control: &'static str,
    pub line: String,
    pub enable: String,
}

/// A reproducer's plan: the finding, the steps 1 to its step, and its check.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Its number in the report, from 1.
    pub number: usize,
    /// The report, as named on the command line.
    pub source: String,
    pub finding: Finding,
    pub scenario: String,
    pub kernel: String,
    pub policy: String,
    pub steps: Vec<Step>,
    pub check: Check,
}

/// A reproducer's file, and how to build and run it.
#[derive(Debug, Clone)]
pub struct Reproducer {
    pub file: &'static str,
    pub text: String,
    /// The build command, in the reproducer's directory (C only).
    pub build: Option<&'static str>,
    /// The run command, in the reproducer's directory.
    pub run: &'static str,
}

/// Both sides' steps behind a scenario's findings, as `finding_steps` holds them.
#[derive(Deserialize)]
struct FindingSteps {
    host: Vec<SideStep>,
    model: Vec<SideStep>,
}

#[derive(Deserialize)]
struct SideStep {
    index: usize,
    outcome: Outcome,
}

/// `text` kept on one line, for a comment.
fn one_line(text: &str) -> String {
    text.replace('\n', "\\n")
}

/// The uprobe line's file, of `PATH:OFFSET`.
fn uprobe_file(target: &str) -> &str {
    target.rsplit_once(':').map_or(target, |(p, _)| p)
}

/// The event a control `line` makes, as cleanup removes it; none for a removal.
fn undo(file: ControlFile, line: &str) -> Option<Undo> {
    let spec = line.split_whitespace().next()?;
    let (kind, name) = spec.split_once(':')?;
    if kind.starts_with(['-', '!']) {
        return None;
    }
    // A user event (`u:NAME FIELDS`) is in the shared `user_events` group, and is freed only
    // with its fields.
    if kind == "u" {
        let whole = line.trim_start()["u:".len()..].trim();
        return Some(Undo {
            control: file.file_name(),
            line: format!("-:user_events/{whole}"),
            enable: format!("events/user_events/{name}/enable"),
        });
    }
    let (group, event) = name.split_once(['/', '.'])?;
    Some(Undo {
        control: file.file_name(),
        line: format!("-:{group}/{event}"),
        enable: format!("events/{group}/{event}/enable"),
    })
}

impl Plan {
    /// The plan of finding `number` (from 1) of `report`, read from `source`; bad input (no
    /// such finding, a scenario the report does not hold, a race) is a usage error naming it.
    pub fn from_report(report: &RunReport, source: &str, number: usize) -> Result<Plan> {
        let usage = |m: String| Error::Usage(format!("{source}: {m}"));
        let count = report.findings().count();
        let Some((_, verdict, finding)) = report.findings().find(|(i, ..)| *i == number) else {
            return Err(usage(match count {
                0 => "the report has no finding to reproduce".into(),
                _ => format!("no finding {number}: the report has {count}, numbered from 1"),
            }));
        };
        // The scenarios of one name with findings come in the order of their verdicts.
        let nth = report
            .verdicts
            .iter()
            .take_while(|v| !std::ptr::eq(*v, verdict))
            .filter(|v| v.scenario == verdict.scenario && !v.findings.is_empty())
            .count();
        let run = report
            .scenarios
            .iter()
            .filter(|s| s.name == verdict.scenario)
            .nth(nth)
            .ok_or_else(|| {
                usage(format!(
                    "finding {number}'s scenario `{}` has no `scenarios` entry: its steps are \
                     not known",
                    verdict.scenario
                ))
            })?;
        if run.prefix.is_empty() {
            return Err(usage(format!(
                "the `scenarios` entry of `{}` does not say what `{{prefix}}` stood for (a \
                 report of an older rethfs): run it again",
                run.name
            )));
        }
        let scenario =
            Scenario::parse_keeping_placeholders(&format!("{source}: `{}`", run.name), &run.toml)?;
        if scenario.is_concurrent() {
            return Err(usage(format!(
                "finding {number} is of `{}`, a race: races: not yet reproducible standalone",
                run.name
            )));
        }
        let Some(upto) = scenario.steps.get(..finding.step).filter(|s| !s.is_empty()) else {
            return Err(usage(format!(
                "finding {number} is at step {}, but `{}` has {} steps",
                finding.step,
                run.name,
                scenario.steps.len()
            )));
        };
        let at = &upto[upto.len() - 1].action;
        if at.op() != finding.op {
            return Err(usage(format!(
                "finding {number} is at a `{}` step, but step {} of `{}` is `{}`",
                finding.op,
                finding.step,
                run.name,
                at.op()
            )));
        }
        let steps: Vec<Step> = upto
            .iter()
            .enumerate()
            .map(|(i, s)| Step {
                index: i + 1,
                line: s.line,
                action: s.action.clone(),
                ran: if run.skipped_steps.contains(&(i + 1)) {
                    Ran::Skipped
                } else if run.failed_steps.contains(&(i + 1)) {
                    Ran::Failed
                } else {
                    Ran::Ok
                },
            })
            .collect();
        let check = match &finding.kind {
            FindingKind::Divergence => {
                let (host, model) =
                    finding_step(report, run, nth, finding.step).ok_or_else(|| {
                        usage(format!(
                            "`finding_steps` lacks step {} of `{}`",
                            finding.step, run.name
                        ))
                    })?;
                answer(&steps, &host, &model, uprobe_file(&run.uprobe))
            }
            FindingKind::Violation { invariant, .. } if invariant == SEEK_RESUMES => match at {
                Action::Getdents { handle, .. } => Check::SeekResumes {
                    handle: handle.clone(),
                },
                _ => Check::NotStandalone(format!("{SEEK_RESUMES} is judged at a getdents")),
            },
            FindingKind::Violation { invariant, .. } => Check::NotStandalone(format!(
                "the check of the invariant {invariant} is not expressible standalone yet: \
                 `rethfs run --scenario FILE` judges it"
            )),
            FindingKind::LifetimeDivergence => Check::NotStandalone(
                "lifetimes are seen only by rethfs's kernel observer: not expressible \
                 standalone"
                    .into(),
            ),
        };
        Ok(Plan {
            number,
            source: source.to_owned(),
            finding: finding.clone(),
            scenario: run.name.clone(),
            kernel: report.host.kernel.clone(),
            policy: report.policy.clone(),
            steps,
            check,
        })
    }

    /// The reproducer: a shell script where shell can express the plan, else a C program
    /// (saying why in its header).
    pub fn reproducer(&self) -> Reproducer {
        match shell::render(self) {
            Ok(text) => Reproducer {
                file: "repro.sh",
                text,
                build: None,
                run: "sh repro.sh",
            },
            Err(why) => Reproducer {
                file: "repro.c",
                text: c::render(self, &why),
                build: Some(c::BUILD),
                run: "./repro",
            },
        }
    }

    /// The steps the reproducer runs: those the run did not skip.
    fn run_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.ran != Ran::Skipped)
    }

    /// The handle names the steps use, in order of first use.
    fn handles(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.run_steps() {
            let u = s.action.handle_use();
            for h in u.uses.into_iter().chain(u.opens) {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
        out
    }

    /// The path `handle` was last opened on before step `before`, as a scenario writes it.
    fn handle_path(&self, handle: &str, before: usize) -> Option<String> {
        handle_path(&self.steps[..before - 1], handle)
    }

    /// The events the steps make, last made first (an eprobe goes before its event).
    pub fn undo(&self) -> Vec<Undo> {
        let mut seen = HashSet::new();
        let mut out: Vec<Undo> = self
            .run_steps()
            .filter_map(|s| match &s.action {
                Action::Control { file, line } => undo(*file, line),
                _ => None,
            })
            .filter(|u| seen.insert(u.line.clone()))
            .collect();
        out.reverse();
        out
    }

    /// The directories the steps make (instances), last made first.
    pub fn made_dirs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.run_steps() {
            if let Action::Mkdir { path } = &s.action
                && !out.contains(&path.as_str())
            {
                out.push(path);
            }
        }
        out.reverse();
        out
    }

    /// Whether a remount step runs: the mount's options are then put back at cleanup.
    fn remounts(&self) -> bool {
        self.run_steps()
            .any(|s| matches!(s.action, Action::Remount { .. }))
    }

    /// The header both languages put first, one line each; `why` says why this language.
    fn header(&self, build: Option<&str>, run: &str, why: &str) -> Vec<String> {
        let f = &self.finding;
        let mut out = vec![
            format!(
                "rethfs reproducer of finding {} of {}: {}",
                self.number,
                self.source,
                Signature::of(f)
            ),
            format!(
                "scenario `{}`, step {} (line {}): {}",
                self.scenario, f.step, f.line, f.action
            ),
            format!("  the kernel answered: {}", f.host),
        ];
        if !f.model.is_empty() {
            out.push(format!("  rethfs's model answered: {}", f.model));
        }
        if !f.detail.is_empty() {
            out.push(format!("  {}", f.detail));
        }
        out.push(format!("correct behaviour: {}", self.correct()));
        out.push(format!(
            "seen on Linux {} (the model's rules: {})",
            self.kernel, self.policy
        ));
        out.push(String::new());
        out.push(format!(
            "It runs steps 1 to {} of the scenario as the run did (leaving out those it skipped),",
            f.step
        ));
        out.push(
            "with {prefix} as repro_<pid> and {uprobe} as /bin/sh:0x0 (defined, never enabled), in"
                .into(),
        );
        out.push(
            "/sys/kernel/tracing (mounting tracefs there if it is not), and removes what it made"
                .into(),
        );
        out.push(
            "on every exit: normal, failure, SIGINT, SIGTERM, SIGHUP. It needs nothing from rethfs."
                .into(),
        );
        if let Some(b) = build {
            out.push(format!(
                "Build: {b}   (static: it can be copied into a test VM)"
            ));
        }
        out.push(format!("Run as root: {run}"));
        out.push(
            "Exit: 0 the kernel behaves correctly, 1 the finding shows, 125 it cannot run here"
                .into(),
        );
        out.push(
            "(not root, no tracefs, a step the trigger needs fails): git bisect run's convention."
                .into(),
        );
        if !why.is_empty() {
            out.push(why.to_owned());
        }
        out
    }

    /// What correct behaviour is, as the check judges it.
    fn correct(&self) -> String {
        match &self.check {
            Check::Answer { want, .. } => format!(
                "step {} answers {}, as rethfs's model does (success or the errno, and the \
                 value less what each side numbers for itself)",
                self.finding.step,
                want.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            Check::SeekResumes { .. } => format!(
                "after seekdir to the d_off of an entry read earlier on the same handle, the \
                 next getdents starts at the entry that followed it ({SEEK_RESUMES})"
            ),
            Check::NotStandalone(why) => format!("not judged here ({why}): it exits 125"),
        }
    }
}

/// The path `handle` was last opened on in `steps`; `open-at` paths joined to their
/// directory's.
fn handle_path(steps: &[Step], handle: &str) -> Option<String> {
    let mut path = None;
    for (i, s) in steps.iter().enumerate() {
        match &s.action {
            Action::Open {
                path: p, handle: h, ..
            } if h == handle => path = Some(p.clone()),
            Action::OpenAt {
                dir,
                path: p,
                as_handle,
            } if as_handle == handle => {
                let at = handle_path(&steps[..i], dir).unwrap_or_default();
                path = Some(format!("{at}/{p}"));
            }
            _ => {}
        }
    }
    path
}

/// Both sides' outcomes at `step` of the `nth` scenario of `run`'s name in `finding_steps`,
/// with the run's names as `{prefix}`.
fn finding_step(
    report: &RunReport,
    run: &ScenarioRun,
    nth: usize,
    step: usize,
) -> Option<(Outcome, Outcome)> {
    let entry = report
        .finding_steps
        .iter()
        .filter(|e| e["scenario"] == run.name.as_str())
        .nth(nth)?;
    let text = serde_json::to_string(entry)
        .ok()?
        .replace(&run.prefix, "{prefix}");
    let steps: FindingSteps = serde_json::from_str(&text).ok()?;
    let at = |side: Vec<SideStep>| side.into_iter().find(|s| s.index == step);
    Some((at(steps.host)?.outcome, at(steps.model)?.outcome))
}

/// A divergence's check: the model's answers, unless the reproducer cannot tell the kernel's
/// from them.
fn answer(steps: &[Step], host: &Outcome, model: &Outcome, foreign: &str) -> Check {
    let last = &steps[steps.len() - 1];
    let identity = match &last.action {
        Action::ReadFile { path } => is_id_file(path),
        Action::Read { handle, .. } => {
            handle_path(&steps[..steps.len() - 1], handle).is_some_and(|p| is_id_file(&p))
        }
        _ => false,
    };
    let want = Expect::of(model, identity, foreign);
    match Expect::of(host, identity, foreign).into_iter().next() {
        Some(host) if !want.is_empty() && !want.contains(&host) => Check::Answer { want, host },
        _ => Check::NotStandalone(
            "the kernel's answer and the model's differ only in what each side numbers for \
             itself (inode numbers, event ids) or in content a reproducer cannot compare"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests;
