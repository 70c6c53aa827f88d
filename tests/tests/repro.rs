//! Reproducers: a finding of a run's report written as a standalone program, built and run
//! on this host without rethfs, exiting 1 where the finding shows and leaving tracefs as it
//! found it.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{self, Signal},
    unistd::Pid,
};
use rethfs_tests::{HOST, Scratch, host_state, output, rethfs, serial, text};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a reproducer's command, with its output for messages.
fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("start the reproducer")
}

/// Writes the readdir finding's reproducer into `dir` from a run of its own, and builds it as
/// its header says, warnings as errors: the binary.
fn readdir_reproducer(dir: &Scratch) -> PathBuf {
    let (report, out) = (dir.path().join("r.json"), dir.path().join("readdir"));
    let o = output(&mut rethfs(&[
        "run",
        "--scenario",
        "readdir",
        "--json",
        path(&report),
    ]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "the readdir finding: {}",
        text(&o)
    );
    let o = output(&mut rethfs(&[
        "repro",
        "--from",
        path(&report),
        "--finding",
        "1",
        "--out",
        path(&out),
    ]));
    assert!(o.status.success(), "{}", text(&o));
    let source = out.join("repro.c");
    let c = std::fs::read_to_string(&source).unwrap();
    for part in [
        "readdir-seek-resumes-after-entry",
        "seen on Linux",
        "cc -O2 -static -o repro repro.c",
    ] {
        assert!(c.contains(part), "{part}");
    }
    let bin = out.join("repro");
    let o = run(Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-static", "-o"])
        .arg(&bin)
        .arg(&source));
    assert!(o.status.success(), "cc: {}", text(&o));
    bin
}

/// The model of 6.1 on this kernel, for an event made and its directory stat'ed: the mode
/// and links differ, which `ls` shows, so the reproducer written into `dir` is a script.
fn shell_reproducer(dir: &Scratch) -> PathBuf {
    let scenario = dir.scenario(
        "mine.toml",
        &[
            "op = \"control\"\nfile = \"uprobe_events\"\nline = \"p:{prefix}/ev {uprobe}\"".into(),
            "op = \"stat\"\npath = \"events/{prefix}/ev\"".into(),
        ],
    );
    let (report, out) = (dir.path().join("r.json"), dir.path().join("out"));
    let o = output(&mut rethfs(&[
        "run",
        "--scenario",
        path(&scenario),
        "--kernel-policy",
        "6.1",
        "--json",
        path(&report),
        "--repro",
        path(&out),
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let script = out.join("01-divergence-stat/repro.sh");
    assert!(script.is_file(), "{}", text(&o));
    script
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn the_readdir_finding_reproduces_in_c_and_leaves_tracefs_as_it_was() {
    let _ = HOST;
    let _serial = serial();
    let before = host_state();
    let dir = Scratch::new("repro-readdir");
    let bin = readdir_reproducer(&dir);
    let o = run(&mut Command::new(&bin));
    assert_eq!(
        o.status.code(),
        Some(1),
        "the eventfs d_off fault shows: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("the d_off of `enable`, resumed at ev2 instead of ev1"),
        "{}",
        text(&o)
    );
    assert_eq!(host_state(), before, "the reproducer left tracefs changed");

    // Not root: it cannot run here.
    let o = run(Command::new(&bin).uid(65534).gid(65534));
    assert_eq!(o.status.code(), Some(125), "{}", text(&o));
    assert!(text(&o).contains("must run as root"), "{}", text(&o));
    assert_eq!(host_state(), before);
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_divergence_shell_can_show_reproduces_under_sh_dash_and_busybox() {
    let _serial = serial();
    let before = host_state();
    let dir = Scratch::new("repro-shell");
    let script = shell_reproducer(&dir);
    let shells: Vec<Vec<&str>> = [vec!["sh"], vec!["dash"], vec!["busybox", "sh"]]
        .into_iter()
        .filter(|s| {
            Command::new(s[0])
                .args(&s[1..])
                .arg("-c")
                .arg(":")
                .output()
                .is_ok()
        })
        .collect();
    for sh in &shells {
        let o = run(Command::new(sh[0]).args(&sh[1..]).arg("-n").arg(&script));
        assert!(o.status.success(), "{} -n: {}", sh.join(" "), text(&o));
        let o = run(Command::new(sh[0]).args(&sh[1..]).arg(&script));
        assert_eq!(o.status.code(), Some(1), "{}: {}", sh.join(" "), text(&o));
        assert!(
            text(&o).contains("correct: drwxr-x--- 2 0 0"),
            "{}",
            text(&o)
        );
        assert_eq!(
            host_state(),
            before,
            "{} left tracefs changed",
            sh.join(" ")
        );
    }
}

/// Waits until `probe` holds, for up to 10 s.
fn until(what: &str, probe: impl Fn() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A signal while the steps' objects exist: each program removes them and dies of it. The C
/// program is held in its first lseek by strace (delay_exit), the script in an `ls` that
/// sleeps first.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_signal_mid_run_still_removes_what_the_steps_made() {
    let _serial = serial();
    let before = host_state();
    let made = || host_state().0.contains("repro_");
    let dir = Scratch::new("repro-signal");

    let bin = readdir_reproducer(&dir);
    let strace = Command::new("strace")
        .args(["-o", "/dev/null", "-e", "trace=lseek", "-e"])
        .arg("inject=lseek:delay_exit=3000000")
        .arg(&bin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match strace {
        Err(e) => eprintln!("strace not usable ({e}): the C program's signal path not tested"),
        Ok(mut strace) => {
            until("the events made", made);
            let children = format!("/proc/{0}/task/{0}/children", strace.id());
            let repro: i32 = std::fs::read_to_string(children)
                .unwrap()
                .trim()
                .parse()
                .expect("strace's one child");
            signal::kill(Pid::from_raw(repro), Signal::SIGTERM).unwrap();
            let status = strace.wait().unwrap();
            // strace dies of the signal its tracee died of.
            assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status:?}");
            assert_eq!(host_state(), before, "SIGTERM left tracefs changed");
        }
    }

    let script = shell_reproducer(&dir);
    let slow = dir.path().join("slow");
    std::fs::create_dir_all(&slow).unwrap();
    let ls = slow.join("ls");
    std::fs::write(&ls, "#!/bin/sh\nsleep 3\nexec /bin/ls \"$@\"\n").unwrap();
    std::fs::set_permissions(&ls, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path_var = format!("{}:{}", slow.display(), std::env::var("PATH").unwrap());
    let mut sh = Command::new("sh")
        .arg(&script)
        .env("PATH", path_var)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the event made", made);
    signal::kill(Pid::from_raw(sh.id() as i32), Signal::SIGTERM).unwrap();
    let status = sh.wait().unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32), "{status:?}");
    assert_eq!(host_state(), before, "SIGTERM left tracefs changed");
}

#[test]
fn bad_input_is_refused_naming_it_and_nothing_is_written() {
    let dir = Scratch::new("repro-bad");
    let out = dir.path().join("out");
    let o = output(&mut rethfs(&[
        "repro",
        "--from",
        path(&dir.path().join("missing.json")),
        "--out",
        path(&out),
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing.json"), "{}", text(&o));

    let report = dir.path().join("r.json");
    let empty = serde_json::json!({
        "schema": 1,
        "host": {"kernel": "6.18.0", "tracefs": "/sys/kernel/tracing", "backends": [], "config": {}},
        "observer": null, "policy": "6.17+", "verdicts": [], "scenarios": [],
        "finding_steps": [], "finding_histories": [], "host_left_dirty": [],
    });
    std::fs::write(&report, empty.to_string()).unwrap();
    for n in ["1", "3"] {
        let o = output(&mut rethfs(&[
            "repro",
            "--from",
            path(&report),
            "--finding",
            n,
            "--out",
            path(&out),
        ]));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("r.json: the report has no finding to reproduce"),
            "{}",
            text(&o)
        );
    }
    let o = output(&mut rethfs(&[
        "repro",
        "--from",
        path(&report),
        "--finding",
        "0",
        "--out",
        path(&out),
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!out.exists(), "nothing is written on bad input");
}
