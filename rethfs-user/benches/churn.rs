//! Churn cycles per second (create + remove a uprobe event) through rethfs's host target
//! against a minimal loop of the same system calls. Needs root and tracefs; elsewhere it
//! says so and measures nothing. Prints figures; asserts nothing about them.
//!
//! `cargo bench -p rethfs-user --bench churn`

use std::{
    fs::OpenOptions,
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

use rethfs::{
    host::{HostTracefs, cleanup::Guard, uprobe_target},
    interface::{Action, ControlFile, Target},
};

const ROUNDS: usize = 5;
const CYCLES: usize = 300;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = Path::new("/sys/kernel/tracing");
    if !nix::unistd::geteuid().is_root() || !root.join("uprobe_events").exists() {
        println!("churn benchmark skipped: needs root and a mounted tracefs with uprobe_events");
        return;
    }
    let _guard = Guard::new(root);
    let prefix = format!("rethfs_{}", std::process::id());
    let target = uprobe_target().expect("uprobe target");
    let (make, remove) = (
        format!("p:{prefix}/bench {target}"),
        format!("-:{prefix}/bench"),
    );
    let control = root.join("uprobe_events");
    let direct = |line: &str| {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&control)
            .expect("open uprobe_events");
        f.write_all(format!("{line}\n").as_bytes()).expect("write");
    };
    let mut host = HostTracefs::new(root.to_owned(), String::new(), false).expect("host target");
    let (mut d, mut r) = (Vec::new(), Vec::new());
    let rate = |t: Duration| CYCLES as f64 / t.as_secs_f64();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..CYCLES {
            direct(&make);
            direct(&remove);
        }
        d.push(rate(t.elapsed()));
        let t = Instant::now();
        for _ in 0..CYCLES {
            for line in [&make, &remove] {
                let a = Action::Control {
                    file: ControlFile::UprobeEvents,
                    line: line.clone(),
                };
                assert!(host.apply(&a).is_ok(), "{line}");
            }
        }
        r.push(rate(t.elapsed()));
    }
    let (d, r) = (median(d), median(r));
    println!(
        "churn (create+remove a uprobe event), median of {ROUNDS} rounds of {CYCLES}: direct {d:.0} cycles/s, through rethfs {r:.0} cycles/s ({:.0}%)",
        100.0 * r / d
    );
}
