//! Bad input and bad environments: a clear message naming what is wrong, exit code 2.

use std::os::unix::process::CommandExt as _;

use rethfs_tests::{is_root, output, rethfs, text};

#[test]
fn not_root_is_an_environment_error() {
    for args in [
        &["doctor"][..],
        &["observe", "--duration", "1"],
        &["run"],
        &["cleanup"],
    ] {
        let mut cmd = rethfs(args);
        if is_root() {
            // Drop to nobody for the child only.
            cmd.uid(65534).gid(65534);
        }
        let out = output(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(stderr.contains("must run as root"), "{}", text(&out));
    }
}

#[test]
fn bad_duration_is_a_usage_error_naming_the_option() {
    for bad in ["-3", "0", "soon"] {
        let out = output(&mut rethfs(&["observe", "--duration", bad]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            stderr.contains("--duration") && stderr.contains(bad),
            "{}",
            text(&out)
        );
    }
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn missing_btf_is_an_environment_error() {
    let out = output(&mut rethfs(&[
        "observe",
        "--duration",
        "1",
        "--btf",
        "/nonexistent/vmlinux",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr.contains("BTF missing") && stderr.contains("/nonexistent/vmlinux"),
        "{}",
        text(&out)
    );
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn a_path_that_is_not_tracefs_is_an_environment_error() {
    let dir = std::env::temp_dir();
    let out = output(&mut rethfs(&["doctor", "--tracefs", dir.to_str().unwrap()]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr.contains("tracefs unavailable") && stderr.contains("is not a tracefs mount"),
        "{}",
        text(&out)
    );
}

#[test]
fn unknown_and_malformed_scenarios_for_run_are_usage_errors() {
    // Scenario errors are found before privileges or tracefs are needed.
    let out = output(&mut rethfs(&["run", "--scenario", "no-such-thing"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-thing"),
        "{}",
        text(&out)
    );
    let path = std::env::temp_dir().join(format!("rethfs-bad-{}.toml", std::process::id()));
    std::fs::write(&path, "name = \"x\"\n[[step]]\nop = \"stat\"\n").unwrap();
    let out = output(&mut rethfs(&["run", "--scenario", path.to_str().unwrap()]));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(path.to_str().unwrap()),
        "{}",
        text(&out)
    );
}
