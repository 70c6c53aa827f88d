//! Model speed: operations per second for a lookup/open/close/remove mix, and the time to
//! build a full-size events tree. Prints figures; asserts nothing about them.
//!
//! `cargo bench -p rethfs-user --bench model`

use std::time::{Duration, Instant};

use rethfs::{
    interface::{Action, ControlFile, OpenMode, Target},
    model::{Model, ModelConfig, Policy},
};

/// About the size of a distribution kernel's tree: 110 groups of 21 events give 2,421
/// directories and 11,773 files.
const GROUPS: usize = 110;
const PER_GROUP: usize = 21;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let config = ModelConfig::synthetic(GROUPS, PER_GROUP);
    let builds: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(Model::new(Policy::V6_17, config.clone()));
            t.elapsed()
        })
        .collect();
    let mut m = Model::new(Policy::V6_17, config.clone());
    let t = Instant::now();
    let mut stats = 0;
    for g in 0..GROUPS {
        for e in 0..PER_GROUP {
            for f in ["enable", "filter", "trigger", "format", "id"] {
                m.apply(&Action::Stat {
                    path: format!("events/group{g}/event{e}/{f}"),
                });
                stats += 1;
            }
        }
    }
    let materialize = t.elapsed();
    println!(
        "full tree ({} groups x {} events): build median {:.2} ms (of 7), first stat of all {} files {:.2} ms",
        GROUPS,
        PER_GROUP,
        median(builds).as_secs_f64() * 1e3,
        stats,
        materialize.as_secs_f64() * 1e3
    );

    let target = format!("{}:0x1000", std::env::current_exe().unwrap().display());
    let mut m = Model::new(Policy::V6_17, ModelConfig::default());
    let paths: Vec<String> = ["enable", "filter", "format", "id"]
        .iter()
        .map(|f| format!("events/sched/sched_switch/{f}"))
        .collect();
    let rounds = 200_000;
    let t = Instant::now();
    let mut ops = 0u64;
    for i in 0..rounds {
        let p = &paths[i % paths.len()];
        m.apply(&Action::Stat { path: p.clone() });
        m.apply(&Action::Open {
            path: p.clone(),
            mode: OpenMode::Read,
            handle: "h".into(),
        });
        m.apply(&Action::Close { handle: "h".into() });
        ops += 3;
        if i % 100 == 0 {
            m.apply(&Action::Control {
                file: ControlFile::UprobeEvents,
                line: format!("p:bench/ev {target}"),
            });
            m.apply(&Action::Stat {
                path: "events/bench/ev/enable".into(),
            });
            m.apply(&Action::Control {
                file: ControlFile::UprobeEvents,
                line: "-:bench/ev".into(),
            });
            ops += 3;
        }
        m.take_lifetimes();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "mix (stat/open/close, a create+stat+remove every 100): {ops} operations in {:.2} s = {:.0} ops/s",
        secs,
        ops as f64 / secs
    );
}
