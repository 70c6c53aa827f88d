//! Removing what rethfs created: its probe events and instances, named `rethfs_<pid>`.
//!
//! A run removes its own on every exit path. What a killed run left is removed by the next
//! `run`, `observe` or `bench` before it starts ([`sweep_dead_runs`]), or by `rethfs cleanup`.
//! Objects of a live process and objects without the prefix are never touched.

use std::{collections::BTreeSet, fs, io::Write, path::Path};

/// The run id in an object name: `rethfs_<pid>` or `rethfs_<pid>_<suffix>`.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("rethfs_")?;
    rest.split('_').next()?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Objects that belong to `pid`.
pub fn of_pid(pid: u32) -> impl Fn(&str) -> bool {
    move |name| owner_pid(name) == Some(pid)
}

/// Objects of runs that are no longer alive.
pub fn of_dead_runs(name: &str) -> bool {
    owner_pid(name).is_some_and(|p| !pid_alive(p))
}

/// `GROUP/EVENT` (a user event's with its fields) of every probe defined in the control files, eprobes first: each holds the
/// event it is attached to, which cannot go before it.
fn probes(root: &Path) -> BTreeSet<(bool, String, String)> {
    let mut out = BTreeSet::new();
    for file in ["dynamic_events", "uprobe_events", "kprobe_events"] {
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            continue;
        };
        for line in text.lines() {
            let spec = line.split_whitespace().next().unwrap_or_default();
            match spec.split_once(':') {
                // A user event is listed without its group, and freed only with its fields.
                Some(("u", _)) => {
                    let event = line["u:".len()..].trim();
                    out.insert((true, "user_events".to_owned(), event.to_owned()));
                }
                Some((kind, name)) => {
                    if let Some((group, event)) = name.split_once('/') {
                        out.insert((kind != "e", group.to_owned(), event.to_owned()));
                    }
                }
                None => {}
            }
        }
    }
    out
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// Disables, then removes, every probe whose group `owned` accepts, and every such instance.
/// Returns what it removed; the errors of what it could not remove.
pub fn remove_owned(root: &Path, owned: &dyn Fn(&str) -> bool) -> (Vec<String>, Vec<String>) {
    let (mut removed, mut errors) = (Vec::new(), Vec::new());
    let ours: Vec<(String, String)> = probes(root)
        .into_iter()
        .filter(|(_, g, e)| owned(g) || (g == "user_events" && owned(e)))
        .map(|(_, g, e)| (g, e))
        .collect();
    let instances: Vec<String> = fs::read_dir(root.join("instances"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| owned(n))
                .collect()
        })
        .unwrap_or_default();
    // An enabled event cannot be removed: disable this run's groups in every trace array.
    let mut arrays = vec![root.to_owned()];
    if let Ok(d) = fs::read_dir(root.join("instances")) {
        arrays.extend(d.filter_map(|e| Some(e.ok()?.path())));
    }
    // The shared `user_events` group is disabled event by event.
    let dirs: BTreeSet<String> = ours
        .iter()
        .map(|(g, e)| match g.as_str() {
            "user_events" => format!("{g}/{}", e.split(' ').next().unwrap_or_default()),
            _ => g.clone(),
        })
        .collect();
    for tr in &arrays {
        for d in &dirs {
            let enable = tr.join("events").join(d).join("enable");
            if enable.exists() {
                let _ = fs::write(&enable, "0");
            }
        }
    }
    for name in instances {
        match fs::remove_dir(root.join("instances").join(&name)) {
            Ok(()) => removed.push(format!("instances/{name}")),
            Err(e) => errors.push(format!("rmdir instances/{name}: {e}")),
        }
    }
    let control = if root.join("dynamic_events").exists() {
        "dynamic_events"
    } else {
        "uprobe_events"
    };
    for (group, event) in ours {
        match append(&root.join(control), &format!("-:{group}/{event}")) {
            Ok(()) => removed.push(format!("probe {group}/{event}")),
            Err(e) => errors.push(format!("removing probe {group}/{event}: {e}")),
        }
    }
    (removed, errors)
}

/// What a sweep of dead runs' objects did.
pub struct Swept {
    pub removed: Vec<String>,
    pub errors: Vec<String>,
}

