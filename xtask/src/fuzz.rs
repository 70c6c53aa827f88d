//! `cargo xtask fuzz [--seconds N] [TARGET ...]`: the fuzz targets in fuzz/, with libFuzzer
//! through cargo fuzz on the nightly toolchain. Each target first replays the inputs that once
//! crashed it (fuzz/regressions/TARGET/), then runs for a fixed time from its corpus in
//! target/fuzz/corpus/TARGET/ and its seeds; the figures are printed, a crash fails the task.

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{pins::Pins, pins::workspace_root, process, setup};

/// A fuzz target, where its seeds are, and how large an input may grow.
struct Target {
    name: &'static str,
    seeds: Option<&'static str>,
    max_len: usize,
}

const TARGETS: [Target; 2] = [
    // Scenario files: the catalogue is the seed corpus.
    Target {
        name: "scenario_model",
        seeds: Some("rethfs-user/src/scenario/catalogue"),
        max_len: 16384,
    },
    // Ring-buffer records: a few hundred bytes each, a handful per input.
    Target {
        name: "kernel_record",
        seeds: None,
        max_len: 4096,
    },
];

/// What one target's run showed.
struct Figures {
    seconds: f64,
    executions: u64,
    new_units: u64,
    corpus: usize,
    crash: Option<String>,
    /// Inputs libFuzzer saved as slow (`slow-unit-*`, over 10 s): worth a look, no failure
    /// (a loaded machine makes them too).
    slow: Vec<String>,
}

