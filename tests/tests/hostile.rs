//! Hostile scenario files: paths that try to leave tracefs and numbers that try to exhaust the
//! process are refused when the file is parsed, the same by `run` and `model`; what spelling
//! cannot show (the directory rethfs was started in, a mount inside tracefs) the kernel refuses,
//! and nothing outside tracefs is read, written or stat'ed.

use std::{
    fs,
    path::{Path, PathBuf},
};

use rethfs_tests::{Scratch, TRACEFS, output, rethfs, text};
use serde_json::Value;

/// Every op that takes a path, with `P` where the path goes.
fn path_steps() -> Vec<(&'static str, String)> {
    let open =
        |mode: &str| format!("op = \"open\"\npath = \"P\"\nmode = \"{mode}\"\nhandle = \"h\"");
    vec![
        ("mkdir", "op = \"mkdir\"\npath = \"P\"".into()),
        ("rmdir", "op = \"rmdir\"\npath = \"P\"".into()),
        ("unlink", "op = \"unlink\"\npath = \"P\"".into()),
        (
            "rename from",
            "op = \"rename\"\nfrom = \"P\"\nto = \"x\"".into(),
        ),
        (
            "rename to",
            "op = \"rename\"\nfrom = \"x\"\nto = \"P\"".into(),
        ),
        ("stat", "op = \"stat\"\npath = \"P\"".into()),
        ("open read", open("read")),
        ("open write", open("write")),
        ("open read-write", open("read_write")),
        ("open directory", open("directory")),
        ("open create", open("create")),
        ("list", "op = \"list\"\npath = \"P\"".into()),
        ("read-file", "op = \"read-file\"\npath = \"P\"".into()),
        (
            "write-file",
            "op = \"write-file\"\npath = \"P\"\ndata = \"0\"".into(),
        ),
        ("chdir", "op = \"chdir\"\npath = \"P\"".into()),
        ("chmod", "op = \"chmod\"\npath = \"P\"\nmode = 0o777".into()),
        ("chown", "op = \"chown\"\npath = \"P\"\nuid = 1".into()),
    ]
}

/// `rethfs run` and `rethfs model` refuse `file` with exit 2 and the same message, which
/// names the file and line (`None`: a limit of the whole file) and contains `reason`.
fn refused_alike(file: &Path, line: Option<usize>, reason: &str) {
    let f = file.to_str().unwrap();
    let at = match line {
        Some(l) => format!("{f}:{l}:"),
        None => format!("{f}: "),
    };
    let run = output(&mut rethfs(&["run", "--scenario", f]));
    let model = output(&mut rethfs(&["model", "--scenario", f]));
    for out in [&run, &model] {
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&at) && err.contains(reason),
            "want {at}... {reason}\n{}",
            text(out)
        );
    }
    assert_eq!(run.stderr, model.stderr, "run and model refuse differently");
}

#[test]
fn paths_that_leave_tracefs_are_refused_when_parsed_by_run_and_model_alike() {
    let dir = Scratch::new("escapes");
    let escapes = [
        ("../../../../etc/shadow", "climbs"),
        ("events/../../etc", "climbs"),
        ("./../tmp", "climbs"),
        ("..", "climbs"),
        ("/etc/shadow", "is absolute"),
        ("", "is empty"),
    ];
    let mut refused = 0;
    for (op, step) in path_steps() {
        for (i, (path, reason)) in escapes.iter().enumerate() {
            let file = dir.scenario(
                &format!("{}-{i}.toml", op.replace(' ', "-")),
                &[step.replace("\"P\"", &format!("{path:?}"))],
            );
            // `name`, `description`, a blank line, `[[step]]`, `op`: the path is on line 6,
            // except rename's `to`, one line further down.
            let line = if op == "rename to" { 7 } else { 6 };
            refused_alike(&file, Some(line), reason);
            refused += 1;
        }
    }
    // open-at paths start at their directory handle and may not climb above it either.
    let file = dir.scenario(
        "open-at.toml",
        &[
            "op = \"open\"\npath = \"events\"\nmode = \"directory\"\nhandle = \"d\"".into(),
            "op = \"open-at\"\ndir = \"d\"\npath = \"../../etc/shadow\"\nas_handle = \"f\"".into(),
        ],
    );
    refused_alike(&file, Some(13), "climbs");
    println!(
        "{} escaping paths refused by run and model alike",
        refused + 1
    );
}

