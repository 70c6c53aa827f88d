//! Shrinking a case to a smallest one that still shows its finding: drop chunks of steps,
//! halving the chunk size down to single steps (Zeller's ddmin, greedily), then make each
//! remaining step's arguments plainer. Every candidate is judged by `shows`, which runs it from
//! a clean state under fresh names and says whether the same signature came back.

use crate::interface::Action;

/// A shrunk case and how many candidates were run to find it.
pub struct Shrunk {
    pub steps: Vec<Action>,
    pub runs: usize,
}

/// Plainer versions of one step, plainest first: defaults for sizes, the first byte of data.
fn plainer(a: &Action) -> Vec<Action> {
    match a {
        Action::Getdents { handle, buffer } if *buffer != 32768 => vec![Action::Getdents {
            handle: handle.clone(),
            buffer: 32768,
        }],
        Action::Read { handle, len } if *len != 4096 => vec![Action::Read {
            handle: handle.clone(),
            len: 4096,
        }],
        Action::Seek { handle, pos } if *pos != 0 => vec![Action::Seek {
            handle: handle.clone(),
            pos: 0,
        }],
        Action::Chown { path, uid, gid } if uid.is_some() && gid.is_some() => vec![
            Action::Chown {
                path: path.clone(),
                uid: *uid,
                gid: None,
            },
            Action::Chown {
                path: path.clone(),
                uid: None,
                gid: *gid,
            },
        ],
        _ => Vec::new(),
    }
}

pub fn shrink(steps: Vec<Action>, shows: &mut dyn FnMut(&[Action]) -> bool) -> Shrunk {
    let mut steps = steps;
    let mut runs = 0;
    let mut chunk = (steps.len() / 2).max(1);
    loop {
        let mut progressed = false;
        let mut at = 0;
        while at < steps.len() && steps.len() > 1 {
            let end = (at + chunk).min(steps.len());
            let candidate: Vec<Action> = steps[..at].iter().chain(&steps[end..]).cloned().collect();
            runs += 1;
            if shows(&candidate) {
                steps = candidate;
                progressed = true;
            } else {
                at += chunk;
            }
        }
        if !progressed {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    for i in 0..steps.len() {
        for p in plainer(&steps[i]) {
            let mut candidate = steps.clone();
            candidate[i] = p;
            runs += 1;
            if shows(&candidate) {
                steps = candidate;
                break;
            }
        }
    }
    Shrunk { steps, runs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(p: &str) -> Action {
        Action::Stat { path: p.into() }
    }

    /// The finding needs `b` and then `d`: everything else goes, in few runs.
    #[test]
    fn only_what_the_finding_needs_is_kept() {
        let steps: Vec<Action> = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .into_iter()
            .map(stat)
            .collect();
        let mut shows = |c: &[Action]| {
            let b = c.iter().position(|a| *a == stat("b"));
            let d = c.iter().position(|a| *a == stat("d"));
            matches!((b, d), (Some(b), Some(d)) if b < d)
        };
        let s = shrink(steps, &mut shows);
        assert_eq!(s.steps, vec![stat("b"), stat("d")]);
        assert!(s.runs < 40, "{} runs", s.runs);
    }

    #[test]
    fn arguments_are_made_plainer_where_the_finding_allows() {
        let steps = vec![
            Action::Getdents {
                handle: "h".into(),
                buffer: 24,
            },
            Action::Seek {
                handle: "h".into(),
                pos: 5,
            },
        ];
        // The finding needs a seek to 5, and any getdents before it.
        let mut shows = |c: &[Action]| c.len() == 2 && matches!(c[1], Action::Seek { pos: 5, .. });
        let s = shrink(steps, &mut shows);
        assert_eq!(
            s.steps[0],
            Action::Getdents {
                handle: "h".into(),
                buffer: 32768
            }
        );
        assert_eq!(
            s.steps[1],
            Action::Seek {
                handle: "h".into(),
                pos: 5
            }
        );
    }
}
