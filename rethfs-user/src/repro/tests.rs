//! Reproducers of synthetic reports: which language each finding gets, and that what is
//! written parses (`sh -n`, `dash -n`, `busybox sh -n`) or compiles warning-free.

use std::{path::Path, process::Command};

use serde_json::json;

use super::*;
use crate::{
    check::{Side, Status, Verdict},
    interface::{Errno, FileKind, StatInfo, Value},
    report::run::{Host, SCHEMA},
};

/// What `{prefix}` and `{uprobe}` stood for in the synthetic runs.
const PREFIX: &str = "rethfs_1_0";
const UPROBE: &str = "/x/rethfs:0x10";

fn finding(step: usize, op: &'static str, kind: FindingKind) -> Finding {
    Finding {
        step,
        line: step,
        action: format!("step {step}"),
        op: op.into(),
        kind,
        host: "the host's".into(),
        model: "the model's".into(),
        detail: String::new(),
        notes: Vec::new(),
    }
}

/// A report of one scenario `toml` (steps as TOML bodies) with `finding`, both sides'
/// answers at its step, and the steps the host failed.
fn report(
    steps: &[&str],
    f: Finding,
    host: Outcome,
    model: Outcome,
    failed: &[usize],
) -> RunReport {
    let mut toml = "name = \"mine\"\ndescription = \"d\"\n".to_owned();
    for s in steps {
        toml.push_str(&format!("[[step]]\n{s}\n"));
    }
    let scenario = Scenario::parse_keeping_placeholders("mine", &toml).unwrap();
    let action = scenario.steps[f.step - 1].action.clone();
    let side = |o: &Outcome| {
        let text = serde_json::to_string(o)
            .unwrap()
            .replace("{prefix}", PREFIX);
        json!([{ "index": f.step, "line": f.line, "action": action, "lifetimes": [],
                 "outcome": serde_json::from_str::<serde_json::Value>(&text).unwrap() }])
    };
    let finding_steps =
        vec![json!({ "scenario": "mine", "host": side(&host), "model": side(&model) })];
    RunReport {
        schema: SCHEMA,
        host: Host {
            kernel: "6.18.44".into(),
            tracefs: "/sys/kernel/tracing".into(),
            backends: json!([]),
            config: json!({}),
        },
        observer: None,
        policy: "6.17+".into(),
        verdicts: vec![Verdict {
            status: Status::Divergence,
            steps: steps.len(),
            findings: vec![f],
            ..Verdict::skipped("mine", String::new())
        }],
        scenarios: vec![ScenarioRun {
            name: "mine".into(),
            toml,
            prefix: PREFIX.into(),
            uprobe: UPROBE.into(),
            failed_steps: failed.to_vec(),
            skipped_steps: Vec::new(),
        }],
        finding_steps,
        finding_histories: Vec::new(),
        host_left_dirty: Vec::new(),
        baseline: None,
    }
}

const MAKE: &str = "op = \"control\"\nfile = \"uprobe_events\"\nline = \"p:{prefix}/ev {uprobe}\"";
const REMOVE: &str = "op = \"control\"\nfile = \"uprobe_events\"\nline = \"-:{prefix}/ev\"";
const STAT: &str = "op = \"stat\"\npath = \"events/{prefix}/ev/enable\"";

fn enable_stat() -> Outcome {
    Outcome::Ok(Value::Stat(StatInfo {
        ino: 9,
        kind: FileKind::File,
        perm: 0o640,
        nlink: 1,
        uid: 0,
        gid: 0,
    }))
}

/// Made, removed, then found by stat: a divergence shell shows (a success where the right
/// answer is a failure).
fn stat_after_removal() -> RunReport {
    report(
        &[MAKE, REMOVE, STAT],
        finding(3, "stat", FindingKind::Divergence),
        enable_stat(),
        Outcome::Err(Errno::ENOENT),
        &[],
    )
}