#[test]
fn sizes_out_of_range_are_refused_naming_field_value_and_range() {
    let dir = Scratch::new("sizes");
    let make = "op = \"control\"\nfile = \"uprobe_events\"\nline = \"p:{prefix}/ev {uprobe}\"";
    let open_file =
        "op = \"open\"\npath = \"events/{prefix}/ev/format\"\nhandle = \"h\"".to_owned();
    let open_dir =
        "op = \"open\"\npath = \"events\"\nmode = \"directory\"\nhandle = \"h\"".to_owned();
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "read len",
            open_file.clone(),
            "op = \"read\"\nhandle = \"h\"\nlen = 1099511627776".into(),
            "`len` = 1099511627776 is out of range 0..=1048576",
        ),
        (
            "getdents buffer",
            open_dir.clone(),
            "op = \"getdents\"\nhandle = \"h\"\nbuffer = 1099511627776".into(),
            "`buffer` = 1099511627776 is out of range 0..=1048576",
        ),
        (
            "seek pos",
            open_dir.clone(),
            "op = \"seek\"\nhandle = \"h\"\npos = 9223372036854775807".into(),
            "`pos` = 9223372036854775807 is out of range -4294967296..=4294967296",
        ),
        (
            "chmod mode",
            open_dir.clone(),
            "op = \"chmod\"\npath = \"events\"\nmode = 0o10000".into(),
            "`mode` = 4096 is out of range 0..=4095",
        ),
        (
            "chown uid",
            open_dir,
            "op = \"chown\"\npath = \"events\"\nuid = 4294967295".into(),
            "`uid` = 4294967295 is out of range 0..=4294967294",
        ),
        (
            "write data",
            open_file,
            format!(
                "op = \"write\"\nhandle = \"h\"\ndata = \"{}\"",
                "x".repeat(65537)
            ),
            "`data` is 65537 bytes long, out of range 0..=65536",
        ),
    ];
    for (what, open, step, message) in &cases {
        let file = dir.scenario(
            &format!("{}.toml", what.replace(' ', "-")),
            &[make.into(), open.clone(), step.clone()],
        );
        // The out-of-range field is the file's last line.
        let last = fs::read_to_string(&file).unwrap().lines().count();
        refused_alike(&file, Some(last), message);
    }
    // Whole-scenario limits name the line where they are crossed.
    let many: Vec<String> = (0..257)
        .map(|i| format!("op = \"open\"\npath = \"events\"\nhandle = \"h{i}\""))
        .collect();
    refused_alike(
        &dir.scenario("handles.toml", &many),
        Some(4 + 256 * 5),
        "`handle` = 257 is out of range 0..=256 (handles open at once)",
    );
    let steps: Vec<String> = (0..2001)
        .map(|_| "op = \"stat\"\npath = \"events\"".to_owned())
        .collect();
    refused_alike(
        &dir.scenario("steps.toml", &steps),
        None,
        "`step` = 2001 is out of range 1..=2000",
    );
    println!("{} out-of-range scenarios refused", cases.len() + 2);
}

/// Inotify events on a directory: whatever opens, reads, writes, changes or lists it.
struct Watch(nix::sys::inotify::Inotify);

impl Watch {
    fn on(dirs: &[&Path]) -> Self {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let ino = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
        // Closes are left out: a child another test thread forks while a canary is being
        // written holds a copy of its descriptor until exec, so its IN_CLOSE_WRITE can arrive
        // after the watch is added. Anything the run itself did would show as IN_OPEN first.
        let mask = AddWatchFlags::IN_ALL_EVENTS & !AddWatchFlags::IN_CLOSE;
        for d in dirs {
            ino.add_watch(*d, mask).unwrap();
        }
        Watch(ino)
    }

    fn events(self) -> Vec<String> {
        self.0
            .read_events()
            .unwrap_or_default()
            .into_iter()
            .map(|e| format!("{:?} {:?}", e.mask, e.name))
            .collect()
    }
}

