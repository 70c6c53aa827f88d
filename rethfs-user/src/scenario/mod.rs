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

use crate::{
    error::Error,
    host::uprobe_target,
    target::{Action, HandleUse, limits},
};

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
    ("rename", include_str!("catalogue/rename.toml")),
    (
        "instance-files",
        include_str!("catalogue/instance-files.toml"),
    ),
    ("group-files", include_str!("catalogue/group-files.toml")),
    ("probe-kinds", include_str!("catalogue/probe-kinds.toml")),
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
    /// Each step is read as a table first and then as an [`Action`]: toml keeps the span of
    /// a plain table, but not of the fields of an internally tagged enum.
    #[serde(rename = "step")]
    steps: Vec<toml::Spanned<toml::Table>>,
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
        Self::parse(
            arg,
            &read_bounded(path).map_err(|e| Error::Usage(format!("{arg}: {e}")))?,
        )
    }

    /// Parses scenario TOML from `source` (a file name, for messages), and checks every step
    /// against the format's limits (see [`crate::target::limits`]) and the path rule.
    pub fn parse(source: &str, text: &str) -> Result<Self, Error> {
        let expanded =
            expand(text).map_err(|m| Error::Usage(format!("{source}: {}", m.trim_end())))?;
        // Offsets are the expanded text's: placeholders add no lines, so lines are the file's.
        let usage = |at: usize, msg: &str| {
            let (l, c) = line_col(&expanded, at);
            Error::Usage(format!("{source}:{l}:{c}: {}", msg.trim_end()))
        };
        let file: File = toml::from_str(&expanded).map_err(|e| match e.span() {
            Some(span) => usage(span.start, e.message()),
            None => Error::Usage(format!("{source}: {}", e.message().trim_end())),
        })?;
        let mut steps = Vec::with_capacity(file.steps.len());
        for s in file.steps {
            let span = s.span();
            // A message naming a field is given at that field's line (`len`, `unknown field
            // `pat``, an unknown variant at `op`), otherwise at the step's.
            let refused = |message: &str| {
                let named = message.split('`').skip(1).step_by(2);
                let tag = message.contains("variant").then_some("op");
                let at = named
                    .chain(tag)
                    .find_map(|word| key_in_step(&expanded, span.start, word))
                    .unwrap_or(span.start);
                usage(at, message)
            };
            let action: Action = toml::Value::Table(s.into_inner())
                .try_into()
                .map_err(|e: toml::de::Error| refused(e.message()))?;
            action.check().map_err(|e| refused(&e.message))?;
            steps.push(Step {
                line: line_col(&expanded, span.start).0,
                action,
            });
        }
        check_steps(&steps).map_err(|(line, m)| match line {
            Some(line) => Error::Usage(format!("{source}:{line}: {m}")),
            None => Error::Usage(format!("{source}: {m}")),
        })?;
        Ok(Scenario {
            name: file.name,
            description: file.description,
            steps,
        })
    }

    /// A scenario made of `actions` by rethfs itself (explore), held to the same limits and
    /// handle rules as a file; the error names the first step that breaks one.
    pub fn from_actions(
        name: &str,
        description: &str,
        actions: Vec<Action>,
    ) -> Result<Self, String> {
        let mut steps = Vec::with_capacity(actions.len());
        for (i, action) in actions.into_iter().enumerate() {
            action.check().map_err(|e| format!("step {}: {e}", i + 1))?;
            // Line numbers stand for step numbers, as no file holds these steps.
            steps.push(Step {
                action,
                line: i + 1,
            });
        }
        check_steps(&steps).map_err(|(line, m)| match line {
            Some(l) => format!("step {l}: {m}"),
            None => m,
        })?;
        Ok(Scenario {
            name: name.to_owned(),
            description: description.to_owned(),
            steps,
        })
    }

    /// The scenario as a file [`Scenario::parse`] reads back, each `(text, placeholder)` of
    /// `placeholders` written as its placeholder (`rethfs_123_7` as `{prefix}`).
    pub fn to_toml(&self, placeholders: &[(&str, &str)]) -> String {
        let mut doc = toml::Table::new();
        doc.insert("name".into(), self.name.clone().into());
        doc.insert("description".into(), self.description.clone().into());
        let steps: Vec<toml::Value> = self
            .steps
            .iter()
            .map(|s| toml::Value::try_from(&s.action).expect("actions serialize to TOML"))
            .collect();
        doc.insert("step".into(), steps.into());
        let mut text = toml::to_string(&doc).expect("a table serializes");
        for (from, to) in placeholders {
            text = text.replace(from, to);
        }
        text
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

/// A scenario file's text, refused beyond [`limits::FILE_SIZE`] before it is read whole.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let max = limits::FILE_SIZE.max as u64;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > max {
        return Err(format!(
            "larger than {max} bytes ({}): not read",
            limits::FILE_SIZE.what
        ));
    }
    Ok(text)
}

