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
    session::{DRAIN_EVERY, Summary, count, drain, lost, readable},
};
use crate::error::{Error, Result};

/// What the reader has gathered since the last batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records, oldest first (empty when the reader only counts).
    pub records: Vec<Record>,
    /// Records read since the session started.
    pub seen: u64,
    /// Records lost in the kernel since the session started (ring buffer full, missed entry).
    pub lost: u64,
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

/// The reader: drains the ring whenever it is readable and whenever a batch is asked for.
async fn serve(
    session: Session,
    requests: &mut mpsc::UnboundedReceiver<oneshot::Sender<Batch>>,
    keep: bool,
) -> Result<()> {
    let (ebpf, ring, t0_ns) = session.into_parts();
    let mut ring = readable(ring).context("polling the ring buffer")?;
    let mut summary = Summary::default();
    let mut records = Vec::new();
    let take = |ring: &mut RingBuf<MapData>, summary: &mut Summary, records: &mut Vec<Record>| {
        if keep {
            drain(ring, t0_ns, summary, &mut |r| {
                records.push(r);
                true
            });
        } else {
            count(ring, summary);
        }
    };
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    loop {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                take(guard.get_inner_mut(), &mut summary, &mut records);
                guard.clear_ready();
            }
            _ = tick.tick() => take(ring.get_mut(), &mut summary, &mut records),
            request = requests.recv() => {
                let Some(reply) = request else { return Ok(()) };
                take(ring.get_mut(), &mut summary, &mut records);
                let _ = reply.send(Batch {
                    records: std::mem::take(&mut records),
                    seen: summary.records,
                    lost: lost(&ebpf)? + summary.malformed,
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
