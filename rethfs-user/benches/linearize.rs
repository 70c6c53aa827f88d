//! The linearizability checker's cost: time and memory to judge 100,000-call histories the
//! model made one call at a time (`race::simulate`), so every history is linearizable and
//! the whole search is measured; and how many short histories it judges per second.
//! Prints figures; asserts nothing about them.
//!
//! `cargo bench -p rethfs-user --bench linearize`

use std::time::Instant;

use rethfs::{
    interface::{Action, ControlFile, OpenMode},
    model::{Model, ModelConfig, Policy},
    race::{
        linearize::{Linearizable, on_big_stack},
        simulate,
    },
};

/// Calls per history (`RETHFS_BENCH_CALLS` overrides).
fn calls_wanted() -> usize {
    std::env::var("RETHFS_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

fn max_rss_mib() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss as f64 / 1024.0
}

fn main() {
    let exe = std::env::current_exe().unwrap().display().to_string();
    let control = |line: String| Action::Control {
        file: ControlFile::UprobeEvents,
        line,
    };
    let make = |e: &str| control(format!("p:g/{e} {exe}:0x1000"));
    let remove = |e: &str| control(format!("-:g/{e}"));
    let stat = |e: &str| Action::Stat {
        path: format!("events/g/{e}/enable"),
    };
    let cases = [
        (
            "churn (one writer; stat, id, list readers)",
            vec![
                vec![make("churn"), remove("churn")],
                vec![stat("churn")],
                vec![Action::ReadFile {
                    path: "events/g/churn/id".into(),
                }],
                vec![Action::list("events/g")],
            ],
        ),
        (
            "two writers in one group (the search branches)",
            vec![
                vec![make("a"), remove("a")],
                vec![make("b"), remove("b")],
                vec![stat("a")],
                vec![Action::list("events/g")],
            ],
        ),
        (
            "open-removal (one writer; threads opening, using and closing what they open)",
            vec![
                vec![make("ev"), remove("ev")],
                vec![
                    Action::Open {
                        path: "events/g/ev/enable".into(),
                        mode: OpenMode::Read,
                        handle: "f".into(),
                    },
                    Action::Read {
                        handle: "f".into(),
                        len: 64,
                    },
                    Action::Close { handle: "f".into() },
                ],
                vec![
                    Action::Open {
                        path: "events/g/ev".into(),
                        mode: OpenMode::Directory,
                        handle: "d".into(),
                    },
                    Action::Getdents {
                        handle: "d".into(),
                        buffer: 32768,
                    },
                    Action::Close { handle: "d".into() },
                ],
            ],
        ),
    ];
    // A distribution kernel's tree, as the model is seeded on a real host, cut to the group
    // the calls touch, as `rethfs run` judges them.
    let groups = ["g".to_owned()];
    let model = Model::new(
        Policy::V6_17,
        ModelConfig::synthetic(110, 21).only_groups(&groups),
    );
    // The instance's calls touch one group, so its tree is cut to that group too.
    let sched = Model::new(
        Policy::V6_17,
        ModelConfig::synthetic(110, 21).only_groups(&["group0".to_owned()]),
    );
    let instance = vec![
        vec![
            Action::Mkdir {
                path: "instances/i".into(),
            },
            Action::Rmdir {
                path: "instances/i".into(),
            },
        ],
        vec![
            Action::Open {
                path: "instances/i/tracing_on".into(),
                mode: OpenMode::Read,
                handle: "on".into(),
            },
            Action::Read {
                handle: "on".into(),
                len: 8,
            },
            Action::Close {
                handle: "on".into(),
            },
        ],
        vec![Action::list("instances/i/events/group0")],
    ];
    // What the explorer asks of it: many short histories, judged one after another.
    let (short, seeds) = (200, 500);
    let mut judged = std::time::Duration::ZERO;
    for seed in 0..seeds {
        let calls = simulate::history(&model, &cases[0].1, short, seed);
        let t = Instant::now();
        let verdict = on_big_stack(&calls, &model, rethfs::race::BUDGET);
        judged += t.elapsed();
        assert!(
            matches!(verdict, Linearizable::Yes),
            "seed {seed}: {verdict:?}"
        );
    }
    println!(
        "{seeds} histories of {short} calls (churn's shape): {:.0} histories/s",
        f64::from(seeds as u32) / judged.as_secs_f64()
    );
    let cases = cases
        .into_iter()
        .map(|(name, programs)| (name, programs, &model));
    let instance = (
        "instance-rmdir (mkdir and rmdir; an opener and a lister of a group inside)",
        instance,
        &sched,
    );
    for (name, programs, model) in cases.chain([instance]) {
        let calls = simulate::history(model, &programs, calls_wanted(), 0x5eed);
        let rss = max_rss_mib();
        let t = Instant::now();
        let verdict = on_big_stack(&calls, model, rethfs::race::BUDGET);
        let s = t.elapsed().as_secs_f64();
        let answer = match verdict {
            Linearizable::Yes => "linearizable".to_owned(),
            other => format!("{other:?}"),
        };
        println!(
            "{name}: {} calls judged {answer} in {s:.2} s ({:.0} calls/s), peak RSS {:.0} MiB \
             (+{:.0} MiB over the history)",
            calls.len(),
            calls.len() as f64 / s,
            max_rss_mib(),
            max_rss_mib() - rss
        );
    }
}
