//! Probe churn outside the scenarios: appending to a control file, and the cycles per second
//! `rethfs bench` measures. (The `churn` race itself is a concurrent scenario.)

use std::{
    fs::{self, OpenOptions},
    io::{Read, Write},
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

/// Appends `line` to a control file, as `echo LINE >> FILE` does.
pub fn append(path: &Path, line: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// Churn cycles per second for `rethfs bench`, over `cycles` cycles after `warmup` untimed
/// ones: make a uprobe event on rethfs's own function, stat its `enable`, remove it, stat it
/// again. A uprobe,
/// not a kprobe: registering a kprobe patches kernel text and waits for RCU, which under TCG
/// costs twenty times the eventfs work being measured. `readers` threads meanwhile stat the
/// event's `enable`, read its `id` and list its group in turn, as the races' readers do.
pub fn rate(
    root: &Path,
    prefix: &str,
    warmup: usize,
    cycles: usize,
    readers: usize,
) -> anyhow::Result<f64> {
    let control = root.join("uprobe_events");
    let place = super::uprobe_target().map_err(anyhow::Error::msg)?;
    let group = root.join("events").join(prefix);
    let event = group.join("bench");
    let enable = event.join("enable");
    let make = format!("p:{prefix}/bench {place}");
    let remove = format!("-:{prefix}/bench");
    let write = |line: &str| {
        append(&control, line).map_err(|e| anyhow::anyhow!("{line} >> {}: {e}", control.display()))
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..readers {
            s.spawn(|| {
                let mut id = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    // Most of these fail while the event is gone: that is the churn.
                    let _ = fs::metadata(&enable);
                    if let Ok(mut f) = fs::File::open(event.join("id")) {
                        id.clear();
                        let _ = f.read_to_end(&mut id);
                    }
                    if let Ok(entries) = fs::read_dir(&group) {
                        entries.for_each(drop);
                    }
                }
            });
        }
        let cycle = || {
            write(&make)?;
            let _ = fs::metadata(&enable);
            write(&remove)?;
            let _ = fs::metadata(&enable);
            Ok::<_, anyhow::Error>(())
        };
        let measured = (|| {
            for _ in 0..warmup {
                cycle()?;
            }
            let t = Instant::now();
            for _ in 0..cycles {
                cycle()?;
            }
            Ok(cycles as f64 / t.elapsed().as_secs_f64())
        })();
        done.store(true, Ordering::Relaxed);
        measured
    })
}
