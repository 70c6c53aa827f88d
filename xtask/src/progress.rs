//! Progress of long work (a guest booting and running, the matrix's kernels): each phase on a
//! line of its own, and within a phase the latest thing the guest said, live on a terminal,
//! as plain lines (when it changes) otherwise.

use std::{cell::RefCell, io::IsTerminal, time::Duration};

pub struct Progress {
    label: String,
    bar: Option<indicatif::ProgressBar>,
    last: RefCell<String>,
}

impl Progress {
    pub fn new(label: String) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            label,
            bar,
            last: RefCell::default(),
        }
    }

    /// A new phase: always its own line.
    pub fn phase(&self, what: &str) {
        match &self.bar {
            Some(b) => b.println(format!("xtask: {}: {what}", self.label)),
            None => eprintln!("xtask: {}: {what}", self.label),
        }
    }

    /// Where the phase stands; shown when it changed.
    pub fn within(&self, what: &str) {
        if *self.last.borrow() == what {
            return;
        }
        *self.last.borrow_mut() = what.to_owned();
        match &self.bar {
            Some(b) => b.set_message(format!("{}: {what}", self.label)),
            None => eprintln!("xtask: {}: {what}", self.label),
        }
    }

    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
