//! Runs a scenario's threads on the host, truly concurrently, and records the history.
//!
//! Each thread drives a target of its own (its own handles) and logs a call before making it
//! and its result after, so a thread the kernel kills inside a call leaves that call pending.
//! Threads are watched, never joined: an oops ends the task without unwinding, and a join
//! would wait forever. A thread that makes no progress for [`GRACE`] is given up on, counted
//! as killed (its task is gone) or hung (it is still there, inside the kernel).

use std::{
    sync::{
        Arc, Barrier, Mutex,
        atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::history::{Call, History, now_ns};
use crate::{
    host::HostTracefs,
    interface::Target,
    scenario::{Bound, Thread},
};

/// How long a thread may sit in one call before it is given up on. Well above one call's
/// cost under emulation (a kprobe registration under TCG takes under a second).
pub const GRACE: Duration = Duration::from_secs(20);

/// A thread that did not finish.
#[derive(Debug, Clone)]
pub struct Stuck {
    pub thread: String,
    /// `killed`: its task is gone; `hung`: it is still inside the kernel.
    pub how: &'static str,
}

/// What the threads did.
pub struct Ran {
    pub history: History,
    pub stuck: Vec<Stuck>,
    /// The targets of the threads that finished, for their remounts to be put back.
    pub targets: Vec<HostTracefs>,
}

/// What one thread shares with the watcher.
struct Shared {
    calls: Mutex<Vec<Call>>,
    progress: AtomicU64,
    finished: AtomicBool,
    tid: AtomicI32,
    target: Mutex<Option<HostTracefs>>,
}

fn drive(
    index: usize,
    thread: &Thread,
    mut target: HostTracefs,
    shared: &Shared,
    others_done: &AtomicBool,
    stop: &AtomicBool,
) {
    let scoped: Vec<_> = thread
        .steps
        .iter()
        .map(|s| (thread.scope_action(&s.action), s))
        .collect();
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        let more = match thread.bound {
            Bound::Times(n) => rounds < n,
            Bound::For(d) => started.elapsed() < d,
            Bound::WhileOthersRun => !others_done.load(Ordering::Relaxed),
        };
        if !more || stop.load(Ordering::Relaxed) {
            break;
        }
        for (action, step) in &scoped {
            let at = {
                let mut calls = shared.calls.lock().expect("not poisoned");
                calls.push(Call {
                    thread: index,
                    action: action.clone(),
                    line: step.line,
                    call_ns: now_ns(),
                    return_ns: None,
                    outcome: None,
                });
                calls.len() - 1
            };
            let outcome = target.apply(&step.action);
            let returned = now_ns();
            let mut calls = shared.calls.lock().expect("not poisoned");
            calls[at].return_ns = Some(returned);
            calls[at].outcome = Some(outcome);
            shared.progress.fetch_add(1, Ordering::Relaxed);
        }
        rounds += 1;
    }
    target.close_all();
    *shared.target.lock().expect("not poisoned") = Some(target);
    shared.finished.store(true, Ordering::Release);
}

/// Runs `threads`, the i-th on `targets[i]`, until each is done by its bound (or `stop`
/// says so), and returns what they did.
pub fn run(threads: &[Thread], targets: Vec<HostTracefs>, stop: fn() -> bool) -> Ran {
    let shared: Vec<Arc<Shared>> = threads
        .iter()
        .map(|_| {
            Arc::new(Shared {
                calls: Mutex::new(Vec::new()),
                progress: AtomicU64::new(0),
                finished: AtomicBool::new(false),
                tid: AtomicI32::new(0),
                target: Mutex::new(None),
            })
        })
        .collect();
    let others_done = Arc::new(AtomicBool::new(false));
    let stopping = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads.len() + 1));
    for (i, (thread, target)) in threads.iter().cloned().zip(targets).enumerate() {
        let (shared, others_done, stopping, start) = (
            shared[i].clone(),
            others_done.clone(),
            stopping.clone(),
            start.clone(),
        );
        std::thread::Builder::new()
            .name(format!("race-{}", thread.name))
            .spawn(move || {
                shared
                    .tid
                    .store(nix::unistd::gettid().as_raw(), Ordering::Relaxed);
                start.wait();
                drive(i, &thread, target, &shared, &others_done, &stopping);
            })
            .expect("a thread for the scenario");
    }
    start.wait();
    let mut last: Vec<(u64, Instant)> = vec![(0, Instant::now()); threads.len()];
    let mut stuck: Vec<Option<&'static str>> = vec![None; threads.len()];
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if stop() {
            stopping.store(true, Ordering::Relaxed);
        }
        let mut settled = true;
        for (i, s) in shared.iter().enumerate() {
            if s.finished.load(Ordering::Acquire) || stuck[i].is_some() {
                continue;
            }
            settled = false;
            let p = s.progress.load(Ordering::Relaxed);
            if p != last[i].0 {
                last[i] = (p, Instant::now());
            } else if last[i].1.elapsed() > GRACE {
                let tid = s.tid.load(Ordering::Relaxed);
                let alive = std::path::Path::new(&format!("/proc/self/task/{tid}")).exists();
                stuck[i] = Some(if alive { "hung" } else { "killed" });
            }
        }
        let bounded_done = threads.iter().enumerate().all(|(i, t)| {
            t.bound == Bound::WhileOthersRun
                || shared[i].finished.load(Ordering::Acquire)
                || stuck[i].is_some()
        });
        if bounded_done {
            others_done.store(true, Ordering::Relaxed);
        }
        if settled {
            break;
        }
    }
    let mut calls = Vec::new();
    let mut targets = Vec::new();
    for s in &shared {
        calls.extend(s.calls.lock().expect("not poisoned").iter().cloned());
        targets.extend(s.target.lock().expect("not poisoned").take());
    }
    Ran {
        history: History::new(threads.iter().map(|t| t.name.clone()).collect(), calls),
        stuck: threads
            .iter()
            .zip(&stuck)
            .filter_map(|(t, s)| {
                s.map(|how| Stuck {
                    thread: t.name.clone(),
                    how,
                })
            })
            .collect(),
        targets,
    }
}
