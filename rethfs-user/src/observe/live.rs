//! A session read continuously by a tokio task on its own thread, for callers that are not
//! async: the scenario runner asks for a [`Batch`] after each step.
//!
//! The barrier is exact for everything a step's own syscalls do: the kernel submits a record
//! before the hooked function returns, so once the step's syscall has returned, a drain the
//! reader starts afterwards sees its records.

use std::{path::Path, thread::JoinHandle};

use anyhow::Context as _;
use aya::maps::{MapData, RingBuf};
use rethfs_common::Hook;
use tokio::sync::{mpsc, oneshot};

use super::{
    HookSet, HookStatus, Observer, Record, Session,
    session::{DRAIN_EVERY, Summary, count, decode, lost, readable},
};
use crate::error::{Error, Result};

/// The reader thread's nice value (root may lower it).
const READER_NICE: libc::c_int = -10;

/// What the reader has gathered since the last batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records, oldest first (empty when the reader only counts).
    pub records: Vec<Record>,
    /// Records read since the session started.
    pub seen: u64,
    /// Records lost in the kernel since the session started (ring buffer full, missed entry,
    /// runs skipped).
    pub lost: u64,
    /// Of `lost`, program runs the kernel skipped.
    pub skipped: u64,
    /// Records per hook since the session started, when only counting.
    pub by_hook: Vec<(&'static str, u64)>,
}

/// A running observer and its reader task.
pub struct Live {
    requests: mpsc::UnboundedSender<oneshot::Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
    pub observer: Observer,
    pub hooks: Vec<HookStatus>,
}

impl Live {
    /// Attaches `observer` and starts its reader. With `keep`, records are kept for the next
    /// [`Live::batch`]; without, only counted (for measuring the observer's cost).
    pub fn start(observer: Observer, set: HookSet, btf_path: &Path, keep: bool) -> Result<Self> {
        let (requests, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<Batch>>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Vec<HookStatus>>>();
        let btf_path = btf_path.to_owned();
        let thread = std::thread::Builder::new()
            .name("rethfs-observer".into())
            .spawn(move || {
                // Ahead of the threads it watches: under a race every vCPU is busy, and a
                // reader that waits its turn lets the ring fill. Linux's nice is per thread.
                // SAFETY: setpriority only reads its arguments.
                if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, READER_NICE) } != 0 {
                    log::warn!(
                        "the observer's reader keeps the default priority: {}",
                        std::io::Error::last_os_error()
                    );
                }
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Failed(e.into())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let session = match Session::start(observer, set, &btf_path, false) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(session.hooks.clone()));
                    if let Err(e) = serve(session, &mut rx, keep).await {
                        log::error!("observer reader stopped: {e}");
                    }
                });
            })
            .context("starting the observer thread")?;
        let hooks = ready_rx
            .recv()
            .map_err(|_| Error::Failed(anyhow::anyhow!("the observer thread died starting")))??;
        Ok(Live {
            requests,
            thread: Some(thread),
            observer,
            hooks,
        })
    }

    /// Everything recorded up to now that was not in an earlier batch.
    pub fn batch(&self) -> Batch {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(tx).is_err() {
            return Batch::default();
        }
        rx.blocking_recv().unwrap_or_default()
    }

    /// Detaches the programs; returns what was not yet taken.
    pub fn stop(mut self) -> Batch {
        let last = self.batch();
        self.finish();
        last
    }

    fn finish(&mut self) {
        // Closing the request channel ends the reader, which drops (detaches) the programs.
        let (closed, _) = mpsc::unbounded_channel();
        self.requests = closed;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Ring items as they came, decoded only when a batch is asked for: between two steps, or
/// through a whole race, the reader must keep up with the programs on a busy vCPU, and a copy
/// is what it has time for.
#[derive(Default)]
struct Raw {
    bytes: Vec<u8>,
    /// Where each item ends in `bytes`.
    ends: Vec<usize>,
}

impl Raw {
    fn copy(&mut self, ring: &mut RingBuf<MapData>, summary: &mut Summary) {
        while let Some(item) = ring.next() {
            summary.records += 1;
            self.bytes.extend_from_slice(&item);
            self.ends.push(self.bytes.len());
        }
    }

    fn take(&mut self, t0_ns: u64, summary: &mut Summary) -> Vec<Record> {
        let mut start = 0;
        let records = self
            .ends
            .iter()
            .filter_map(|&end| {
                let item = &self.bytes[start..end];
                start = end;
                decode(item, t0_ns, summary)
            })
            .collect();
        self.bytes.clear();
        self.ends.clear();
        records
    }
}

/// The reader: drains the ring whenever it is readable and whenever a batch is asked for.
async fn serve(
    session: Session,
    requests: &mut mpsc::UnboundedReceiver<oneshot::Sender<Batch>>,
    keep: bool,
) -> Result<()> {
    let (ebpf, ring, t0_ns) = session.into_parts();
    let mut ring = readable(ring).context("polling the ring buffer")?;
    let mut summary = Summary::default();
    let mut raw = Raw::default();
    let take = |ring: &mut RingBuf<MapData>, summary: &mut Summary, raw: &mut Raw| {
        if keep {
            raw.copy(ring, summary);
        } else {
            count(ring, summary);
        }
    };
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                take(guard.get_inner_mut(), &mut summary, &mut raw);
                guard.clear_ready();
            }
            _ = tick.tick() => take(ring.get_mut(), &mut summary, &mut raw),
            request = requests.recv() => {
                let Some(reply) = request else { return Ok(()) };
                take(ring.get_mut(), &mut summary, &mut raw);
                let records = raw.take(t0_ns, &mut summary);
                let (missed, skipped) = lost(&ebpf)?;
                let _ = reply.send(Batch {
                    records,
                    seen: summary.records,
                    lost: missed + skipped + summary.malformed,
                    skipped,
                    by_hook: summary
                        .by_hook
                        .iter()
                        .map(|(h, n)| (Hook::from_u32(*h).map_or("unknown", Hook::name), *n))
                        .collect(),
                });
            }
        }
    }
}
