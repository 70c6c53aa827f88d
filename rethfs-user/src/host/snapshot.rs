//! What a run must leave as it found it: the probe definitions, the instances, and the
//! tracefs mount options.

use std::{collections::BTreeMap, fs, path::Path};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    controls: BTreeMap<&'static str, String>,
    instances: Vec<String>,
    mount: String,
}

impl Snapshot {
    pub fn take(root: &Path) -> Self {
        let controls = ["kprobe_events", "uprobe_events", "dynamic_events"]
            .into_iter()
            .filter_map(|f| Some((f, fs::read_to_string(root.join(f)).ok()?)))
            .collect();
        let mut instances: Vec<String> = fs::read_dir(root.join("instances"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        instances.sort();
        let mount = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(&*root.to_string_lossy()))
            .map(|l| {
                // Mount options (6th field) and super options (after " - tracefs nodev ").
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{} {}", f.get(5).unwrap_or(&""), f.last().unwrap_or(&""))
            })
            .unwrap_or_default();
        Snapshot {
            controls,
            instances,
            mount,
        }
    }

    /// Each difference from `before`, as a line a person can act on.
    pub fn differences(&self, before: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (file, text) in &self.controls {
            let old = before.controls.get(file).map(String::as_str).unwrap_or("");
            let added: Vec<&str> = text
                .lines()
                .filter(|l| !old.lines().any(|o| o == *l))
                .collect();
            let gone: Vec<&str> = old
                .lines()
                .filter(|l| !text.lines().any(|n| n == *l))
                .collect();
            if !added.is_empty() {
                out.push(format!("{file} gained {added:?}"));
            }
            if !gone.is_empty() {
                out.push(format!("{file} lost {gone:?}"));
            }
        }
        if self.instances != before.instances {
            out.push(format!(
                "instances were {:?}, now {:?}",
                before.instances, self.instances
            ));
        }
        if self.mount != before.mount {
            out.push(format!(
                "mount options were `{}`, now `{}`",
                before.mount, self.mount
            ));
        }
        out
    }
}
