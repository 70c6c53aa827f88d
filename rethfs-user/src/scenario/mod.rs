//! Scenarios: sequences of [`Action`]s, built in or written by users as TOML, and the runner
//! that drives any [`Target`](crate::target::Target) through one.
//!
//! A scenario file has a `name`, a `description` and `[[step]]` tables, each an action with
//! its `op` (see [`Action`]). Two placeholders are expanded before parsing: `{prefix}`, the
//! `rethfs_<pid>` name every object rethfs creates carries, and `{uprobe}`, the `PATH:OFFSET`
//! of a function in rethfs's own executable.

mod audit;
mod runner;

use std::{collections::HashSet, path::Path};

use serde::Deserialize;

pub use audit::audit;
pub use runner::{StepResult, Transcript, run, run_pair};

use crate::{error::Error, host::uprobe_target, target::Action};

/// The built-in catalogue: name and TOML source.
pub const CATALOGUE: &[(&str, &str)] = &[
    ("seed", include_str!("catalogue/seed.toml")),
    ("stale-fd", include_str!("catalogue/stale-fd.toml")),
    ("busy", include_str!("catalogue/busy.toml")),
    ("cwd", include_str!("catalogue/cwd.toml")),
    ("instances", include_str!("catalogue/instances.toml")),
    ("inodes", include_str!("catalogue/inodes.toml")),
    ("ownership", include_str!("catalogue/ownership.toml")),
    ("readdir", include_str!("catalogue/readdir.toml")),
    ("cache", include_str!("catalogue/cache.toml")),
    ("kprobes", include_str!("catalogue/kprobes.toml")),
];

/// Scenarios that exist only on a host: made from its own tree, or concurrent.
pub const HOST_ONLY: &[(&str, &str)] = &[
    ("audit", audit::DESCRIPTION),
    (
        "churn",
        "One thread creates and removes a probe event while two stat, open and list it; nothing \
         may find it strictly after a removal returned and before the next creation began, and \
         the kernel must survive. Run only when named: it oopses 6.18 (eventfs_iterate).",
    ),
];

/// A parsed, expanded and checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// Line of the step in its source, for messages.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    description: String,
    #[serde(rename = "step")]
    steps: Vec<toml::Spanned<Action>>,
}

/// 1-based line and column of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

impl Scenario {
    /// Finds a built-in scenario by name, or reads a TOML file.
    pub fn resolve(arg: &str) -> Result<Self, Error> {
        if let Some((_, text)) = CATALOGUE.iter().find(|(n, _)| *n == arg) {
            return Self::parse(&format!("<built-in {arg}>"), text);
        }
        if HOST_ONLY.iter().any(|(n, _)| *n == arg) {
            return Err(Error::Usage(format!(
                "scenario `{arg}` runs only on a host: use `rethfs run --scenario {arg}`"
            )));
        }
        let path = Path::new(arg);
        if !path.exists() {
            let names: Vec<&str> = CATALOGUE.iter().map(|(n, _)| *n).collect();
            return Err(Error::Usage(format!(
                "scenario `{arg}`: no built-in scenario of that name ({}) and no such file",
                names.join(", ")
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("{arg}: {e}")))?;
        Self::parse(arg, &text)
    }

    /// Parses scenario TOML from `source` (a file name, for messages).
    pub fn parse(source: &str, text: &str) -> Result<Self, Error> {
        let usage = |at: Option<usize>, msg: &str| {
            let msg = msg.trim_end();
            Error::Usage(match at {
                Some(at) => {
                    let (l, c) = line_col(text, at);
                    format!("{source}:{l}:{c}: {msg}")
                }
                None => format!("{source}: {msg}"),
            })
        };
        let expanded = expand(text).map_err(|m| usage(None, &m))?;
        let file: File =
            toml::from_str(&expanded).map_err(|e| usage(e.span().map(|s| s.start), e.message()))?;
        let steps: Vec<Step> = file
            .steps
            .into_iter()
            .map(|s| Step {
                line: line_col(&expanded, s.span().start).0,
                action: s.into_inner(),
            })
            .collect();
        if steps.is_empty() {
            return Err(usage(None, "no [[step]] in the scenario"));
        }
        check_handles(&steps).map_err(|(line, m)| Error::Usage(format!("{source}:{line}: {m}")))?;
        Ok(Scenario {
            name: file.name,
            description: file.description,
            steps,
        })
    }

    /// The scenario with its objects named `to` instead of `from` (the `{prefix}` it was
    /// expanded with). Each scenario of a run gets a name of its own, so dentries an earlier
    /// one left in the dcache are never met by a later one.
    pub fn renamed(&self, from: &str, to: &str) -> Scenario {
        let mut out = self.clone();
        for s in &mut out.steps {
            let text = serde_json::to_string(&s.action).expect("actions serialize");
            s.action = serde_json::from_str(&text.replace(from, to)).expect("renamed action");
        }
        out
    }

    /// For kernels without kprobes: the same scenario with each kprobe replaced by a uprobe of
    /// the same name on rethfs's own function (`None` when the scenario has no kprobe).
    pub fn with_uprobe_stand_in(&self) -> Result<Option<Scenario>, Error> {
        use crate::target::ControlFile;
        if !self.steps.iter().any(|s| {
            matches!(
                &s.action,
                Action::Control {
                    file: ControlFile::KprobeEvents,
                    ..
                }
            )
        }) {
            return Ok(None);
        }
        let target = uprobe_target().map_err(Error::Environment)?;
        let mut out = self.clone();
        for s in &mut out.steps {
            if let Action::Control { file, line } = &mut s.action
                && *file == ControlFile::KprobeEvents
            {
                *file = ControlFile::UprobeEvents;
                if !line.starts_with('-') {
                    let head = line
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    *line = format!("{head} {target}");
                }
            }
        }
        Ok(Some(out))
    }
}

/// Replaces `{prefix}` and `{uprobe}`; any other `{word}` is an error naming it.
fn expand(text: &str) -> Result<String, String> {
    let mut out = text.replace("{prefix}", &format!("rethfs_{}", std::process::id()));
    if out.contains("{uprobe}") {
        out = out.replace("{uprobe}", &uprobe_target()?);
    }
    if let Some(start) = out.find('{') {
        let word: String = out[start..]
            .chars()
            .take_while(|c| *c != '}')
            .chain(Some('}'))
            .collect();
        if word.len() > 2
            && word[1..word.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "unknown placeholder {word} (known: {{prefix}}, {{uprobe}})"
            ));
        }
    }
    Ok(out)
}

