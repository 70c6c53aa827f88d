//! What a run hands to kernel developers and CI: KTAP that the kernel's own KTAP parser reads,
//! JUnit XML that an XML parser reads, and baselines that turn known findings into a pass.

use std::{path::Path, process::Command};

use rethfs_tests::{HOST, Scratch, host_state, output, rethfs, serial, text};

/// The kernel's KTAP parser (tests/ktap/check.py) on `file`: what it counted.
fn ktap_counts(file: &Path) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("ktap/check.py"))
        .arg(file)
        .output()
        .expect("python3 runs the kernel's KTAP parser");
    assert!(
        out.status.success(),
        "the kernel's KTAP parser refused {}:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Python's XML parser on `file`: the testsuite's `tests`, `failures` and `skipped`.
fn junit_counts(file: &Path) -> String {
    let script = "import sys, xml.etree.ElementTree as ET\n\
                  s = ET.parse(sys.argv[1]).getroot().find('testsuite')\n\
                  print(s.get('tests'), s.get('failures'), s.get('skipped'), len(s.findall('testcase')))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("python3 parses XML");
    assert!(
        out.status.success(),
        "JUnit not well-formed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_runs_findings_parse_as_ktap_and_junit_and_a_baseline_makes_them_known() {
    let _ = HOST;
    let _serial = serial();
    let before = host_state();
    let dir = Scratch::new("report");
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (json, ktap, junit, known) = (
        file("r.json"),
        file("r.ktap"),
        file("r.xml"),
        file("known.toml"),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--scenario", "readdir"];
        args.extend_from_slice(extra);
        output(&mut rethfs(&args))
    };
    let out = run(&["--json", &json, "--ktap", &ktap, "--junit", &junit]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the readdir finding: {}",
        text(&out)
    );
    // One scenario, two findings (two seekdirs land after `enable` and after `ev1`).
    assert_eq!(
        ktap_counts(Path::new(&ktap)),
        "passed 0 failed 2 crashed 0 skipped 0 errors 0"
    );
    assert_eq!(junit_counts(Path::new(&junit)), "1 1 0 1");

    let out = output(&mut rethfs(&["baseline", "--from", &json, "--out", &known]));
    assert!(out.status.success(), "{}", text(&out));
    let baseline = std::fs::read_to_string(&known).unwrap();
    assert!(
        baseline.contains("readdir-seek-resumes-after-entry"),
        "{baseline}"
    );

    let out = run(&["--baseline", &known, "--ktap", &ktap, "--junit", &junit]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "every finding known: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("2 known, 0 new, 0 fixed"),
        "{}",
        text(&out)
    );
    assert_eq!(
        ktap_counts(Path::new(&ktap)),
        "passed 2 failed 0 crashed 0 skipped 0 errors 0"
    );
    assert!(std::fs::read_to_string(&ktap).unwrap().contains("# XFAIL"));
    assert_eq!(junit_counts(Path::new(&junit)), "1 0 0 1");

    // A scenario with no finding keeps it a pass.
    let out = run(&["--scenario", "seed", "--baseline", &known]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(host_state(), before, "the host is left as it was");
}

#[test]
fn a_report_that_is_none_is_bad_input_naming_it() {
    let dir = Scratch::new("report-bad");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"verdicts\": []}").unwrap();
    let out = output(&mut rethfs(&[
        "baseline",
        "--from",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("k.toml").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("bad.json"), "{}", text(&out));
    assert!(!dir.path().join("k.toml").exists());
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn the_shipped_baseline_passes_this_kernel_and_a_new_finding_still_fails() {
    let _serial = serial();
    let known = Path::new(env!("CARGO_MANIFEST_DIR")).join("../baselines/known.toml");
    let known = known.to_str().unwrap();
    let out = output(&mut rethfs(&[
        "run",
        "--scenario",
        "catalogue",
        "--baseline",
        known,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // 6.1's rules on this kernel: the model disagrees with it, which no baseline entry knows.
    let out = output(&mut rethfs(&[
        "run",
        "--scenario",
        "catalogue",
        "--kernel-policy",
        "6.1",
        "--baseline",
        known,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(" new, "), "{}", text(&out));
}
