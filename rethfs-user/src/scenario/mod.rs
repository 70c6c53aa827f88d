//! Scenarios: sequences of [`Action`]s, built in or written by users as TOML, and the runner
//! that drives any [`Target`](crate::interface::Target) through one.
//!
//! A scenario file has a `name`, a `description` and `[[step]]` tables, each an action with
//! its `op` (see [`Action`]). Two placeholders are expanded before parsing: `{prefix}`, the
//! `rethfs_<pid>` name every object rethfs creates carries, and `{uprobe}`, the `PATH:OFFSET`
//! of a function in rethfs's own executable.

mod audit;
mod runner;
mod thread;

use std::{collections::HashSet, path::Path};

use serde::Deserialize;

pub use audit::audit;
pub use runner::{StepResult, Transcript, run, run_pair};
pub use thread::{Bound, Thread};

use crate::{
    error::Error,
    host::uprobe_target,
    interface::{Action, HandleUse, limits},
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

/// Concurrent scenarios: threads racing on the host, judged as histories. They can oops a
/// vulnerable kernel, so a host runs them only when asked (`--races`, or by name).
pub const RACES: &[(&str, &str)] = &[
    ("churn", include_str!("races/churn.toml")),
    ("readdir-churn", include_str!("races/readdir-churn.toml")),
    ("open-removal", include_str!("races/open-removal.toml")),
    ("events-listing", include_str!("races/events-listing.toml")),
    ("instance-rmdir", include_str!("races/instance-rmdir.toml")),
    (
        "remount-ownership",
        include_str!("races/remount-ownership.toml"),
    ),
    (
        "user-events-format",
        include_str!("races/user-events-format.toml"),
    ),
];

/// Scenarios that exist only on a host: made from its own tree.
pub const HOST_ONLY: &[(&str, &str)] = &[("audit", audit::DESCRIPTION)];

/// A parsed, expanded and checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The setup: run on host and model in lockstep (all of a sequential scenario).
    pub steps: Vec<Step>,
    /// Concurrent sections, run after the setup and judged as a history.
    pub threads: Vec<Thread>,
    /// The known kernel bugs whose trigger this scenario runs (`CVE-2026-74605`, or the
    /// mainline fix's commit for a bug with no CVE), for the matrix's table.
    pub cves: Vec<String>,
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
    #[serde(default, rename = "step")]
    steps: Vec<toml::Spanned<toml::Table>>,
    #[serde(default, rename = "thread")]
    threads: Vec<toml::Spanned<ThreadFile>>,
    #[serde(default)]
    cves: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadFile {
    name: String,
    repeat: Option<i64>,
    duration_ms: Option<i64>,
    #[serde(default, rename = "step")]
    steps: Vec<toml::Spanned<toml::Table>>,
}

/// Reads each step table as an [`Action`] and checks it; `usage` places a message at a byte
/// offset of the expanded text.
fn parse_steps(
    expanded: &str,
    tables: Vec<toml::Spanned<toml::Table>>,
    usage: &dyn Fn(usize, &str) -> Error,
) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::with_capacity(tables.len());
    for s in tables {
        let span = s.span();
        // A message naming a field is given at that field's line (`len`, `unknown field
        // `pat``, an unknown variant at `op`), otherwise at the step's.
        let refused = |message: &str| {
            let named = message.split('`').skip(1).step_by(2);
            let tag = message.contains("variant").then_some("op");
            let at = named
                .chain(tag)
                .find_map(|word| key_in_step(expanded, span.start, word))
                .unwrap_or(span.start);
            usage(at, message)
        };
        let action: Action = toml::Value::Table(s.into_inner())
            .try_into()
            .map_err(|e: toml::de::Error| refused(e.message()))?;
        action.check().map_err(|e| refused(&e.message))?;
        steps.push(Step {
            line: line_col(expanded, span.start).0,
            action,
        });
    }
    Ok(steps)
}

/// 1-based line and column of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// `CVE-YYYY-N...`, or a commit id of 12 to 40 hex digits.
fn bug_id(id: &str) -> bool {
    let cve = id
        .strip_prefix("CVE-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(y, n)| {
            y.len() == 4 && n.len() >= 4 && (y.to_owned() + n).bytes().all(|b| b.is_ascii_digit())
        });
    let commit = (12..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    cve || commit
}

