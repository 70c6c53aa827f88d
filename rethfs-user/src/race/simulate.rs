//! Histories the model makes itself, one call at a time: linearizable by construction, for
//! testing and timing the search on histories of any length and shape.

use super::history::Call;
use crate::{
    interface::{Action, Target},
    model::Model,
};

/// `wanted` calls of threads running `programs` round and round from `model`: at each tick
/// one ready thread's next call takes effect; its window opens up to 30 ticks before and
/// closes up to 30 after, never overlapping the thread's previous call. `seed` picks the
/// threads and windows.
pub fn history(model: &Model, programs: &[Vec<Action>], wanted: usize, seed: u64) -> Vec<Call> {
    let mut state = seed;
    let mut below = |n: u64| {
        state = super::linearize::mix(state);
        state % n
    };
    let mut m = model.clone();
    let mut next = vec![0usize; programs.len()];
    let mut free_at = vec![0u64; programs.len()];
    let mut calls = Vec::with_capacity(wanted);
    let mut t = 0u64;
    while calls.len() < wanted {
        t += 1;
        let ready: Vec<usize> = (0..programs.len()).filter(|&i| free_at[i] < t).collect();
        if ready.is_empty() {
            continue;
        }
        let th = ready[below(ready.len() as u64) as usize];
        let action = programs[th][next[th] % programs[th].len()].clone();
        next[th] += 1;
        let outcome = m.apply(&action);
        m.take_lifetimes();
        let call_ns = t.saturating_sub(below(30)).max(free_at[th] + 1).min(t);
        let return_ns = t + 1 + below(30);
        free_at[th] = return_ns;
        calls.push(Call {
            thread: th,
            action,
            line: 0,
            call_ns,
            return_ns: Some(return_ns),
            outcome: Some(outcome),
        });
    }
    calls.sort_by_key(|c| c.call_ns);
    calls
}
