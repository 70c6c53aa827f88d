//! `rethfs explore`: cases rethfs writes itself, on the host against the model (root), or on
//! the model alone (`--model-only`, any user); findings shrunk, written and summarised.

use std::{path::Path, time::Duration};

use crate::{
    baseline::Baseline,
    cli::ExploreArgs,
    error::{Error, Result, require_root},
    explore::{
        self, Budget, Found, ModelJudge, Plan, Progress as ExploreProgress, Report, Universe,
        found, universe::Interfaces,
    },
    model::{KernelVersion, ModelConfig},
    profile::ProfileOptions,
    report::{self, progress::Progress},
    session::{self, HostSession, signals},
};

/// How long a run goes when neither `--duration` nor `--cases` says.
const DEFAULT_DURATION: Duration = Duration::from_secs(60);

fn plan(args: &ExploreArgs, seed: u64) -> Plan {
    match args.exhaustive {
        Some(depth) => Plan::Exhaustive {
            depth: depth as usize,
            limit: args.duration,
        },
        None => Plan::Random {
            seed,
            max_steps: args.max_steps as usize,
            budget: match (args.cases, args.duration) {
                (Some(n), _) => Budget::Cases(n),
                (None, d) => Budget::Duration(d.unwrap_or(DEFAULT_DURATION)),
            },
        },
    }
}

/// Where exploring stands, on stderr.
fn show(shown: &Progress, p: &ExploreProgress) {
    let rate = p.cases as f64 / p.elapsed.as_secs_f64().max(1e-9);
    let of = p.planned.map_or(String::new(), |n| format!(" of {n}"));
    let line = format!(
        "{}{of} cases, {} findings, {rate:.0} cases/s, {:.0} s",
        p.cases,
        p.findings,
        p.elapsed.as_secs_f64()
    );
    shown.show(&line, false);
}

/// The running kernel's version, or the one `--kernel-policy` names.
fn version(forced: Option<KernelVersion>) -> Result<(KernelVersion, String)> {
    let release = nix::sys::utsname::uname()
        .map_err(|e| Error::Failed(e.into()))?
        .release()
        .to_string_lossy()
        .into_owned();
    let v = match forced {
        Some(v) => v,
        None => release.parse().map_err(|e| {
            Error::Environment(format!("kernel release: {e}; give --kernel-policy"))
        })?,
    };
    Ok((v, release))
}

/// Writes each finding's scenario into `dir`; returns the file names.
fn write_found(dir: &Path, findings: &[Found], origin: &found::Origin) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let name = found::file_name(i + 1, f);
        super::write_file(&dir.join(&name), &found::scenario_file(f, origin))?;
        names.push(dir.join(name).display().to_string());
    }
    Ok(names)
}

pub fn run(opts: &ProfileOptions, args: ExploreArgs) -> Result<u8> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let plan = plan(&args, seed);
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    if let Some(dir) = &args.out {
        // Before the run, so a long one never ends unable to keep what it found.
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Usage(format!(
                "--out {}: cannot make the directory: {e}",
                dir.display()
            ))
        })?;
    }
    let uprobe = crate::host::uprobe_target().map_err(Error::Environment)?;
    let (version, release) = version(args.kernel_policy)?;
    let shown = Progress::new("rethfs explore");
    let (report, universe, kernel, policy, dirty) = if args.model_only {
        let universe = Universe::new(Interfaces::ALL, uprobe.clone(), true);
        let mut judge = ModelJudge::new(version.policy(), ModelConfig::default());
        signals::catch()?;
        announce(&plan, &universe, "the model against itself");
        // A fixed prefix: names' lengths decide what fits a getdents buffer, and without a
        // host to share there is no need for the pid, so a seed repeats results, not only
        // cases.
        let prefix = "rethfs_1".to_owned();
        let r = explore_with(&mut judge, &universe, plan, &prefix, &shown)?;
        let kernel = format!("the model of {}.{}", version.major, version.minor);
        (r, universe, kernel, version.policy(), Vec::new())
    } else {
        require_root("explore")?;
        signals::catch()?;
        let mut host = HostSession::open(
            "explore",
            &session::Options {
                tracefs: opts.tracefs.as_deref(),
                btf: &opts.btf,
                attach: args.attach,
                hooks: args.hooks,
                policy_version: args.kernel_policy,
                allow_remount: args.allow_remount,
            },
        )?;
        let universe = Universe::new(Interfaces::of(&host), uprobe.clone(), args.allow_remount);
        announce(
            &plan,
            &universe,
            &format!("host Linux {release} against the model"),
        );
        let prefix = host.prefix.clone();
        let r = explore_with(&mut host, &universe, plan, &prefix, &shown)?;
        let policy = host.policy;
        let (_, dirty) = host.finish();
        (r, universe, format!("Linux {release}"), policy, dirty)
    };
    shown.done();
    let mut report = report;
    for f in &mut report.findings {
        f.known = baseline
            .as_ref()
            .and_then(|b| b.knows_anywhere(&f.signature))
            .map(|e| e.reason.clone());
    }
    let policy_name = policy.to_string();
    let reproduce = reproduce_command(&args, version);
    let origin = found::Origin {
        reproduce: &reproduce,
        seed: matches!(plan, Plan::Random { .. }).then_some(seed),
        kernel: &kernel,
        policy: &policy_name,
        uprobe: &uprobe,
    };
    let files = match &args.out {
        Some(dir) => write_found(dir, &report.findings, &origin)?,
        None => Vec::new(),
    };
    print!("{}", report::explore::table(&report, &files));
    if let Some(path) = &args.json {
        let doc = summary(&report, &universe, &origin, &files, &dirty);
        super::write_file(
            path,
            &serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?,
        )?;
    }
    if !dirty.is_empty() {
        return Err(Error::Failed(anyhow::anyhow!(
            "explore did not leave the host as it found it:\n  {}",
            dirty.join("\n  ")
        )));
    }
    if report.interrupted {
        return Err(signals::interrupted());
    }
    Ok(0)
}

