//! The host's tracefs seen through the lifetime observer: a step's lifetimes are what the
//! kernel recorded while the step ran, reconstructed into objects keyed by path and generation.

use super::HostTracefs;
use crate::{
    interface::{Action, Lifetime, Outcome, Target},
    observe::{Live, Reconstructor},
};

/// [`HostTracefs`] with the kernel's own account of each step.
pub struct Observed<'a> {
    pub host: HostTracefs,
    live: &'a Live,
    reconstructor: &'a mut Reconstructor,
    lost_at_start: u64,
    lost: u64,
}

impl<'a> Observed<'a> {
    /// Starts observing `host`; what the observer recorded before now is not this scenario's.
    pub fn new(host: HostTracefs, live: &'a Live, reconstructor: &'a mut Reconstructor) -> Self {
        let mut o = Observed {
            host,
            live,
            reconstructor,
            lost_at_start: 0,
            lost: 0,
        };
        o.take_lifetimes();
        o.lost_at_start = o.lost;
        o
    }

    /// Records the kernel lost since this target was made.
    pub fn lost(&self) -> u64 {
        self.lost - self.lost_at_start
    }
}

impl Target for Observed<'_> {
    fn describe(&self) -> String {
        format!(
            "{} observed with {}",
            self.host.describe(),
            self.live.observer.name()
        )
    }

    fn apply(&mut self, action: &Action) -> Outcome {
        self.host.apply(action)
    }

    /// Everything the kernel recorded since the last call; the step's syscalls have returned,
    /// so their records are in the ring (see [`Live`]).
    fn take_lifetimes(&mut self) -> Vec<Lifetime> {
        let batch = self.live.batch();
        self.lost = batch.lost;
        // Every record feeds the reconstruction, which must follow each pointer.
        batch
            .records
            .iter()
            .flat_map(|r| self.reconstructor.feed(r))
            .collect()
    }

    fn take_notes(&mut self) -> Vec<String> {
        self.host.take_notes()
    }
}
