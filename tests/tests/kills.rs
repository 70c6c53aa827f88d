//! The kill campaign: `rethfs run` stopped 20 times at random moments by SIGKILL, SIGTERM,
//! SIGINT and SIGHUP. A catchable signal must leave nothing behind; what a SIGKILL leaves, the
//! next run's self-sweep (or `rethfs cleanup` after the last) must remove; a foreign uprobe
//! event and a foreign instance planted beforehand must survive all of it.

use std::{
    fs,
    process::Stdio,
    thread,
    time::{Duration, Instant, SystemTime},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use rethfs_tests::{TRACEFS, output, rethfs, text, uprobe_events};

const KILLS: usize = 20;
const SIGNALS: [Signal; 4] = [
    Signal::SIGKILL,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
];

/// The probes and instances whose name contains `needle`.
fn objects(needle: &str) -> Vec<String> {
    let probes = fs::read_to_string(format!("{TRACEFS}/dynamic_events")).unwrap_or_default();
    let mut out: Vec<String> = probes
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect();
    out.extend(
        fs::read_dir(format!("{TRACEFS}/instances"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains(needle))
            .map(|n| format!("instances/{n}")),
    );
    out
}

/// xorshift64*: the kill moments are reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A run long enough to be stopped anywhere in 0.1-5 s: the catalogue and six audits.
fn long_run() -> Vec<&'static str> {
    let mut args = vec!["run", "--scenario", "catalogue"];
    for _ in 0..6 {
        args.extend(["--scenario", "audit"]);
    }
    args
}

#[derive(Default, Debug)]
struct Counts {
    sent: [usize; 4],
    /// Catchable signals after which the run stopped itself, exit 2, nothing left.
    stopped_clean: usize,
    /// SIGKILLs that left objects behind, and of those, how many a later sweep removed.
    killed_dirty: usize,
    swept_later: usize,
    /// Runs that ended before their signal came.
    finished_first: usize,
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn runs_killed_at_random_moments_leave_nothing_and_touch_nothing_foreign() {
    let seed = std::env::var("RETHFS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("kill campaign seed {seed} (RETHFS_KILL_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let foreign = format!("keep_{}", std::process::id());
    let exe = std::env::current_exe().unwrap();
    uprobe_events(&format!("p:{foreign}/kept {}:0x1000", exe.display()));
    fs::create_dir(format!("{TRACEFS}/instances/{foreign}")).unwrap();
    let foreign_before = objects(&foreign);
    assert_eq!(foreign_before.len(), 2, "{foreign_before:?}");

    let mut counts = Counts::default();
    let mut problems = Vec::new();
    // What the last SIGKILLed run left, for the next run's sweep to remove.
    let mut left: Option<(String, Vec<String>)> = None;
    for i in 0..KILLS {
        let signal = SIGNALS[i % SIGNALS.len()];
        let delay = Duration::from_millis(100 + rng.next() % 4_900);
        let mut child = rethfs(&long_run())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let own = format!("rethfs_{}", child.id());
        let start = Instant::now();
        while start.elapsed() < delay && child.try_wait().unwrap().is_none() {
            thread::sleep(Duration::from_millis(5));
        }
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            kill(Pid::from_raw(child.id() as i32), signal).unwrap();
            counts.sent[i % SIGNALS.len()] += 1;
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The previous SIGKILL's leftovers are gone once this run has started.
        if let Some((pid_name, objs)) = left.take() {
            if objects(&pid_name).is_empty() {
                counts.swept_later += 1;
            } else {
                problems.push(format!(
                    "kill {i}: the next run did not sweep {objs:?} of {pid_name}"
                ));
            }
        }
        let remaining = objects(&own);
        if finished {
            counts.finished_first += 1;
        } else if signal == Signal::SIGKILL {
            if !remaining.is_empty() {
                counts.killed_dirty += 1;
                left = Some((own.clone(), remaining.clone()));
            }
        } else if out.status.code() == Some(2) && stderr.contains("interrupted") {
            if remaining.is_empty() {
                counts.stopped_clean += 1;
            }
        } else if !matches!(out.status.code(), Some(0 | 1)) {
            problems.push(format!(
                "kill {i}: {signal:?} after {delay:?}: exit {:?}\n{stderr}",
                out.status.code()
            ));
        }
        if !finished && signal != Signal::SIGKILL && !remaining.is_empty() {
            problems.push(format!(
                "kill {i}: {signal:?} after {delay:?} left {remaining:?}"
            ));
        }
        if objects(&foreign) != foreign_before {
            problems.push(format!(
                "kill {i}: {signal:?} changed the foreign objects: {:?}",
                objects(&foreign)
            ));
        }
    }
    // The last run's leftovers, if a SIGKILL ended it: rethfs cleanup.
    if let Some((pid_name, objs)) = left.take() {
        let out = output(&mut rethfs(&["cleanup"]));
        if objects(&pid_name).is_empty() && out.status.code() == Some(0) {
            counts.swept_later += 1;
        } else {
            problems.push(format!("cleanup left {objs:?}: {}", text(&out)));
        }
    }
    let strays = objects("rethfs_");
    let foreign_after = objects(&foreign);
    fs::remove_dir(format!("{TRACEFS}/instances/{foreign}")).unwrap();
    uprobe_events(&format!("-:{foreign}/kept"));
    println!(
        "kill campaign: {KILLS} runs; sent SIGKILL {}, SIGTERM {}, SIGINT {}, SIGHUP {}; {} \
         stopped themselves cleanly (exit 2), {} SIGKILLed runs left objects and {} of them \
         were swept by the next run or rethfs cleanup; {} ended before their signal",
        counts.sent[0],
        counts.sent[1],
        counts.sent[2],
        counts.sent[3],
        counts.stopped_clean,
        counts.killed_dirty,
        counts.swept_later,
        counts.finished_first
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(strays.is_empty(), "rethfs objects remain: {strays:?}");
    assert_eq!(foreign_after, foreign_before, "foreign objects changed");
    assert_eq!(counts.swept_later, counts.killed_dirty);
    // Most moments fall inside the run; a campaign that stopped nothing proves nothing.
    assert!(
        counts.sent.iter().sum::<usize>() >= KILLS / 2,
        "most runs ended before their signal: {counts:?}"
    );
}
