//! `rethfs observe` against the real tracefs: listing an events directory must produce a record
//! with that directory's name and the inode number stat() gives, from this very process.

use std::{
    fs,
    io::{BufRead, BufReader, Read},
    os::unix::fs::MetadataExt,
    process::Stdio,
    sync::mpsc,
    thread,
    time::Duration,
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use rethfs_tests::rethfs;
use serde_json::Value;

const EVENTS_DIR: &str = "/sys/kernel/tracing/events/sched";

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn listing_an_events_directory_is_observed_with_its_inode() {
    let mut child = rethfs(&["observe", "--json", "--duration", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rethfs observe");

    // Wait for the observer to say it is attached; keep its stderr for failure messages.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (ready_tx, ready_rx) = mpsc::channel();
    let stderr_reader = thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("observing") {
                let _ = ready_tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "observer never attached:\n{}",
            stderr_reader.join().unwrap()
        );
    }

    let names: Vec<String> = fs::read_dir(EVENTS_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n == "sched_switch"),
        "{EVENTS_DIR} lists {names:?}"
    );
    let ino = fs::metadata(EVENTS_DIR).unwrap().ino();

    // Ctrl-C ends the observer cleanly, after it drained what it had.
    thread::sleep(Duration::from_millis(300));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr_reader.join().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "observer failed after SIGINT:\n{stderr}"
    );
    assert!(
        stderr.contains("0 lost"),
        "the observer lost records or did not report:\n{stderr}"
    );

    let me = std::process::id();
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let hit = records.iter().find(|r| {
        r["path"] == "events/sched"
            && r["ino"] == ino
            && r["tgid"] == me
            && r["hook"] == "getdents64"
            && r["kind"] == "dir"
    });
    assert!(
        hit.is_some(),
        "no getdents64 record for sched (ino {ino}) from pid {me} among {} records:\n{stdout}\n{stderr}",
        records.len()
    );
}
