//! Probe churn outside the scenarios: appending to a control file, and the cycles per second
//! `rethfs bench` measures. (The `churn` race itself is a concurrent scenario.)

use std::{
    fs::{self, OpenOptions},
    io::Write,
    path::Path,
    time::Instant,
};

/// Appends `line` to a control file, as `echo LINE >> FILE` does.
pub fn append(path: &Path, line: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// Churn cycles per second for `rethfs bench`, the median of `rounds` rounds of `cycles`: make a
/// uprobe event on rethfs's own function, stat its `enable`, remove it, stat it again. A uprobe,
/// not a kprobe: registering a kprobe patches kernel text and waits for RCU, which under TCG
/// costs twenty times the eventfs work being measured.
pub fn rate(root: &Path, prefix: &str, cycles: usize, rounds: usize) -> anyhow::Result<f64> {
    let control = root.join("uprobe_events");
    let place = super::uprobe_target().map_err(anyhow::Error::msg)?;
    let enable = root
        .join("events")
        .join(prefix)
        .join("bench")
        .join("enable");
    let make = format!("p:{prefix}/bench {place}");
    let remove = format!("-:{prefix}/bench");
    let write = |line: &str| {
        append(&control, line).map_err(|e| anyhow::anyhow!("{line} >> {}: {e}", control.display()))
    };
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..cycles {
            write(&make)?;
            let _ = fs::metadata(&enable);
            write(&remove)?;
            let _ = fs::metadata(&enable);
        }
        rates.push(cycles as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}