/// Every handle is opened before use and not opened twice while open. Handles still open at
/// the end are closed by the runner.
fn check_handles(steps: &[Step]) -> Result<(), (usize, String)> {
    let mut open: HashSet<&str> = HashSet::new();
    for s in steps {
        let (uses, opens, closes): (Vec<&str>, Option<&str>, Option<&str>) = match &s.action {
            Action::Open { handle, .. } => (vec![], Some(handle), None),
            Action::OpenAt { dir, as_handle, .. } => (vec![dir], Some(as_handle), None),
            Action::Close { handle } => (vec![handle], None, Some(handle)),
            Action::Read { handle, .. }
            | Action::Write { handle, .. }
            | Action::Fstat { handle }
            | Action::Getdents { handle, .. }
            | Action::Tell { handle }
            | Action::Seek { handle, .. }
            | Action::Fchdir { handle } => (vec![handle], None, None),
            _ => (vec![], None, None),
        };
        for h in uses {
            if !open.contains(h) {
                return Err((s.line, format!("handle `{h}` is used but not open")));
            }
        }
        if let Some(h) = opens
            && !open.insert(h)
        {
            return Err((s.line, format!("handle `{h}` is opened again while open")));
        }
        if let Some(h) = closes {
            open.remove(h);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        for (name, _) in CATALOGUE {
            let s = Scenario::resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = Scenario::parse(
            "my.toml",
            "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"stat\"\npat = \"events\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("my.toml:3:1: ")
                || err.starts_with("my.toml:4:1: ")
                || err.starts_with("my.toml:5:1: "),
            "{err}"
        );
        assert!(err.contains("pat"), "{err}");
        let err = Scenario::parse(
            "my.toml",
            "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"fly\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("my.toml:4:") && err.to_string().contains("fly"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn handle_misuse_is_refused_with_its_line() {
        let text = "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"close\"\nhandle = \"h\"\n";
        assert_eq!(
            Scenario::parse("f", text).unwrap_err().to_string(),
            "f:3: handle `h` is used but not open"
        );
        let text = "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n[[step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n";
        assert_eq!(
            Scenario::parse("f", text).unwrap_err().to_string(),
            "f:7: handle `h` is opened again while open"
        );
    }

    #[test]
    fn unknown_placeholders_and_scenarios_are_named() {
        let err = Scenario::parse("f", "name = \"{nope}\"\ndescription = \"\"\n").unwrap_err();
        assert!(err.to_string().contains("{nope}"), "{err}");
        let err = Scenario::resolve("no-such-scenario").unwrap_err();
        assert!(
            err.to_string().contains("no-such-scenario") && err.to_string().contains("seed"),
            "{err}"
        );
    }
}