/// Explores until the plan's budget is spent or a signal stops it, showing progress.
fn explore_with(
    judge: &mut dyn explore::Judge,
    universe: &Universe,
    plan: Plan,
    prefix: &str,
    shown: &Progress,
) -> Result<Report> {
    explore::explore(judge, universe, plan, prefix, &signals::stopped, &mut |p| {
        show(shown, p)
    })
}

/// The command that shows a written finding again: the model alone, or the host under the
/// same observer and rules.
fn reproduce_command(args: &ExploreArgs, version: KernelVersion) -> String {
    if args.model_only {
        return format!(
            "rethfs model --scenario FILE --kernel {}.{}",
            version.major, version.minor
        );
    }
    let mut cmd = "rethfs run --scenario FILE".to_owned();
    if let Some(v) = args
        .attach
        .and_then(|o| clap::ValueEnum::to_possible_value(&o))
    {
        cmd += &format!(" --attach {}", v.get_name());
    }
    if let Some(v) = args.kernel_policy {
        cmd += &format!(" --kernel-policy {}.{}", v.major, v.minor);
    }
    if args.allow_remount {
        cmd += " --allow-remount";
    }
    cmd
}

/// What is about to run, with the seed that repeats it.
fn announce(plan: &Plan, universe: &Universe, what: &str) {
    match plan {
        Plan::Random {
            seed, max_steps, ..
        } => eprintln!(
            "rethfs explore: {what}, random cases of 1 to {max_steps} steps, seed {seed} \
             (--seed {seed} repeats them)"
        ),
        Plan::Exhaustive { depth, .. } => eprintln!(
            "rethfs explore: {what}, every sequence of {depth} steps: {} sequences",
            explore::exhaustive_count(universe, *depth)
        ),
    }
    let kinds: Vec<String> = universe.kinds.iter().map(|k| format!("{k:?}")).collect();
    eprintln!("rethfs explore: events made as {}", kinds.join(", "));
    for (kind, why) in &universe.left_out {
        eprintln!("rethfs explore: not generated: {kind}: {why}");
    }
}

fn summary(
    r: &Report,
    universe: &Universe,
    origin: &found::Origin,
    files: &[String],
    dirty: &[String],
) -> serde_json::Value {
    let findings: Vec<serde_json::Value> = r
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["file"] = files.get(i).cloned().into();
            v
        })
        .collect();
    serde_json::json!({
        "seed": origin.seed,
        "kernel": origin.kernel,
        "policy": origin.policy,
        "kinds": universe.kinds,
        "left_out": universe.left_out,
        "cases": r.cases,
        "planned": r.planned,
        "steps": r.steps,
        "runs": r.runs,
        "seconds": r.seconds,
        "cases_per_s": r.cases_per_second(),
        "steps_per_s": r.steps_per_second(),
        "interrupted": r.interrupted,
        "skipped": r.skipped,
        "findings": findings,
        "host_left_dirty": dirty,
    })
}
