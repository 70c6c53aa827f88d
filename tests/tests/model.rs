//! `rethfs model` as a user without root would run it: listing, running built-in scenarios
//! under chosen kernel policies, JSON output, and clear errors for bad input.

use std::io::Write as _;

use rethfs_tests::{output, text, unprivileged};
use serde_json::Value;

/// The built-in scenarios the catalogue must offer.
const CATALOGUE: [&str; 14] = [
    "seed",
    "stale-fd",
    "busy",
    "cwd",
    "instances",
    "inodes",
    "ownership",
    "readdir",
    "cache",
    "kprobes",
    "rename",
    "instance-files",
    "group-files",
    "probe-kinds",
];

/// The JSON of `rethfs model ARGS`, which exits 1 exactly when the model broke an invariant.
fn transcript(args: &[&str]) -> Value {
    let out = output(&mut unprivileged(args));
    let t: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let broke = !t["violations"].as_array().expect("violations").is_empty();
    assert_eq!(out.status.code(), Some(i32::from(broke)), "{}", text(&out));
    t
}

/// The outcome of the first step whose action summary-relevant fields match.
fn outcome_of<'a>(t: &'a Value, op: &str, nth: usize) -> &'a Value {
    let steps = t["transcript"]["steps"].as_array().expect("steps");
    &steps
        .iter()
        .filter(|s| s["action"]["op"] == op)
        .nth(nth)
        .unwrap_or_else(|| panic!("no {op} #{nth} in {t}"))["outcome"]
}

#[test]
fn lists_the_catalogue_without_root() {
    let out = output(&mut unprivileged(&["model"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in CATALOGUE {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
}

#[test]
fn seed_scenario_reports_enoent_and_enodev_after_removal() {
    let t = transcript(&["model", "--scenario", "seed", "--kernel", "6.12", "--json"]);
    assert_eq!(t["policy"], "v6-10");
    // The second listing, after the removal, and the write by path: ENOENT.
    assert_eq!(
        outcome_of(&t, "list", 1),
        &serde_json::json!({"err": "ENOENT"})
    );
    assert_eq!(
        outcome_of(&t, "write-file", 0),
        &serde_json::json!({"err": "ENOENT"})
    );
    // The handle opened before the removal: ENODEV.
    assert_eq!(
        outcome_of(&t, "write", 0),
        &serde_json::json!({"err": "ENODEV"})
    );
}

#[test]
fn every_scenario_runs_under_every_policy() {
    for kernel in ["6.1", "6.6", "6.8", "6.12", "6.18"] {
        for name in CATALOGUE {
            let t = transcript(&["model", "--scenario", name, "--kernel", kernel, "--json"]);
            assert!(
                !t["transcript"]["steps"].as_array().unwrap().is_empty(),
                "{name} on {kernel}"
            );
        }
    }
}

/// The one invariant the catalogue breaks is the kernel's readdir fault, which the model
/// predicts on every eventfs kernel that lists through eventfs_iterate, and on no other.
#[test]
fn the_model_breaks_the_readdir_seek_invariant_where_the_kernel_does() {
    for (kernel, broken) in [
        ("6.1", false),
        ("6.6", false),
        ("6.8", true),
        ("6.12", true),
        ("6.18", true),
    ] {
        let t = transcript(&[
            "model",
            "--scenario",
            "readdir",
            "--kernel",
            kernel,
            "--json",
        ]);
        let names: Vec<&Value> = t["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["invariant"])
            .collect();
        let seek = names
            .iter()
            .any(|n| *n == "readdir-seek-resumes-after-entry");
        assert_eq!(seek, broken, "{kernel}: {names:?}");
        assert!(broken || names.is_empty(), "{kernel}: {names:?}");
    }
}

#[test]
fn malformed_scenarios_and_versions_are_usage_errors() {
    let mut file = tempfile();
    writeln!(
        file.1,
        "name = \"bad\"\ndescription = \"d\"\n[[step]]\nop = \"stat\"\npath = 3"
    )
    .unwrap();
    let out = output(&mut unprivileged(&["model", "--scenario", &file.0]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // The step's table starts on line 3; serde reports the bad field within it.
    assert!(
        stderr.contains(&format!("{}:3:", file.0)) && stderr.contains("expected a string"),
        "{}",
        text(&out)
    );

    let out = output(&mut unprivileged(&["model", "--scenario", "nonesuch"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nonesuch"),
        "{}",
        text(&out)
    );

    let out = output(&mut unprivileged(&[
        "model",
        "--scenario",
        "seed",
        "--kernel",
        "banana",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("banana"),
        "{}",
        text(&out)
    );
}

/// A world-readable scenario file in the temp directory.
fn tempfile() -> (String, std::fs::File) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::temp_dir().join(format!("rethfs-test-{}.toml", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .unwrap();
    (path.display().to_string(), f)
}

#[test]
fn a_race_runs_on_the_model_as_one_sequence_with_each_threads_handles_its_own() {
    let out = output(&mut unprivileged(&[
        "model",
        "--scenario",
        "open-removal",
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = doc["transcript"]["steps"].as_array().unwrap();
    // Writer, file and dir threads once each: 2 + 3 + 4 steps.
    assert_eq!(steps.len(), 9, "{}", text(&out));
    assert!(doc.to_string().contains("\"file.f\""), "{doc}");
}
