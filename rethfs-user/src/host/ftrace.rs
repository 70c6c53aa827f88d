//! ftrace's own tracing of kernel functions, for comparing costs: kprobe events in
//! `kprobe_events`, enabled only in an instance of this run, so the global buffer is untouched.

use std::{
    fs,
    path::{Path, PathBuf},
};

use super::churn::append;

/// Kprobe events of this run recording into their own instance; removed when dropped.
pub struct KprobeTracing {
    root: PathBuf,
    group: String,
    instance: PathBuf,
    names: Vec<String>,
}

impl KprobeTracing {
    /// Defines one event per `(kind, symbol)` (`'p'` kprobe, `'r'` kretprobe) in the group
    /// `PREFIX_ftrace`, and enables them in an instance of that name with as much buffer as
    /// rethfs's ring (32 MiB over all CPUs).
    pub fn start(root: &Path, prefix: &str, probes: &[(char, &str)]) -> Result<Self, String> {
        let control = root.join("kprobe_events");
        if !control.exists() {
            return Err("this kernel has no kprobe_events".into());
        }
        let group = format!("{prefix}_ftrace");
        let mut t = KprobeTracing {
            root: root.to_owned(),
            instance: root.join("instances").join(&group),
            group,
            names: Vec::new(),
        };
        for (i, (kind, symbol)) in probes.iter().enumerate() {
            let name = format!("h{i}{kind}");
            append(&control, &format!("{kind}:{}/{name} {symbol}", t.group))
                .map_err(|e| format!("kprobe_events: {kind} {symbol}: {e}"))?;
            t.names.push(name);
        }
        fs::create_dir(&t.instance).map_err(|e| format!("{}: {e}", t.instance.display()))?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = t.instance.join("buffer_size_kb");
        fs::write(&size, (32 * 1024 / cpus).to_string())
            .map_err(|e| format!("{}: {e}", size.display()))?;
        fs::write(t.enable(), "1").map_err(|e| format!("{}: {e}", t.enable().display()))?;
        Ok(t)
    }

    fn enable(&self) -> PathBuf {
        self.instance
            .join("events")
            .join(&self.group)
            .join("enable")
    }

    /// Entries and overruns summed over the instance's per-CPU buffers.
    pub fn counts(&self) -> (u64, u64) {
        let mut sums = (0, 0);
        let cpus = fs::read_dir(self.instance.join("per_cpu"))
            .into_iter()
            .flatten();
        for cpu in cpus.flatten() {
            let stats = fs::read_to_string(cpu.path().join("stats")).unwrap_or_default();
            for line in stats.lines() {
                let value = |key: &str| {
                    line.strip_prefix(key)
                        .and_then(|v| v.trim().parse::<u64>().ok())
                };
                sums.0 += value("entries:").unwrap_or(0);
                sums.1 += value("overrun:").unwrap_or(0);
            }
        }
        sums
    }
}

impl Drop for KprobeTracing {
    fn drop(&mut self) {
        let _ = fs::write(self.enable(), "0");
        let _ = fs::remove_dir(&self.instance);
        for name in &self.names {
            let _ = append(
                &self.root.join("kprobe_events"),
                &format!("-:{}/{name}", self.group),
            );
        }
    }
}
