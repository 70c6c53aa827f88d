//! An observation session: programs loaded and attached, records read from the ring buffer by
//! a tokio task until the caller's stop future completes.

use std::{future::Future, mem::size_of, os::fd::AsRawFd, path::Path};

use anyhow::Context as _;
use aya::{
    Ebpf,
    maps::{PerCpuArray, RingBuf},
};
use rethfs_common::DentryEvent;
use tokio::io::{Interest, unix::AsyncFd};

use super::{
    Observer, Record,
    btf::Btf,
    ebpf::{self, Globals},
    offsets, syscalls,
};
use crate::error::{Error, Result};

/// What a session saw.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Summary {
    pub records: u64,
    /// Records the kernel side could not reserve room for, summed over CPUs.
    pub lost: u64,
}

/// Loaded and attached programs, ready to be read.
pub struct Session {
    ebpf: Ebpf,
    ring: RingBuf<aya::maps::MapData>,
    t0_ns: u64,
}

fn monotonic_ns() -> u64 {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

impl Session {
    /// Resolves offsets from the BTF at `btf_path`, loads the object and attaches `observer`.
    /// Must run inside a tokio runtime: the eBPF log reader is spawned on it.
    pub fn start(observer: Observer, btf_path: &Path) -> Result<Self> {
        let btf = Btf::from_file(btf_path)
            .map_err(|e| Error::Environment(format!("BTF missing: {e}")))?;
        let offsets = offsets::resolve(&btf).map_err(|e| {
            Error::Environment(format!("kernel BTF lacks a field the observer reads: {e}"))
        })?;
        let aya_btf = aya::Btf::parse_file(btf_path, aya::Endianness::default())
            .map_err(|e| Error::Environment(format!("BTF missing: {}: {e}", btf_path.display())))?;
        let globals = Globals {
            offsets,
            ignore_tgid: std::process::id(),
        };
        let mut ebpf = ebpf::load(Some(&aya_btf), &globals)?;
        spawn_log_reader(&mut ebpf);
        match observer {
            Observer::SyscallTracepoints => syscalls::attach(&mut ebpf).map_err(|e| {
                Error::Environment(format!("no backend loadable: {}: {e}", observer.name()))
            })?,
        }
        let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("EVENTS map missing")?)
            .context("EVENTS is not a ring buffer")?;
        Ok(Session {
            ebpf,
            ring,
            t0_ns: monotonic_ns(),
        })
    }

    /// Hands every record to `on_record` until `stop` completes or `on_record` returns false,
    /// then drains what is already queued and counts the records lost in the kernel.
    pub async fn run(
        self,
        stop: impl Future<Output = ()>,
        mut on_record: impl FnMut(Record) -> bool,
    ) -> Result<Summary> {
        let Session { ebpf, ring, t0_ns } = self;
        let mut ring = readable(ring).context("polling the ring buffer")?;
        let mut summary = Summary::default();
        let mut deliver = |ring: &mut RingBuf<_>, summary: &mut Summary| -> bool {
            while let Some(item) = ring.next() {
                if item.len() < size_of::<DentryEvent>() {
                    log::warn!("short ring buffer record: {} bytes", item.len());
                    continue;
                }
                // SAFETY: the kernel side writes whole DentryEvents; read_unaligned copes with
                // the ring's 8-byte alignment.
                let ev = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<DentryEvent>()) };
                summary.records += 1;
                if !on_record(Record::decode(&ev, t0_ns)) {
                    return false;
                }
            }
            true
        };
        tokio::pin!(stop);
        let mut open = true;
        while open {
            tokio::select! {
                () = &mut stop => break,
                guard = ring.readable_mut() => {
                    let mut guard = guard.context("waiting on the ring buffer")?;
                    open = deliver(guard.get_inner_mut(), &mut summary);
                    guard.clear_ready();
                }
            }
        }
        if open {
            deliver(ring.get_mut(), &mut summary);
        }
        summary.lost = lost(&ebpf)?;
        Ok(summary)
    }
}

/// Registers a map-backed reader with tokio for readability.
fn readable<T: AsRawFd>(inner: T) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: ring buffers and the logger own their map fd until dropped, and the AsyncFd owns
    // them, so the fd stays open and the same for the AsyncFd's whole life.
    unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// Sums the per-CPU `LOST` counters.
fn lost(ebpf: &Ebpf) -> Result<u64> {
    let map = ebpf.map("LOST").context("LOST map missing")?;
    let per_cpu: PerCpuArray<_, u64> =
        PerCpuArray::try_from(map).context("LOST is not a per-CPU array")?;
    let values = per_cpu.get(&0, 0).context("reading LOST")?;
    Ok(values.iter().sum())
}

/// Forwards aya-log records from the programs to this process's `log` output.
fn spawn_log_reader(ebpf: &mut Ebpf) {
    let logger = match aya_log::EbpfLogger::init(ebpf) {
        Ok(l) => l,
        Err(e) => {
            log::warn!("eBPF diagnostics unavailable: {e}");
            return;
        }
    };
    let Ok(mut fd) = readable(logger) else {
        log::warn!("eBPF diagnostics unavailable: cannot poll the log buffer");
        return;
    };
    tokio::spawn(async move {
        while let Ok(mut guard) = fd.readable_mut().await {
            guard.get_inner_mut().flush();
            guard.clear_ready();
        }
    });
}
