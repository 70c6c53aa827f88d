//! `rethfs run` on the real tracefs: every scenario on host and model, the host left as it
//! was, concurrent runs refused, signals turned into a clean stop, leftovers of killed runs
//! removed by `rethfs cleanup` and nothing else touched.

use std::{
    fs,
    os::fd::AsRawFd,
    process::Stdio,
    sync::{Mutex, MutexGuard},
    thread,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use rethfs_tests::{output, rethfs, text};
use serde_json::Value;

const TRACEFS: &str = "/sys/kernel/tracing";

/// These tests share one tracefs and check that it is left unchanged: one at a time.
static HOST: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    HOST.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a run must not change, read the same way each time.
fn host_state() -> (String, Vec<String>) {
    let probes = fs::read_to_string(format!("{TRACEFS}/dynamic_events")).unwrap_or_default();
    let mut instances: Vec<String> = fs::read_dir(format!("{TRACEFS}/instances"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    instances.sort();
    (probes, instances)
}

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
    assert_eq!(verdicts.len(), 11, "{}", text(&out));
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

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn cleanup_removes_dead_runs_leftovers_and_nothing_else() {
    let _serial = serial();
    // A pid that is not running: the highest pid_max allows is never one here.
    let dead = fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap()
        - 1;
    assert!(!std::path::Path::new(&format!("/proc/{dead}")).exists());
    let exe = std::env::current_exe().unwrap();
    let mine = format!("keep_{}", std::process::id());
    let append = |line: String| {
        use std::io::Write;
        fs::OpenOptions::new()
            .append(true)
            .open(format!("{TRACEFS}/uprobe_events"))
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap()
    };
    append(format!("p:rethfs_{dead}/left {}:0x1000\n", exe.display()));
    append(format!("p:{mine}/kept {}:0x1000\n", exe.display()));
    fs::create_dir(format!("{TRACEFS}/instances/rethfs_{dead}")).unwrap();
    fs::create_dir(format!("{TRACEFS}/instances/{mine}")).unwrap();

    let out = output(&mut rethfs(&["cleanup"]));
    let after = host_state();
    // Put back what this test made before asserting anything.
    append(format!("-:{mine}/kept\n"));
    fs::remove_dir(format!("{TRACEFS}/instances/{mine}")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!after.0.contains(&format!("rethfs_{dead}")), "{}", after.0);
    assert!(
        !after.1.contains(&format!("rethfs_{dead}")),
        "{:?}",
        after.1
    );
    assert!(
        after.0.contains(&mine) && after.1.contains(&mine),
        "cleanup touched what rethfs did not create"
    );
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
    let start = Instant::now();
    while !host_state().0.contains(&own) && start.elapsed() < Duration::from_secs(20) {
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