impl Scenario {
    /// Finds a built-in scenario by name, or reads a TOML file.
    pub fn resolve(arg: &str) -> Result<Self, Error> {
        if let Some((_, text)) = CATALOGUE.iter().chain(RACES).find(|(n, _)| *n == arg) {
            return Self::parse(&format!("<built-in {arg}>"), text);
        }
        if HOST_ONLY.iter().any(|(n, _)| *n == arg) {
            return Err(Error::Usage(format!(
                "scenario `{arg}` runs only on a host: use `rethfs run --scenario {arg}`"
            )));
        }
        let path = Path::new(arg);
        if !path.exists() {
            let names: Vec<&str> = CATALOGUE.iter().chain(RACES).map(|(n, _)| *n).collect();
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
    /// against the format's limits (see [`crate::interface::limits`]) and the path rule.
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
        let at_line = |line: usize, m: String| Error::Usage(format!("{source}:{line}: {m}"));
        let steps = parse_steps(&expanded, file.steps, &usage)?;
        limits::THREADS
            .check(file.threads.len() as i128)
            .map_err(|e| Error::Usage(format!("{source}: {e}")))?;
        let mut threads: Vec<Thread> = Vec::with_capacity(file.threads.len());
        for t in file.threads {
            let line = line_col(&expanded, t.span().start).0;
            let t = t.into_inner();
            thread::check_name(&t.name).map_err(|m| at_line(line, m))?;
            if threads.iter().any(|o| o.name == t.name) {
                return Err(at_line(line, format!("a second thread named `{}`", t.name)));
            }
            let bound = thread::bound(t.repeat, t.duration_ms).map_err(|m| at_line(line, m))?;
            let steps = parse_steps(&expanded, t.steps, &usage)?;
            if steps.is_empty() {
                return Err(at_line(line, format!("thread `{}` has no step", t.name)));
            }
            if let Some((s, why)) = steps
                .iter()
                .find_map(|s| thread::refused_in_thread(&s.action).map(|w| (s, w)))
            {
                return Err(at_line(
                    s.line,
                    format!("`{}` cannot run in a thread: it {why}", s.action.op()),
                ));
            }
            // A thread's handles are its own: it must open each one it uses, and close each
            // one it opens, so every repetition starts with none.
            check_steps(&steps).map_err(|(l, m)| at_line(l.unwrap_or(line), m))?;
            if let Some(h) = thread::left_open(&steps) {
                return Err(at_line(
                    line,
                    format!("thread `{}` leaves handle `{h}` open: close it", t.name),
                ));
            }
            threads.push(Thread {
                name: t.name,
                line,
                bound,
                steps,
            });
        }
        if !threads.is_empty() && threads.iter().all(|t| t.bound == Bound::WhileOthersRun) {
            return Err(at_line(
                threads[0].line,
                "no thread has `repeat` or `duration_ms`: the threads would never end".into(),
            ));
        }
        check_steps(&steps).map_err(|(line, m)| match line {
            Some(line) => at_line(line, m),
            None => Error::Usage(format!("{source}: {m}")),
        })?;
        let all = steps.len() + threads.iter().map(|t| t.steps.len()).sum::<usize>();
        limits::STEPS
            .check(all as i128)
            .map_err(|e| Error::Usage(format!("{source}: {e}")))?;
        if let Some(bad) = file.cves.iter().find(|c| !bug_id(c)) {
            return Err(Error::Usage(format!(
                "{source}: `cves` = {bad:?} is neither a CVE id (CVE-2024-46785) nor a mainline \
                 fix's commit (12 to 40 hex digits)"
            )));
        }
        Ok(Scenario {
            name: file.name,
            description: file.description,
            steps,
            threads,
            cves: file.cves,
        })
    }

    /// Parses scenario TOML as [`Scenario::parse`] does, with `{prefix}` and `{uprobe}` left
    /// as written in every action: for steps that run elsewhere (a reproducer), under names
    /// of their own.
    pub fn parse_keeping_placeholders(source: &str, text: &str) -> Result<Self, Error> {
        let mut s = Self::parse(source, text)?;
        if text.contains("{uprobe}") {
            s = s.renamed(&uprobe_target().map_err(Error::Environment)?, "{uprobe}");
        }
        Ok(s.renamed(&own_prefix(), "{prefix}"))
    }

    /// Whether the scenario has threads, which run only where races are asked for.
    pub fn is_concurrent(&self) -> bool {
        !self.threads.is_empty()
    }

    /// The scenario as one sequence: the setup, then each thread's steps once, in order, with
    /// their handles scoped. What the model alone can run of a concurrent scenario.
    pub fn sequential(&self) -> Scenario {
        let mut out = self.clone();
        for t in std::mem::take(&mut out.threads) {
            out.steps.extend(t.steps.iter().map(|s| Step {
                action: t.scope_action(&s.action),
                line: s.line,
            }));
        }
        out
    }

    /// Every action of the scenario, setup and threads.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps
            .iter()
            .chain(self.threads.iter().flat_map(|t| t.steps.iter()))
            .map(|s| &s.action)
    }