/// libFuzzer's artifacts that are failures: a crash, a leak, a timeout, running out of memory.
fn is_failure(artifact: &str) -> bool {
    let name = Path::new(artifact)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ["crash-", "leak-", "timeout-", "oom-"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// `cargo fuzz run TARGET ARGS -- LIBFUZZER` with the eBPF toolchain (a nightly); the eBPF
/// object is not needed (the targets load no programs).
fn cargo_fuzz(pins: &Pins, target: &str, args: &[&Path], libfuzzer: &[String]) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.current_dir(workspace_root())
        .args(["run", &pins.ebpf_toolchain, "cargo", "fuzz", "run", target])
        .args(args)
        .arg("--")
        .args(libfuzzer)
        .env("AYA_BUILD_SKIP", "1");
    cmd
}

/// The value after `key` on a libFuzzer line.
fn stat(line: &str, key: &str) -> Option<u64> {
    line.strip_prefix(key)?.trim().parse().ok()
}

/// Runs `cmd`, its output to `log` (libFuzzer's progress lines to the terminal too), and
/// reads libFuzzer's figures from it.
fn fuzz_once(cmd: &mut Command, log: &Path, corpus: &Path) -> Result<Figures> {
    eprintln!("xtask: $ {}", process::render(cmd));
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo fuzz")?;
    let mut out = fs::File::create(log).with_context(|| log.display().to_string())?;
    let mut f = Figures {
        seconds: 0.0,
        executions: 0,
        new_units: 0,
        corpus: 0,
        crash: None,
        slow: Vec::new(),
    };
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line.context("reading cargo fuzz output")?;
        writeln!(out, "{line}")?;
        if line.contains(" pulse ") || line.contains(" DONE ") {
            eprintln!("  {line}");
        }
        if let Some(n) = stat(&line, "stat::number_of_executed_units:") {
            f.executions = n;
        }
        if let Some(n) = stat(&line, "stat::new_units_added:") {
            f.new_units = n;
        }
        // `Done 104728 runs in 61 second(s)`: the fuzzing time, without the build.
        if let Some(secs) = line
            .strip_prefix("Done ")
            .and_then(|r| r.split(" runs in ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
        {
            f.seconds = secs;
        }
        if let Some(path) = line.split("Test unit written to ").nth(1) {
            let path = path.trim().to_owned();
            if is_failure(&path) {
                f.crash = Some(path);
            } else {
                f.slow.push(path);
            }
        }
    }
    let status = child.wait()?;
    if f.seconds == 0.0 {
        f.seconds = start.elapsed().as_secs_f64();
    }
    f.corpus = fs::read_dir(corpus).map_or(0, |d| d.count());
    if !status.success() && f.crash.is_none() {
        f.crash = Some(format!(
            "cargo fuzz exited with {status}; see {}",
            log.display()
        ));
    }
    Ok(f)
}

pub fn run(seconds: u64, only: &[String]) -> Result<u8> {
    for name in only {
        if !TARGETS.iter().any(|t| t.name == name) {
            bail!(
                "fuzz target `{name}`: not one of {}",
                TARGETS.map(|t| t.name).join(", ")
            );
        }
    }
    setup::run()?;
    let pins = Pins::read()?;
    setup::ensure_cargo_fuzz(&pins)?;
    let root = workspace_root();
    // One build (sanitizer and coverage flags, 3 min cold) before any clock starts.
    process::run(
        Command::new("rustup")
            .current_dir(&root)
            .args(["run", &pins.ebpf_toolchain, "cargo", "fuzz", "build"])
            .env("AYA_BUILD_SKIP", "1"),
    )?;
    let mut failed = false;
    let mut rows = Vec::new();
    for t in TARGETS
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t.name))
    {
        let work = root.join("target/fuzz");
        let corpus = work.join("corpus").join(t.name);
        fs::create_dir_all(&corpus)?;
        // Every input that once crashed the target, replayed once each.
        let regressions: Vec<PathBuf> = fs::read_dir(root.join("fuzz/regressions").join(t.name))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if !regressions.is_empty() {
            let files: Vec<&Path> = regressions.iter().map(PathBuf::as_path).collect();
            let log = work.join(format!("{}-regressions.log", t.name));
            let f = fuzz_once(&mut cargo_fuzz(&pins, t.name, &files, &[]), &log, &corpus)?;
            if let Some(c) = f.crash {
                failed = true;
                eprintln!("xtask: {}: a regression input crashes again: {c}", t.name);
            } else {
                eprintln!(
                    "xtask: {}: {} regression inputs replayed, none crashes",
                    t.name,
                    regressions.len()
                );
            }
        }
        let mut dirs = vec![corpus.as_path()];
        let seeds = t.seeds.map(|s| root.join(s));
        dirs.extend(seeds.as_deref());
        let libfuzzer = [
            format!("-max_total_time={seconds}"),
            format!("-max_len={}", t.max_len),
            // A step that takes seconds on the model is a hang, reported like a crash.
            "-timeout=20".into(),
            "-print_final_stats=1".into(),
        ];
        let log = work.join(format!("{}.log", t.name));
        let f = fuzz_once(
            &mut cargo_fuzz(&pins, t.name, &dirs, &libfuzzer),
            &log,
            &corpus,
        )?;
        for s in &f.slow {
            eprintln!(
                "xtask: {}: a slow input (not a failure; time it alone with `cargo +nightly \
                 fuzz run {} {s}`)",
                t.name, t.name
            );
        }
        if let Some(c) = &f.crash {
            failed = true;
            eprintln!(
                "xtask: {}: CRASH: {c}\n  shrink it with `cargo +nightly fuzz tmin {} <input>`, \
                 then keep it in fuzz/regressions/{}/ and as a test",
                t.name, t.name, t.name
            );
        }
        rows.push((t.name, f));
    }
    println!("fuzz target      seconds  executions    exec/s  new units  corpus  crashes");
    for (name, f) in &rows {
        println!(
            "{name:<16} {:>7.0} {:>11} {:>9.0} {:>10} {:>7} {:>8}",
            f.seconds,
            f.executions,
            f.executions as f64 / f.seconds.max(1e-9),
            f.new_units,
            f.corpus,
            u8::from(f.crash.is_some())
        );
    }
    Ok(u8::from(failed))
}

#[cfg(test)]
mod tests {
    use super::stat;

    #[test]
    fn only_crashes_leaks_timeouts_and_ooms_fail() {
        use super::is_failure;
        assert!(is_failure("/w/fuzz/artifacts/t/crash-0a1b"));
        assert!(is_failure("./timeout-99"));
        assert!(is_failure("oom-1") && is_failure("leak-2"));
        assert!(!is_failure("/w/fuzz/artifacts/t/slow-unit-c635"));
    }

    #[test]
    fn reads_libfuzzers_final_stats() {
        assert_eq!(
            stat(
                "stat::number_of_executed_units: 104728",
                "stat::number_of_executed_units:"
            ),
            Some(104728)
        );
        assert_eq!(
            stat("stat::new_units_added:   12", "stat::new_units_added:"),
            Some(12)
        );
        assert_eq!(stat("#1024 pulse cov: 3", "stat::new_units_added:"), None);
    }
}
