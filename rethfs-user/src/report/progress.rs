//! Progress of long work on stderr: a live line on a terminal, a plain line every ten seconds
//! (or when told) otherwise, so that a log keeps the story without a line per step.

use std::{
    cell::Cell,
    io::IsTerminal,
    time::{Duration, Instant},
};

pub struct Progress {
    /// `rethfs explore: `, before each plain line.
    label: &'static str,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    printed: Cell<Option<Instant>>,
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            label,
            bar,
            started: Instant::now(),
            printed: Cell::new(None),
        }
    }

    /// Shows `line`; without a terminal, only when `now` or ten seconds after the last.
    pub fn show(&self, line: &str, now: bool) {
        let due = || {
            self.printed
                .get()
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        };
        match &self.bar {
            Some(b) => b.set_message(line.to_owned()),
            None if now || due() => {
                self.printed.set(Some(Instant::now()));
                eprintln!("{}: {line}", self.label);
            }
            None => {}
        }
    }

    /// Seconds since the work began.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