    /// Every action of the scenario, setup and threads, to be rewritten in place.
    fn actions_mut(&mut self) -> impl Iterator<Item = &mut Action> {
        self.steps
            .iter_mut()
            .chain(self.threads.iter_mut().flat_map(|t| t.steps.iter_mut()))
            .map(|s| &mut s.action)
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
        limits::STEPS
            .check(steps.len() as i128)
            .map_err(|e| e.message)?;
        check_steps(&steps).map_err(|(line, m)| match line {
            Some(l) => format!("step {l}: {m}"),
            None => m,
        })?;
        Ok(Scenario {
            name: name.to_owned(),
            description: description.to_owned(),
            steps,
            threads: Vec::new(),
            cves: Vec::new(),
        })
    }

    /// The scenario as a file [`Scenario::parse`] reads back, each `(text, placeholder)` of
    /// `placeholders` written as its placeholder (`rethfs_123_7` as `{prefix}`).
    pub fn to_toml(&self, placeholders: &[(&str, &str)]) -> String {
        let mut doc = toml::Table::new();
        doc.insert("name".into(), self.name.clone().into());
        doc.insert("description".into(), self.description.clone().into());
        if !self.cves.is_empty() {
            doc.insert("cves".into(), self.cves.clone().into());
        }
        let steps = |steps: &[Step]| -> toml::Value {
            steps
                .iter()
                .map(|s| toml::Value::try_from(&s.action).expect("actions serialize to TOML"))
                .collect::<Vec<_>>()
                .into()
        };
        if !self.steps.is_empty() {
            doc.insert("step".into(), steps(&self.steps));
        }
        let threads: Vec<toml::Value> = self
            .threads
            .iter()
            .map(|t| {
                let mut table = toml::Table::new();
                table.insert("name".into(), t.name.clone().into());
                match t.bound {
                    Bound::Times(n) => {
                        table.insert("repeat".into(), (n as i64).into());
                    }
                    Bound::For(d) => {
                        table.insert("duration_ms".into(), (d.as_millis() as i64).into());
                    }
                    Bound::WhileOthersRun => {}
                }
                table.insert("step".into(), steps(&t.steps));
                table.into()
            })
            .collect();
        if !threads.is_empty() {
            doc.insert("thread".into(), threads.into());
        }
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
        for a in out.actions_mut() {
            let text = serde_json::to_string(a).expect("actions serialize");
            *a = serde_json::from_str(&text.replace(from, to)).expect("renamed action");
        }
        out
    }