/// Removes the objects of runs whose process is gone, as `rethfs cleanup` does.
pub fn sweep_dead_runs(root: &Path) -> Swept {
    let (removed, errors) = remove_owned(root, &of_dead_runs);
    Swept { removed, errors }
}

/// The sweep a command runs before it starts, said on stderr: what it removed, and what it
/// could not (which does not stop the command: the objects are not its own).
pub fn sweep_before(root: &Path, command: &str) {
    let s = sweep_dead_runs(root);
    if !s.removed.is_empty() {
        eprintln!(
            "rethfs {command}: removed what runs no longer alive left: {}",
            s.removed.join(", ")
        );
    }
    for e in &s.errors {
        log::warn!("could not remove what a dead run left: {e}");
    }
}

/// Removes this process's objects when dropped: on normal exit, on error returns, and while
/// a panic unwinds. Signals are turned into an orderly stop by the caller, which then drops it.
pub struct Guard {
    root: std::path::PathBuf,
}

impl Guard {
    pub fn new(root: &Path) -> Self {
        Guard {
            root: root.to_owned(),
        }
    }

    /// Removes this run's objects now; returns the errors.
    pub fn sweep(&self) -> Vec<String> {
        let (_, errors) = remove_owned(&self.root, &of_pid(std::process::id()));
        errors
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for e in self.sweep() {
            eprintln!("rethfs: cleanup: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a directory standing in for tracefs: removals are appended eprobes first, since
    /// each holds the event it is attached to, and only the owned groups'.
    #[test]
    fn eprobes_are_removed_before_the_events_they_hold() {
        let root = std::env::temp_dir().join(format!("rethfs-cleanup-{}", std::process::id()));
        fs::create_dir_all(root.join("instances")).unwrap();
        let listed = "p:rethfs_9_1a/e0 /bin/true:0x10\ne:rethfs_9_1a/e1 rethfs_9_1a.e0\n\
                      p:other/e0 /bin/true:0x10\n";
        fs::write(root.join("dynamic_events"), listed).unwrap();
        let (removed, errors) = remove_owned(&root, &of_pid(9));
        let written = fs::read_to_string(root.join("dynamic_events")).unwrap();
        fs::remove_dir_all(&root).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(removed, ["probe rethfs_9_1a/e1", "probe rethfs_9_1a/e0"]);
        assert!(
            written.ends_with("-:rethfs_9_1a/e1\n-:rethfs_9_1a/e0\n"),
            "{written}"
        );
    }

    /// A user event is listed as `u:NAME FIELDS`, in the shared `user_events` group: only the
    /// run's own name is removed, and only its own `enable` written.
    #[test]
    fn user_events_are_removed_by_their_own_name() {
        let root = std::env::temp_dir().join(format!("rethfs-cleanup-u-{}", std::process::id()));
        let enable = |e: &str| root.join("events/user_events").join(e).join("enable");
        for e in ["rethfs_9_ue", "theirs"] {
            fs::create_dir_all(enable(e).parent().unwrap()).unwrap();
            fs::write(enable(e), "1").unwrap();
        }
        let listed = "u:rethfs_9_ue u32 count\nu:theirs\n";
        fs::write(root.join("dynamic_events"), listed).unwrap();
        let (removed, errors) = remove_owned(&root, &of_pid(9));
        let written = fs::read_to_string(root.join("dynamic_events")).unwrap();
        let enabled =
            [enable("rethfs_9_ue"), enable("theirs")].map(|p| fs::read_to_string(p).unwrap());
        fs::remove_dir_all(&root).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(removed, ["probe user_events/rethfs_9_ue u32 count"]);
        assert!(
            written.ends_with("-:user_events/rethfs_9_ue u32 count\n"),
            "{written}"
        );
        assert_eq!(enabled, ["0", "1"]);
    }

    #[test]
    fn owner_pid_reads_only_rethfs_names() {
        assert_eq!(owner_pid("rethfs_123"), Some(123));
        assert_eq!(owner_pid("rethfs_123_inst"), Some(123));
        assert_eq!(owner_pid("rethfs_x"), None);
        assert_eq!(owner_pid("sched"), None);
        assert_eq!(owner_pid("myrethfs_1"), None);
        assert!(of_pid(12)("rethfs_12") && !of_pid(12)("rethfs_123"));
    }
}