/// Where `key = ...` is written in the step whose `[[step]]` header is at `header`.
fn key_in_step(text: &str, header: usize, key: &str) -> Option<usize> {
    let mut at = header;
    for (i, l) in text[header..].split_inclusive('\n').enumerate() {
        let t = l.trim_start();
        // The step's body ends at the next table header.
        if i > 0 && t.starts_with('[') {
            return None;
        }
        if t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(at + (l.len() - t.len()));
        }
        at += l.len();
    }
    None
}

/// Across steps: the number of steps, every handle named by an open before it is used (a
/// misspelt name), at most [`limits::OPEN_HANDLES`] open at once, and the reads' total.
/// Using a closed handle or opening an open one again are tests (EBADF on both sides), as
/// only the run can tell whether an open succeeded. Handles still open at the end are closed
/// by the runner.
fn check_steps(steps: &[Step]) -> Result<(), (Option<usize>, String)> {
    limits::STEPS
        .check(steps.len() as i128)
        .map_err(|e| (None, e.message))?;
    let mut named: HashSet<&str> = HashSet::new();
    let mut open: HashSet<&str> = HashSet::new();
    let mut reads: i128 = 0;
    for s in steps {
        let HandleUse {
            uses,
            opens,
            closes,
        } = s.action.handle_use();
        for h in uses {
            if !named.contains(h) {
                return Err((
                    Some(s.line),
                    format!("handle `{h}` is used but no step before opens it"),
                ));
            }
        }
        if let Some(h) = opens {
            named.insert(h);
            open.insert(h);
        }
        if let Some(h) = closes {
            open.remove(h);
        }
        limits::OPEN_HANDLES
            .check(open.len() as i128)
            .map_err(|e| (Some(s.line), e.message))?;
        reads += match &s.action {
            Action::Read { len, .. } => *len as i128,
            Action::ReadFile { .. } => limits::READ_FILE_MAX as i128,
            _ => 0,
        };
        limits::READ_TOTAL
            .check(reads)
            .map_err(|e| (Some(s.line), e.message))?;
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
    fn every_built_in_scenario_is_written_back_as_it_was_read() {
        let prefix = format!("rethfs_{}", std::process::id());
        let uprobe = uprobe_target().unwrap();
        for (name, _) in CATALOGUE {
            let s = Scenario::resolve(name).unwrap();
            let text = s.to_toml(&[(&uprobe, "{uprobe}"), (&prefix, "{prefix}")]);
            let back = Scenario::parse(name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let actions =
                |s: &Scenario| s.steps.iter().map(|s| s.action.clone()).collect::<Vec<_>>();
            assert_eq!(actions(&back), actions(&s), "{name}");
            assert!(
                text.contains("{prefix}") || !text.contains(&prefix),
                "{name}"
            );
        }
    }

    #[test]
    fn every_built_in_scenario_survives_renaming() {
        let prefix = format!("rethfs_{}", std::process::id());
        for (name, _) in CATALOGUE {
            let s = Scenario::resolve(name).unwrap();
            let r = s.renamed(&prefix, &format!("{prefix}_7"));
            assert_eq!(r.steps.len(), s.steps.len(), "{name}");
        }
    }

    #[test]
    fn a_bad_field_is_named_at_its_own_line_with_its_range() {
        let text = "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n\n[[step]]\nop = \"read\"\nhandle = \"h\"\nlen = -1\n";
        let err = Scenario::parse("f", text).unwrap_err().to_string();
        assert!(
            err.starts_with("f:11:1: `len` = -1 is out of range 0..=1048576"),
            "{err}"
        );
        let err = Scenario::parse("f", &text.replace("len = -1", "len = \"big\""))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:11:1: `len` must be an integer"), "{err}");
        let err = Scenario::parse("f", &text.replace("len = -1", "lenn = 3"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:11:1: unknown field `lenn`"), "{err}");
        let err = Scenario::parse("f", &text.replace("path = \"events\"", "path = \"..\""))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:5:1: `path` = \"..\" climbs"), "{err}");
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
    fn a_handle_no_step_opened_is_refused_with_its_line() {
        let text = "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"close\"\nhandle = \"h\"\n";
        assert_eq!(
            Scenario::parse("f", text).unwrap_err().to_string(),
            "f:3: handle `h` is used but no step before opens it"
        );
        // Opening twice and using after close are tests of EBADF, not mistakes.
        let twice = "name = \"x\"\ndescription = \"d\"\n[[step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n[[step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n[[step]]\nop = \"close\"\nhandle = \"h\"\n[[step]]\nop = \"fstat\"\nhandle = \"h\"\n";
        assert_eq!(Scenario::parse("f", twice).unwrap().steps.len(), 4);
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