    /// For kernels without kprobes: the same scenario with each kprobe replaced by a uprobe of
    /// the same name on rethfs's own function (`None` when the scenario has no kprobe).
    pub fn with_uprobe_stand_in(&self) -> Result<Option<Scenario>, Error> {
        use crate::interface::ControlFile;
        if !self.actions().any(|a| {
            matches!(
                a,
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
        for a in out.actions_mut() {
            if let Action::Control { file, line } = a
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

/// What `{prefix}` expands to in this process.
fn own_prefix() -> String {
    format!("rethfs_{}", std::process::id())
}

/// Replaces `{prefix}` and `{uprobe}`; any other `{word}` is an error naming it.
fn expand(text: &str) -> Result<String, String> {
    let mut out = text.replace("{prefix}", &own_prefix());
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

/// Across steps: every handle named by an open before it is used (a
/// misspelt name), at most [`limits::OPEN_HANDLES`] open at once, and the reads' total.
/// Using a closed handle or opening an open one again are tests (EBADF on both sides), as
/// only the run can tell whether an open succeeded. Handles still open at the end are closed
/// by the runner.
fn check_steps(steps: &[Step]) -> Result<(), (Option<usize>, String)> {
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
        for (name, _) in CATALOGUE.iter().chain(RACES) {
            let s = Scenario::resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn every_built_in_scenario_is_written_back_as_it_was_read() {
        let prefix = format!("rethfs_{}", std::process::id());
        let uprobe = uprobe_target().unwrap();
        for (name, _) in CATALOGUE.iter().chain(RACES) {
            let s = Scenario::resolve(name).unwrap();
            let text = s.to_toml(&[(&uprobe, "{uprobe}"), (&prefix, "{prefix}")]);
            let back = Scenario::parse(name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let actions = |s: &Scenario| s.actions().cloned().collect::<Vec<_>>();
            assert_eq!(actions(&back), actions(&s), "{name}");
            let threads = |s: &Scenario| {
                s.threads
                    .iter()
                    .map(|t| (t.name.clone(), t.bound, t.steps.len()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(threads(&back), threads(&s), "{name}");
            assert_eq!(back.cves, s.cves, "{name}");
            assert!(
                text.contains("{prefix}") || !text.contains(&prefix),
                "{name}"
            );
        }
    }

    #[test]
    fn cves_name_a_cve_or_a_fix_commit() {
        let with = |c: &str| {
            Scenario::parse(
                "f",
                &format!(
                    "name = \"x\"\ndescription = \"d\"\ncves = [{c}]\n[[step]]\nop = \"getcwd\"\n"
                ),
            )
            .map(|s| s.cves)
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            with(r#""CVE-2026-74605", "1e4624eb5a0e""#),
            Ok(vec!["CVE-2026-74605".into(), "1e4624eb5a0e".into()])
        );
        for bad in [r#""74605""#, r#""CVE-26-1""#, r#""xyz1e4624eb5a0e""#] {
            let e = with(bad).unwrap_err();
            assert!(e.contains("neither a CVE id"), "{bad}: {e}");
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

    #[test]
    fn threads_are_held_to_their_rules_at_their_lines() {
        let head = "name = \"x\"\ndescription = \"d\"\n";
        let writer = "[[thread]]\nname = \"w\"\nrepeat = 3\n[[thread.step]]\nop = \"stat\"\npath = \"events\"\n";
        let reader = "[[thread]]\nname = \"r\"\n[[thread.step]]\nop = \"open\"\npath = \"events\"\nhandle = \"h\"\n";
        let err = |text: &str| Scenario::parse("f", text).unwrap_err().to_string();
        // The reader's handle is never closed.
        assert_eq!(
            err(&format!("{head}{writer}{reader}")),
            "f:9: thread `r` leaves handle `h` open: close it"
        );
        let closed = format!("{reader}[[thread.step]]\nop = \"close\"\nhandle = \"h\"\n");
        let s = Scenario::parse("f", &format!("{head}{writer}{closed}")).unwrap();
        assert_eq!(s.threads[1].bound, Bound::WhileOthersRun);
        assert_eq!(s.sequential().steps.len(), 3);
        assert!(
            s.sequential()
                .actions()
                .any(|a| a.handle_use().opens == Some("r.h"))
        );
        // A thread may not use another's handle, nor move the shared current directory.
        let other = format!("{writer}[[thread.step]]\nop = \"close\"\nhandle = \"h\"\n");
        assert!(err(&format!("{head}{other}{closed}")).contains("handle `h` is used"));
        let cd = writer.replace("op = \"stat\"", "op = \"chdir\"");
        assert!(err(&format!("{head}{cd}")).contains("`chdir` cannot run in a thread"));
        // Readers alone would never stop.
        assert!(err(&format!("{head}{closed}")).contains("never end"));
        let both = writer.replace("repeat = 3", "repeat = 3\nduration_ms = 5");
        assert!(err(&format!("{head}{both}")).contains("not both"));
        let zero = writer.replace("repeat = 3", "repeat = 0");
        assert!(err(&format!("{head}{zero}")).contains("1..=1000000"));
    }
}
