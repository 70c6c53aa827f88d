//! The report of a `rethfs run`: one typed document, written as the run's JSON and read back by
//! `rethfs baseline` and `rethfs repro`; the table, KTAP and JUnit are rendered from it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    baseline::{Judgement, Known},
    check::{Finding, Status, Verdict},
    error::{Error, Result},
};

/// The report's format version: raised whenever a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: u32,
    pub host: Host,
    /// The lifetime observer: its name, each hook (attached, or why not), the records it
    /// delivered, those lost and, of those, the runs the kernel skipped. None without one.
    pub observer: Option<serde_json::Value>,
    /// The model's rules (`v6-17`).
    pub policy: String,
    /// One per scenario run, in order.
    pub verdicts: Vec<Verdict>,
    /// Each scenario with findings as it ran, for reproducers.
    #[serde(default)]
    pub scenarios: Vec<ScenarioRun>,
    /// Both sides' steps behind each finding of a sequential scenario.
    pub finding_steps: Vec<serde_json::Value>,
    /// The calls behind each finding of a race.
    pub finding_histories: Vec<serde_json::Value>,
    /// What the run left changed in tracefs (nothing, when all went well).
    pub host_left_dirty: Vec<String>,
    /// Findings against a baseline, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Judgement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// `uname -r`.
    pub kernel: String,
    pub tracefs: PathBuf,
    /// Each attach backend, whether it loaded, and why not.
    pub backends: serde_json::Value,
    /// The kernel build options rethfs's choices depend on.
    pub config: serde_json::Value,
}

/// A scenario as it ran: its name and its file, with the run's own names as `{prefix}` and
/// its uprobe target as `{uprobe}`, and what a reproducer must know of the run besides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRun {
    pub name: String,
    pub toml: String,
    /// What `{prefix}` stood for (`rethfs_<pid>_<n>`), to read the run's answers in
    /// `finding_steps`, which name the objects as they were; empty in older reports.
    #[serde(default)]
    pub prefix: String,
    /// What `{uprobe}` stood for (`PATH:OFFSET`).
    #[serde(default)]
    pub uprobe: String,
    /// The steps (from 1) the host answered with an errno: a reproducer's setup may fail
    /// there too, and nowhere else. Empty for a race.
    #[serde(default)]
    pub failed_steps: Vec<usize>,
    /// The steps the host skipped (not its objects, not allowed): a reproducer leaves them
    /// out as the run did.
    #[serde(default)]
    pub skipped_steps: Vec<usize>,
}

impl RunReport {
    /// Reads a report `rethfs run --json` wrote; a file that is none, or of another schema,
    /// is bad input.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let schema = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| Error::Usage(format!("{}: not JSON: {e}", path.display())))?
            .get("schema")
            .and_then(serde_json::Value::as_u64);
        if schema != Some(u64::from(SCHEMA)) {
            return Err(Error::Usage(format!(
                "{}: not a rethfs run report of schema {SCHEMA} (schema: {})",
                path.display(),
                schema.map_or("none".into(), |s| s.to_string())
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("{}: a malformed run report: {e}", path.display())))
    }

    /// Every finding with its scenario, numbered from 1 in report order (`repro --finding N`).
    pub fn findings(&self) -> impl Iterator<Item = (usize, &Verdict, &Finding)> {
        self.verdicts
            .iter()
            .flat_map(|v| v.findings.iter().map(move |f| (v, f)))
            .enumerate()
            .map(|(i, (v, f))| (i + 1, v, f))
    }

    /// Why the baseline knows finding `n`, when it does.
    pub fn known(&self, n: usize) -> Option<&Known> {
        self.baseline
            .as_ref()
            .and_then(|b| b.known.iter().find(|k| k.finding == n))
    }

    /// Whether a finding made the run fail: any, or with a baseline, any it does not know.
    pub fn failed(&self) -> bool {
        match &self.baseline {
            Some(j) => !j.new.is_empty(),
            None => self
                .verdicts
                .iter()
                .any(|v| matches!(v.status, Status::Divergence | Status::Violation)),
        }
    }
}