/// Runs `shell -n` on `script` where that shell exists; whether it did.
fn parses_with(shell: &[&str], script: &Path) -> bool {
    let Ok(out) = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-n")
        .arg(script)
        .output()
    else {
        eprintln!("{} not found: not checked with it", shell.join(" "));
        return false;
    };
    assert!(
        out.status.success(),
        "{} -n {}: {}",
        shell.join(" "),
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rethfs-repro-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `text` as the header says, warnings as errors; false where there is no `cc`.
fn compiles(name: &str, text: &str) -> bool {
    let dir = scratch(name);
    std::fs::write(dir.join("repro.c"), text).unwrap();
    let out = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-static", "-o"])
        .arg(dir.join("repro"))
        .arg(dir.join("repro.c"))
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(out) = out else {
        eprintln!("skipped: no `cc` to compile the reproducer with");
        return false;
    };
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn a_divergence_shell_can_show_is_a_script_that_parses() {
    let plan = Plan::from_report(&stat_after_removal(), "r.json", 1).unwrap();
    assert_eq!(
        plan.check,
        Check::Answer {
            want: vec![Expect::Err(Errno::ENOENT)],
            host: Expect::Stat {
                kind: FileKind::File,
                perm: 0o640,
                nlink: 1,
                uid: 0,
                gid: 0
            }
        }
    );
    let r = plan.reproducer();
    assert_eq!((r.file, r.build), ("repro.sh", None));
    // Its own names, the removal appended to the file it used, and the verdicts.
    for part in [
        "P=repro_$$",
        r#"printf '%s\n' 'p:'"$P"'/ev '"$U" >>"$T/uprobe_events""#,
        r#"printf '%s\n' '-:'"$P"'/ev' >>"$T/uprobe_events" 2>/dev/null"#,
        "exit 125",
        "seen on Linux 6.18.44",
    ] {
        assert!(r.text.contains(part), "{part}:\n{}", r.text);
    }
    let dir = scratch("sh");
    let script = dir.join(r.file);
    std::fs::write(&script, &r.text).unwrap();
    assert!(parses_with(&["sh"], &script));
    parses_with(&["dash"], &script);
    parses_with(&["busybox", "sh"], &script);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_errno_shell_cannot_see_makes_a_c_program_that_compiles() {
    // EBUSY where ENOENT is right: shell sees two failures.
    let r = report(
        &[MAKE, REMOVE, REMOVE],
        finding(3, "control", FindingKind::Divergence),
        Outcome::Err(Errno::EBUSY),
        Outcome::Err(Errno::ENOENT),
        &[],
    );
    let plan = Plan::from_report(&r, "r.json", 1).unwrap();
    let r = plan.reproducer();
    assert_eq!((r.file, r.build), ("repro.c", Some(c::BUILD)));
    assert!(
        r.text.contains("{ .kind = W_ERR, .err = ENOENT }"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("Written in C, not shell: step 3 needs an errno"),
        "{}",
        r.text
    );
    compiles("errno", &r.text);
}

#[test]
fn the_seek_invariant_is_checked_in_c_and_compiles() {
    let prefix = format!("rethfs_{}", std::process::id());
    let readdir = Scenario::resolve("readdir").unwrap();
    let uprobe = crate::host::uprobe_target().unwrap();
    let steps: Vec<String> = readdir
        .to_toml(&[(&uprobe, "{uprobe}"), (&prefix, "{prefix}")])
        .split("[[step]]\n")
        .skip(1)
        .map(str::to_owned)
        .collect();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let kind = FindingKind::Violation {
        invariant: SEEK_RESUMES.into(),
        side: Side::Both,
    };
    let r = report(
        &steps,
        finding(20, "getdents", kind),
        Outcome::Ok(Value::Done),
        Outcome::Ok(Value::Done),
        &[],
    );
    let plan = Plan::from_report(&r, "r.json", 1).unwrap();
    assert_eq!(plan.check, Check::SeekResumes { handle: "d".into() });
    assert_eq!(plan.steps.len(), 20);
    let r = plan.reproducer();
    assert_eq!(r.file, "repro.c");
    for part in [
        "do_getdents(&r, &handles[0], 64);",
        "do_seek(&r, &handles[0], 5LL, SEEK_SET);",
        "seek_resumes(&r, 20, \"getdents d (32768 bytes)\", &handles[0]);",
        "{ \"uprobe_events\", \"-:{prefix}/ev3\", \"events/{prefix}/ev3/enable\" },",
    ] {
        assert!(r.text.contains(part), "{part}");
    }
    compiles("seek", &r.text);
}

#[test]
fn other_invariants_run_their_steps_and_say_why_nothing_is_judged() {
    let kind = FindingKind::Violation {
        invariant: "files-share-one-ino".into(),
        side: Side::Both,
    };
    let r = report(
        &[MAKE, STAT],
        finding(2, "stat", kind),
        enable_stat(),
        enable_stat(),
        &[],
    );
    let plan = Plan::from_report(&r, "r.json", 1).unwrap();
    assert!(
        matches!(&plan.check, Check::NotStandalone(why) if why.contains("files-share-one-ino")),
        "{:?}",
        plan.check
    );
    let r = plan.reproducer();
    assert_eq!(r.file, "repro.sh");
    assert!(
        r.text
            .contains("cannot 'the check of the invariant files-share-one-ino"),
        "{}",
        r.text
    );
    // A divergence in inode numbers alone cannot be told apart standalone either.
    let other = Outcome::Ok(Value::Stat(StatInfo {
        ino: 10,
        ..match enable_stat() {
            Outcome::Ok(Value::Stat(s)) => s,
            _ => unreachable!(),
        }
    }));
    let r = report(
        &[MAKE, STAT],
        finding(2, "stat", FindingKind::Divergence),
        other,
        enable_stat(),
        &[],
    );
    let plan = Plan::from_report(&r, "r.json", 1).unwrap();
    assert!(
        matches!(plan.check, Check::NotStandalone(_)),
        "{:?}",
        plan.check
    );
}

#[test]
fn a_step_that_failed_in_the_run_may_fail_again() {
    let r = report(
        &[REMOVE, MAKE, REMOVE, STAT],
        finding(4, "stat", FindingKind::Divergence),
        enable_stat(),
        Outcome::Err(Errno::ENOENT),
        &[1],
    );
    let text = Plan::from_report(&r, "r.json", 1)
        .unwrap()
        .reproducer()
        .text;
    let first = text.split("# step 1 ").nth(1).unwrap();
    let first = &first[..first.find("# step 2 ").unwrap()];
    assert!(
        first.contains("succeeded here; it failed in the run"),
        "{first}"
    );
    assert!(!first.contains("cannot"), "{first}");
}

#[test]
fn bad_input_is_a_usage_error_naming_the_report() {
    let usage = |r: &RunReport, n| match Plan::from_report(r, "r.json", n) {
        Err(Error::Usage(m)) => m,
        other => panic!("{:?}", other.map(|p| p.check)),
    };
    let r = stat_after_removal();
    let m = usage(&r, 2);
    assert!(
        m.starts_with("r.json: no finding 2: the report has 1"),
        "{m}"
    );
    let mut none = r.clone();
    none.scenarios.clear();
    let m = usage(&none, 1);
    assert!(m.contains("`mine` has no `scenarios` entry"), "{m}");
    let mut old = r.clone();
    old.scenarios[0].prefix.clear();
    assert!(usage(&old, 1).contains("run it again"));
    let mut race = r.clone();
    race.scenarios[0].toml.push_str(
        "[[thread]]\nname = \"w\"\nrepeat = 2\n[[thread.step]]\nop = \"stat\"\npath = \"events\"\n",
    );
    let m = usage(&race, 1);
    assert!(m.contains("races: not yet reproducible standalone"), "{m}");
}

#[test]
fn shell_words_quote_everything_but_the_placeholders() {
    assert_eq!(shell::word("p:{prefix}/e {uprobe}"), r#"'p:'"$P"'/e '"$U""#);
    assert_eq!(shell::word("it's"), r"'it'\''s'");
    assert_eq!(shell::word(""), "''");
    assert_eq!(shell::word("{prefix}"), r#""$P""#);
}
