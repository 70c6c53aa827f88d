//! `rethfs doctor --json` on the real host: the profile's shape, and backends that agree with
//! the kernel's own config.

use rethfs_tests::{output, rethfs, text};
use serde_json::Value;

fn profile() -> Value {
    let out = output(&mut rethfs(&["doctor", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn backend<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["backends"]
        .as_array()
        .expect("backends array")
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("backend {name} missing from {p}"))
}

#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn every_backend_is_reported_with_availability_and_reason() {
    let p = profile();
    for name in [
        "kprobe",
        "kretprobe",
        "fentry",
        "fexit",
        "tracepoint",
        "raw_tracepoint",
        "tp_btf",
        "perf_watchpoint",
    ] {
        let b = backend(&p, name);
        assert!(b["available"].is_boolean(), "{b}");
        assert!(!b["reason"].as_str().unwrap_or_default().is_empty(), "{b}");
    }
    assert!(p["tracefs"]["path"].is_string(), "{p}");
    assert!(p["release"].is_string() && p["lockdown"].is_string(), "{p}");
}

/// kprobes attach exactly where the kernel was built with them; without, the reason says so.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn kprobe_availability_follows_config_kprobes() {
    let p = profile();
    let config = &p["config"]["options"]["CONFIG_KPROBES"];
    let kprobe = backend(&p, "kprobe");
    match config.as_str() {
        Some("y") => assert_eq!(kprobe["available"], true, "{kprobe}"),
        Some("not set") => {
            assert_eq!(kprobe["available"], false, "{kprobe}");
            assert!(
                kprobe["reason"]
                    .as_str()
                    .unwrap()
                    .contains("kernel built without kprobes"),
                "{kprobe}"
            );
        }
        other => panic!("CONFIG_KPROBES unreadable ({other:?}): {p}"),
    }
}

/// The observer's backend must be usable wherever syscall tracepoints are configured.
#[test]
#[ignore = "host test: needs root and a real tracefs"]
fn tracepoints_attach_where_syscall_tracepoints_are_configured() {
    let p = profile();
    if p["config"]["options"]["CONFIG_FTRACE_SYSCALLS"] == "y" {
        assert_eq!(backend(&p, "tracepoint")["available"], true, "{p}");
        assert_eq!(p["observer"]["name"], "syscall-tracepoints", "{p}");
    } else {
        assert_eq!(backend(&p, "tracepoint")["available"], false, "{p}");
    }
}
