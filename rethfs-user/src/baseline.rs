//! Known findings. A baseline names each finding it knows by its scenario and signature (what
//! it is, not when it showed: no step numbers, names, pids or inode numbers), with why it is
//! known; a run's findings are then known or new, and an entry whose scenario ran without it
//! is fixed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{
    check::{Signature, Status},
    error::{Error, Result},
    report::run::RunReport,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default, rename = "finding")]
    pub entries: Vec<Entry>,
}

/// One known finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The scenario it shows in; `*` for any (explore's cases are named after themselves).
    pub scenario: String,
    #[serde(flatten)]
    pub signature: Signature,
    /// Why it is known: the kernel behaviour behind it, where it was explained.
    pub reason: String,
}

/// A run's findings against a baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Judgement {
    /// The baseline file.
    pub file: String,
    /// Findings the baseline knows: their numbers in the report, and why they are known.
    pub known: Vec<Known>,
    /// The numbers of the findings it does not know.
    pub new: Vec<usize>,
    /// Entries whose scenario ran, and passed or found something else.
    pub fixed: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Known {
    pub finding: usize,
    pub reason: String,
}

impl Entry {
    /// Whether this entry is about a finding of `signature` in `scenario`.
    fn matches(&self, scenario: &str, signature: &Signature) -> bool {
        (self.scenario == "*" || self.scenario == scenario) && self.signature == *signature
    }
}

impl Baseline {
    /// Reads a baseline file; an unreadable or malformed one is bad input, named.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: not a baseline: {}",
                path.display(),
                e.message()
            ))
        })
    }

    /// One entry per scenario and signature the report shows, each with what was seen as its
    /// reason, to be replaced by the explanation.
    pub fn from_report(report: &RunReport) -> Self {
        let mut entries: Vec<Entry> = Vec::new();
        for (_, v, f) in report.findings() {
            let signature = Signature::of(f);
            if entries.iter().any(|e| e.matches(&v.scenario, &signature)) {
                continue;
            }
            let detail = if f.detail.is_empty() {
                &f.host
            } else {
                &f.detail
            };
            entries.push(Entry {
                scenario: v.scenario.clone(),
                signature,
                reason: format!(
                    "seen on Linux {}: {}",
                    report.host.kernel,
                    detail.lines().next().unwrap_or_default()
                ),
            });
        }
        Baseline { entries }
    }

    /// The entry that knows a finding of `signature` in any scenario (explore names its cases
    /// itself), if any.
    pub fn knows_anywhere(&self, signature: &Signature) -> Option<&Entry> {
        self.entries.iter().find(|e| e.signature == *signature)
    }

    /// The entry that knows a finding of `signature` in `scenario`, if any.
    pub fn knows(&self, scenario: &str, signature: &Signature) -> Option<&Entry> {
        self.entries.iter().find(|e| e.matches(scenario, signature))
    }

    /// Sorts `report`'s findings into known and new, and finds the entries that are fixed.
    pub fn judge(&self, file: &Path, report: &RunReport) -> Judgement {
        let mut out = Judgement {
            file: file.display().to_string(),
            ..Judgement::default()
        };
        for (n, v, f) in report.findings() {
            match self.knows(&v.scenario, &Signature::of(f)) {
                Some(e) => out.known.push(Known {
                    finding: n,
                    reason: e.reason.clone(),
                }),
                None => out.new.push(n),
            }
        }
        out.fixed = self
            .entries
            .iter()
            .filter(|e| {
                report.verdicts.iter().any(|v| {
                    (e.scenario == "*" || e.scenario == v.scenario)
                        && !matches!(v.status, Status::Skipped(_))
                }) && !report
                    .findings()
                    .any(|(_, v, f)| e.matches(&v.scenario, &Signature::of(f)))
            })
            .cloned()
            .collect();
        out
    }

    pub fn to_toml(&self) -> String {
        let header = "# Findings rethfs knows, each by its scenario and signature, with why.\n\
                      # `rethfs run --baseline FILE` reports these as known and fails only on others.\n\n";
        format!(
            "{header}{}",
            toml::to_string_pretty(self).expect("a baseline serializes to TOML")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(scenario: &str, invariant: &str) -> Entry {
        Entry {
            scenario: scenario.into(),
            signature: Signature {
                kind: "violation".into(),
                invariant: Some(invariant.to_owned().into()),
                side: Some(crate::check::Side::Both),
                op: "getdents".into(),
            },
            reason: "why".into(),
        }
    }

    #[test]
    fn a_baseline_reads_back_what_it_writes() {
        let b = Baseline {
            entries: vec![
                entry("readdir", "readdir-seek-resumes-after-entry"),
                entry("*", "x"),
            ],
        };
        let back: Baseline = toml::from_str(&b.to_toml()).unwrap();
        assert_eq!(back.entries, b.entries);
        let sig = b.entries[0].signature.clone();
        assert!(back.knows("readdir", &sig).is_some());
        assert!(back.knows("cache", &sig).is_none(), "another scenario");
        let any = back.entries[1].signature.clone();
        assert!(
            back.knows("anything", &any).is_some(),
            "`*` matches every scenario"
        );
    }

    #[test]
    fn a_malformed_baseline_is_bad_input_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("rethfs-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(
            &path,
            "[[finding]]\nscenario = \"readdir\"\ncolour = \"blue\"\n",
        )
        .unwrap();
        let err = Baseline::read(&path).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("bad.toml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