/// The outcome of each host step, as the run's JSON has them.
fn host_outcomes(report: &Path) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    doc["finding_steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["host"].as_array().unwrap().clone())
        .map(|s| s["outcome"].clone())
        .collect()
}

/// A tmpfs mounted over a directory of a foreign instance inside tracefs, unmounted and the
/// instance removed when dropped.
struct MountInside {
    instance: PathBuf,
    mnt: PathBuf,
}

impl MountInside {
    fn new(name: &str) -> Self {
        let instance = Path::new(TRACEFS).join("instances").join(name);
        fs::create_dir(&instance).unwrap();
        let mnt = instance.join("options");
        nix::mount::mount(
            Some("none"),
            &mnt,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        fs::write(mnt.join("canary"), "inside a mount").unwrap();
        MountInside { instance, mnt }
    }
}

impl Drop for MountInside {
    fn drop(&mut self) {
        let _ = nix::mount::umount(&self.mnt);
        let _ = fs::remove_dir(&self.instance);
    }
}

/// Paths that spell nothing wrong but would leave tracefs if resolved naively: relative to
/// the directory rethfs was started in, and through a mount inside tracefs. Every op that
/// takes a path tries them; none reaches the canaries.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn no_path_reaches_outside_tracefs() {
    let dir = Scratch::new("canary");
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("canary"), "outside tracefs").unwrap();
    let foreign = format!("keep_{}", std::process::id());
    let mount = MountInside::new(&foreign);
    let targets = [
        "./canary".to_owned(),
        "canary".to_owned(),
        "./home/canary".to_owned(),
        format!("instances/{foreign}/options/canary"),
        format!("instances/{foreign}/options"),
    ];
    let mut steps = Vec::new();
    for t in &targets {
        for (_, step) in path_steps() {
            steps.push(step.replace("\"P\"", &format!("{t:?}")));
            if step.contains("op = \"open\"") {
                steps.push("op = \"close\"\nhandle = \"h\"".into());
            }
        }
    }
    let file = dir.scenario("confined.toml", &steps);
    let report = dir.path().join("report.json");
    let watch = Watch::on(&[&home, &mount.mnt]);
    let out = output(
        rethfs(&[
            "run",
            "--scenario",
            file.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ])
        .current_dir(&home),
    );
    let events = watch.events();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    assert!(
        events.is_empty(),
        "the run touched what lies outside tracefs: {events:?}"
    );
    // What the host answered: errors (ENOENT in tracefs, EXDEV at the mount) and refusals,
    // never the canaries' contents or metadata.
    let outcomes = host_outcomes(&report);
    for o in &outcomes {
        let s = o.to_string();
        assert!(
            !s.contains("outside tracefs")
                && !s.contains("inside a mount")
                && !s.contains("\"ok\""),
            "a step reached a canary: {s}"
        );
    }
    assert!(
        outcomes.iter().any(|o| o["err"] == "EXDEV"),
        "no step met the mount: {outcomes:?}"
    );
    assert_eq!(
        fs::read_to_string(home.join("canary")).unwrap(),
        "outside tracefs"
    );
    println!(
        "{} steps on {} paths, none left tracefs",
        steps.len(),
        targets.len()
    );
}

/// The file that aborted the process (a 1 TiB read) is refused before anything is made.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_huge_read_is_refused_and_leaves_nothing_behind() {
    let dir = Scratch::new("huge");
    let before = fs::read_to_string(format!("{TRACEFS}/uprobe_events")).unwrap();
    let file = dir.scenario(
        "huge.toml",
        &[
            "op = \"control\"\nfile = \"uprobe_events\"\nline = \"p:{prefix}/ev {uprobe}\"".into(),
            "op = \"open\"\npath = \"events/{prefix}/ev/format\"\nhandle = \"h\"".into(),
            "op = \"read\"\nhandle = \"h\"\nlen = 1099511627776".into(),
        ],
    );
    let out = output(&mut rethfs(&["run", "--scenario", file.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`len` = 1099511627776"),
        "{}",
        text(&out)
    );
    assert_eq!(
        fs::read_to_string(format!("{TRACEFS}/uprobe_events")).unwrap(),
        before,
        "the refused run left a probe"
    );
}
