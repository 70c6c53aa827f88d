//! `rethfs run` on the real tracefs: every scenario on host and model, the host left as it
//! was, concurrent runs refused, signals turned into a clean stop, leftovers of killed runs
//! removed by `rethfs cleanup` and nothing else touched.

use std::{
    fs,
    os::fd::AsRawFd,
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use rethfs_tests::{TRACEFS, host_state, output, rethfs, serial, text, uprobe_events};
use serde_json::Value;

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn the_catalogue_runs_the_model_agrees_and_the_host_is_left_clean() {
    let _serial = serial();
    let before = host_state();
    let json = std::env::temp_dir().join(format!("rethfs-run-{}.json", std::process::id()));
    let out = output(&mut rethfs(&["run", "--json", json.to_str().unwrap()]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    fs::remove_file(&json).unwrap();
    let verdicts = doc["verdicts"].as_array().unwrap();
    // The catalogue and the audit of the whole tree.
    assert_eq!(verdicts.len(), 15, "{}", text(&out));
    // The model is only useful if it predicts this kernel: no divergence at all.
    for v in verdicts {
        assert_ne!(
            v["status"],
            "divergence",
            "{}: {}\n{}",
            v["scenario"],
            v["findings"],
            text(&out)
        );
        assert!(v["steps"].as_u64().unwrap() > 0);
        assert!(
            ["pass", "violation", "skipped"].contains(&v["status"].as_str().unwrap()),
            "{v}"
        );
    }
    assert_eq!(doc["host_left_dirty"], serde_json::json!([]));
    assert_eq!(host_state(), before, "the run changed the host");
    // Exit code 1 exactly when some scenario found a violation or divergence.
    let failed = verdicts
        .iter()
        .any(|v| v["status"] == "violation" || v["status"] == "divergence");
    assert_eq!(out.status.code(), Some(i32::from(failed)), "{}", text(&out));
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_second_run_is_refused_while_one_holds_the_lock() {
    let _serial = serial();
    let path = if std::path::Path::new("/run/lock").is_dir() {
        "/run/lock/rethfs.lock".to_owned()
    } else {
        std::env::temp_dir()
            .join("rethfs.lock")
            .display()
            .to_string()
    };
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    // SAFETY: flock on our own fd; released when `lock` drops.
    assert_eq!(unsafe { libc_flock(lock.as_raw_fd()) }, 0);
    let out = output(&mut rethfs(&["run", "--scenario", "seed"]));
    drop(lock);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another rethfs run"),
        "{}",
        text(&out)
    );
}

unsafe fn libc_flock(fd: i32) -> i32 {
    unsafe extern "C" {
        fn flock(fd: i32, op: i32) -> i32;
    }
    // LOCK_EX | LOCK_NB
    unsafe { flock(fd, 2 | 4) }
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn sigterm_stops_the_run_and_removes_what_it_made() {
    let _serial = serial();
    let before = host_state();
    let child = rethfs(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run has created something, then stop it.
    let start = Instant::now();
    while host_state() == before && start.elapsed() < Duration::from_secs(20) {
        thread::sleep(Duration::from_millis(5));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(host_state(), before, "objects survived the SIGTERM");
}

/// A dead run's probe and instance, and a foreign probe and instance beside them.
struct Planted {
    dead: String,
    foreign: String,
}

impl Planted {
    fn new() -> Self {
        // A pid that is not running: the highest pid_max allows is never one here.
        let dead = fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
            - 1;
        assert!(!std::path::Path::new(&format!("/proc/{dead}")).exists());
        let p = Planted {
            dead: format!("rethfs_{dead}"),
            foreign: format!("keep_{}", std::process::id()),
        };
        let exe = std::env::current_exe().unwrap();
        for group in [&p.dead, &p.foreign] {
            uprobe_events(&format!("p:{group}/ev {}:0x1000", exe.display()));
            fs::create_dir(format!("{TRACEFS}/instances/{group}")).unwrap();
        }
        p
    }

    /// Whether the dead run's objects are gone and the foreign ones intact, read before the
    /// foreign ones are taken away.
    fn swept(self) -> (bool, bool) {
        let (probes, instances) = host_state();
        let dead_gone = !probes.contains(&self.dead) && !instances.contains(&self.dead);
        let foreign_kept = probes.contains(&self.foreign) && instances.contains(&self.foreign);
        let _ = fs::remove_dir(format!("{TRACEFS}/instances/{}", self.dead));
        if probes.contains(&self.dead) {
            uprobe_events(&format!("-:{}/ev", self.dead));
        }
        fs::remove_dir(format!("{TRACEFS}/instances/{}", self.foreign)).unwrap();
        uprobe_events(&format!("-:{}/ev", self.foreign));
        (dead_gone, foreign_kept)
    }
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn cleanup_removes_dead_runs_leftovers_and_nothing_else() {
    let _serial = serial();
    let planted = Planted::new();
    let dead = planted.dead.clone();
    let out = output(&mut rethfs(&["cleanup"]));
    let (dead_gone, foreign_kept) = planted.swept();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(dead_gone, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("probe {dead}/ev")),
        "{}",
        text(&out)
    );
    assert!(foreign_kept, "cleanup touched what rethfs did not create");
}

/// run, observe and bench first remove what dead runs left, say so, and touch nothing else.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn every_command_that_uses_tracefs_first_sweeps_what_dead_runs_left() {
    let _serial = serial();
    for args in [
        &["run", "--scenario", "seed"][..],
        &["observe", "--duration", "0.5"],
        &["bench", "--cycles", "20", "--rounds", "1"],
    ] {
        let planted = Planted::new();
        let dead = planted.dead.clone();
        let out = output(&mut rethfs(args));
        let (dead_gone, foreign_kept) = planted.swept();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        assert!(
            dead_gone,
            "{args:?} left a dead run's objects\n{}",
            text(&out)
        );
        assert!(foreign_kept, "{args:?} touched what rethfs did not create");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("removed what runs no longer alive left")
                && said.contains(&format!("probe {dead}/ev"))
                && said.contains(&format!("instances/{dead}")),
            "{args:?} did not say what it removed\n{}",
            text(&out)
        );
    }
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_run_killed_with_sigkill_is_cleaned_by_rethfs_cleanup() {
    let _serial = serial();
    let before = host_state();
    let mut child = rethfs(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let own = format!("rethfs_{}", child.id());
    let pid = Pid::from_raw(child.id() as i32);
    let start = Instant::now();
    // The run removes each scenario's objects before the next: stopped, it cannot, so objects
    // seen while it is stopped are what SIGKILL leaves.
    while start.elapsed() < Duration::from_secs(20) {
        if host_state().0.contains(&own) {
            kill(pid, Signal::SIGSTOP).unwrap();
            thread::sleep(Duration::from_millis(20));
            if host_state().0.contains(&own) {
                break;
            }
            kill(pid, Signal::SIGCONT).unwrap();
        }
        thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        host_state() != before,
        "the killed run left nothing to clean: the test proves nothing"
    );
    let out = output(&mut rethfs(&["cleanup"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&own),
        "{}",
        text(&out)
    );
    assert_eq!(
        host_state(),
        before,
        "cleanup left objects of the killed run"
    );
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn remounts_are_skipped_by_default_and_put_back_when_allowed() {
    let _serial = serial();
    let mounts = || {
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(TRACEFS))
            .map(str::to_owned)
    };
    let before = (host_state(), mounts());
    let out = output(&mut rethfs(&["run", "--scenario", "ownership"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ownership   pass"),
        "{}",
        text(&out)
    );
    let out = output(&mut rethfs(&[
        "run",
        "--scenario",
        "ownership",
        "--allow-remount",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        (host_state(), mounts()),
        before,
        "remount options or objects not put back"
    );
}

/// Where neither kprobes nor fentry load (this host), the fallback observer runs, the verdict
/// says which lifetime facts it cannot see, and the pictures still come out, model side only.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn without_a_lifetime_observer_the_run_says_what_it_cannot_see_and_still_draws() {
    let _serial = serial();
    let before = host_state();
    let dir = std::env::temp_dir().join(format!("rethfs-pictures-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let (json, trace, svg) = (dir.join("r.json"), dir.join("t.json"), dir.join("t.svg"));
    let arg = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let out = output(&mut rethfs(&[
        "run",
        "--scenario",
        "cache",
        "--json",
        &arg(&json),
        "--trace",
        &arg(&trace),
        "--timeline",
        &arg(&svg),
    ]));
    let doc: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let lifetime_observer = doc["host"]["backends"].as_array().unwrap().iter().any(|b| {
        ["kprobe", "fentry"].contains(&b["name"].as_str().unwrap()) && b["available"] == true
    });
    let v = &doc["verdicts"][0];
    if lifetime_observer {
        assert_eq!(v["lifetimes"]["status"], "made", "{}", text(&out));
    } else {
        assert_eq!(v["lifetimes"]["status"], "not_made", "{}", text(&out));
        let why = v["lifetimes"]["detail"].as_str().unwrap();
        assert!(
            why.contains("not seen: ") && why.contains("dentry kills"),
            "{why}"
        );
        assert!(
            text(&out).contains("lifetimes not checked: "),
            "{}",
            text(&out)
        );
        assert_eq!(doc["observer"]["name"], "tracepoint", "{}", doc["observer"]);
        assert!(
            doc["observer"]["records"].as_u64().unwrap() > 0,
            "the fallback saw nothing"
        );
    }
    let t: Value = serde_json::from_slice(&fs::read(&trace).unwrap()).unwrap();
    let events = t["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["args"]["name"] == "cache: model"));
    // The model predicts the cache scenario's event file born once and killed at removal.
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["name"].as_str().unwrap().ends_with("/ev/enable"))
    );
    let picture = fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
    assert!(
        picture.contains("cache (22 steps"),
        "{}",
        &picture[..400.min(picture.len())]
    );
    // Without an observer the picture says the kernel side is missing, not that it was empty.
    assert_eq!(
        picture.contains("kernel not observed"),
        !lifetime_observer,
        "{}",
        &picture[..600.min(picture.len())]
    );
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(host_state(), before, "the run changed the host");
}

/// A forced observer this kernel cannot load ends the run before anything is made, exit 2.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_forced_observer_that_cannot_load_is_refused_before_anything_is_made() {
    let _serial = serial();
    let before = host_state();
    for observer in ["kprobe", "fentry"] {
        let out = output(&mut rethfs(&[
            "run",
            "--scenario",
            "seed",
            "--attach",
            observer,
        ]));
        let doctor = output(&mut rethfs(&["doctor", "--json"]));
        let profile: Value = serde_json::from_slice(&doctor.stdout).unwrap();
        let loads = profile["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == observer && b["available"] == true);
        if loads {
            eprintln!("{observer} loads on this kernel: nothing to refuse");
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains(&format!("--attach {observer}: ")),
            "{}",
            text(&out)
        );
        assert_eq!(host_state(), before, "a refused run changed the host");
    }
}

/// The benchmark measures the unobserved churn and says why each observer it cannot run was
/// skipped; bad counts are usage errors.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn bench_prints_figures_and_reasons() {
    let _serial = serial();
    let before = host_state();
    let out = output(&mut rethfs(&["bench", "--cycles", "50", "--rounds", "1"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let none = text(&out)
        .lines()
        .find(|l| l.starts_with("none "))
        .map(str::to_owned)
        .unwrap_or_default();
    let rate: f64 = none.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(rate > 0.0, "{none}");
    for mode in ["fentry", "kprobe", "ftrace kprobe_events"] {
        let line = text(&out)
            .lines()
            .find(|l| l.starts_with(mode))
            .map(str::to_owned);
        let line = line.unwrap_or_else(|| panic!("no {mode} row:\n{}", text(&out)));
        // Either a figure or the reason it could not be taken.
        assert!(line.contains('%') || line.contains("skipped: "), "{line}");
    }
    assert_eq!(host_state(), before, "the benchmark changed the host");
    let bad = output(&mut rethfs(&["bench", "--cycles", "0"]));
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--cycles"), "{}", text(&bad));
}

/// A race that stays out of directory reads (safe on kernels whose eventfs_iterate oopses):
/// a writer against readers that stat and read the event.
const STAT_RACE: &str = r#"name = "stat-race"
description = "a writer makes and removes an event while readers stat it and read its id"
[[thread]]
name = "writer"
repeat = 300
[[thread.step]]
op = "control"
file = "uprobe_events"
line = "p:{prefix}/race {uprobe}"
[[thread.step]]
op = "control"
file = "uprobe_events"
line = "-:{prefix}/race"
[[thread]]
name = "stat"
[[thread.step]]
op = "stat"
path = "events/{prefix}/race/enable"
[[thread]]
name = "id"
[[thread.step]]
op = "read-file"
path = "events/{prefix}/race/id"
"#;

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_race_runs_its_threads_and_is_judged_as_a_history() {
    let _serial = serial();
    let before = host_state();
    let dir = std::env::temp_dir().join(format!("rethfs-race-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let (file, json) = (dir.join("race.toml"), dir.join("race.json"));
    fs::write(&file, STAT_RACE).unwrap();
    let out = output(&mut rethfs(&[
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]));
    let doc: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    let v = &doc["verdicts"][0];
    // Every writer call is in the history, and the readers ran beside it.
    assert!(v["steps"].as_u64().unwrap() > 600, "{}", text(&out));
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("calls in") && notes.contains("writer"),
        "{notes}"
    );
    assert!(notes.contains("linearizability: 1 set(s)"), "{notes}");
    // A finding here would be the kernel's (or the checker's): either way it must show.
    let status = v["status"].as_str().unwrap();
    assert!(["pass", "violation"].contains(&status), "{}", text(&out));
    assert_eq!(
        out.status.code(),
        Some(i32::from(status != "pass")),
        "{}",
        text(&out)
    );
    assert_eq!(host_state(), before, "the race changed the host");
}
