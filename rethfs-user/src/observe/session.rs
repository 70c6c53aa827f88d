//! An observation session: programs loaded and attached, records read from the ring buffer by
//! a tokio task until the caller's stop future completes.

use std::{
    future::Future,
    mem::size_of,
    os::fd::{AsFd, AsRawFd},
    path::Path,
};

use anyhow::Context as _;
use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray, RingBuf},
};
use rethfs_common::Head;
use tokio::io::{Interest, unix::AsyncFd};

use super::{
    HookSet, HookStatus, Observer, Record,
    btf::Btf,
    ebpf::{self, Globals},
    observer::AttachEnv,
    offsets,
};
use crate::error::{Error, Result};

/// How often readers drain the ring: the programs wake them only when it fills up (a wakeup
/// per record would cost more than the record).
pub(super) const DRAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// What a session saw.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub records: u64,
    /// Records per hook value, where counted without decoding.
    pub by_hook: std::collections::BTreeMap<u32, u64>,
    /// Records lost: those the kernel side could not reserve room for or skipped, summed
    /// over CPUs, and the [`Self::malformed`] ones.
    pub lost: u64,
    /// Ring-buffer items that decoded to no record (see [`super::record::Malformed`]).
    pub malformed: u64,
    /// Of [`Self::lost`], program runs the kernel skipped (see [`lost`]).
    pub skipped: u64,
}

/// Loaded and attached programs, ready to be read.
pub struct Session {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    t0_ns: u64,
    /// The lifetime hooks and whether each attached (empty for the syscall observer).
    pub hooks: Vec<HookStatus>,
}

fn monotonic_ns() -> u64 {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

impl Session {
    /// Resolves offsets from the BTF at `btf_path`, loads the object and attaches `observer`
    /// with the hooks of `set`.
    /// `ignore_self` keeps this process's own syscalls out of the syscall observer. Must run
    /// inside a tokio runtime: the eBPF log reader is spawned on it.
    pub fn start(
        observer: Observer,
        set: HookSet,
        btf_path: &Path,
        ignore_self: bool,
    ) -> Result<Self> {
        let btf = Btf::from_file(btf_path)
            .map_err(|e| Error::Environment(format!("BTF missing: {e}")))?;
        let offsets = offsets::resolve(&btf).map_err(|e| {
            Error::Environment(format!("kernel BTF lacks a field the observer reads: {e}"))
        })?;
        let revalidate_arg = btf
            .func_params("tracefs_d_revalidate")
            .and_then(|p| p.iter().position(|n| *n == "dentry"))
            .filter(|&i| i == 0 || i == 2);
        let aya_btf = aya::Btf::parse_file(btf_path, aya::Endianness::default())
            .map_err(|e| Error::Environment(format!("BTF missing: {}: {e}", btf_path.display())))?;
        let globals = Globals {
            offsets,
            ignore_tgid: if ignore_self { std::process::id() } else { 0 },
            revalidate_dentry_arg: revalidate_arg.unwrap_or(0) as u32,
            revalidate_all: u32::from(set == HookSet::Full),
        };
        let mut ebpf = ebpf::load(Some(&aya_btf), &globals)?;
        spawn_log_reader(&mut ebpf);
        let env = AttachEnv {
            btf: &aya_btf,
            symbols: &crate::kernel::kallsyms::names(),
            eventfs: offsets.ei_name != rethfs_common::Offsets::MISSING,
            revalidate_arg_known: revalidate_arg.is_some(),
            set,
        };
        let hooks = observer.attach(&mut ebpf, &env).map_err(|e| {
            Error::Environment(format!("observer {} cannot attach: {e}", observer.name()))
        })?;
        let ring = RingBuf::try_from(ebpf.take_map("EVENTS").context("EVENTS map missing")?)
            .context("EVENTS is not a ring buffer")?;
        Ok(Session {
            ebpf,
            ring,
            t0_ns: monotonic_ns(),
            hooks,
        })
    }

    /// Hands every record to `on_record` until `stop` completes or `on_record` returns false,
    /// then drains what is already queued and counts the records lost in the kernel.
    pub async fn run(
        self,
        stop: impl Future<Output = ()>,
        mut on_record: impl FnMut(Record) -> bool,
    ) -> Result<Summary> {
        let Session {
            ebpf, ring, t0_ns, ..
        } = self;
        let mut ring = readable(ring).context("polling the ring buffer")?;
        let mut summary = Summary::default();
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(DRAIN_EVERY);
        let mut open = true;
        while open {
            tokio::select! {
                () = &mut stop => break,
                guard = ring.readable_mut() => {
                    let mut guard = guard.context("waiting on the ring buffer")?;
                    open = drain(guard.get_inner_mut(), t0_ns, &mut summary, &mut on_record);
                    guard.clear_ready();
                }
                _ = tick.tick() => {
                    open = drain(ring.get_mut(), t0_ns, &mut summary, &mut on_record);
                }
            }
        }
        if open {
            drain(ring.get_mut(), t0_ns, &mut summary, &mut on_record);
        }
        let (missed, skipped) = lost(&ebpf)?;
        (summary.lost, summary.skipped) = (missed + skipped + summary.malformed, skipped);
        Ok(summary)
    }

    /// Splits the session into what a long-lived reader task needs.
    pub(super) fn into_parts(self) -> (Ebpf, RingBuf<MapData>, u64) {
        (self.ebpf, self.ring, self.t0_ns)
    }
}

/// Counts the queued records by hook without decoding them (for measuring the observer's
/// cost).
pub(super) fn count(ring: &mut RingBuf<MapData>, summary: &mut Summary) {
    // Both record sizes start with the head.
    let at = std::mem::offset_of!(Head, hook);
    while let Some(item) = ring.next() {
        summary.records += 1;
        if let Some(b) = item.get(at..at + 4) {
            let hook = u32::from_ne_bytes(b.try_into().expect("4 bytes"));
            *summary.by_hook.entry(hook).or_default() += 1;
        }
    }
}

/// Hands every queued record to `on_record`; false when `on_record` asked to stop.
pub(super) fn drain(
    ring: &mut RingBuf<MapData>,
    t0_ns: u64,
    summary: &mut Summary,
    on_record: &mut impl FnMut(Record) -> bool,
) -> bool {
    while let Some(item) = ring.next() {
        summary.records += 1;
        let Some(record) = decode(&item, t0_ns, summary) else {
            continue;
        };
        if !on_record(record) {
            return false;
        }
    }
    true
}

/// One ring item as a record; one that is no record is counted as lost, and said so.
pub(super) fn decode(item: &[u8], t0_ns: u64, summary: &mut Summary) -> Option<Record> {
    Record::from_bytes(item, t0_ns)
        .inspect_err(|e| {
            summary.malformed += 1;
            log::warn!("{e}: counted as lost");
        })
        .ok()
}

/// Registers a map-backed reader with tokio for readability.
pub(super) fn readable<T: AsRawFd>(inner: T) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: ring buffers and the logger own their map fd until dropped, and the AsyncFd owns
    // them, so the fd stays open and the same for the AsyncFd's whole life.
    unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// Records lost: those that found no room in the ring or whose kretprobe's argument went
/// missing (the per-CPU `LOST` counters), and separately the program runs the kernel skipped
/// before a program could record anything (a program already running on that CPU: with
/// fentry, one preempted mid-run by a task that enters the same function).
pub(super) fn lost(ebpf: &Ebpf) -> Result<(u64, u64)> {
    let map = ebpf.map("LOST").context("LOST map missing")?;
    let per_cpu: PerCpuArray<_, u64> =
        PerCpuArray::try_from(map).context("LOST is not a per-CPU array")?;
    let values = per_cpu.get(&0, 0).context("reading LOST")?;
    let skipped: u64 = ebpf
        .programs()
        .filter_map(|(_, p)| p.fd().ok())
        .map(|fd| recursion_misses(fd.as_fd()))
        .sum();
    Ok((values.iter().sum::<u64>(), skipped))
}

/// Offset of `recursion_misses` in `struct bpf_prog_info` (include/uapi/linux/bpf.h), after
/// `run_cnt`; `name[16]` sits at 64.
const RECURSION_MISSES_AT: usize = 208;

/// `bpf_prog_info.recursion_misses` of a program: runs the kernel skipped because a BPF
/// program was already running on that CPU (5.12+; older kernels leave it zero).
fn recursion_misses(fd: std::os::fd::BorrowedFd) -> u64 {
    prog_info(fd).map_or(0, |info| {
        let at = RECURSION_MISSES_AT;
        u64::from_ne_bytes(info[at..at + 8].try_into().expect("8 bytes"))
    })
}

/// The head of a program's `struct bpf_prog_info`, up to `recursion_misses`.
fn prog_info(fd: std::os::fd::BorrowedFd) -> Option<[u8; RECURSION_MISSES_AT + 8]> {
    /// `BPF_OBJ_GET_INFO_BY_FD`.
    const GET_INFO: libc::c_long = 15;
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let mut info = [0u8; RECURSION_MISSES_AT + 8];
    let attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: info.len() as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: the kernel writes at most `info_len` bytes into `info`, which outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            GET_INFO,
            &attr as *const InfoAttr,
            size_of::<InfoAttr>(),
        )
    };
    (r == 0).then_some(info)
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

#[cfg(test)]
mod tests {
    use aya::programs::TracePoint;

    use super::*;

    /// The layout the loss count relies on: a loaded program's info names it at byte 64, and
    /// a program that never ran has no skipped runs.
    #[test]
    #[ignore = "host test: needs root to load a program"]
    fn program_info_is_read_where_the_uapi_puts_it() {
        let mut ebpf = ebpf::load(None, &Globals::default()).unwrap();
        let p: &mut TracePoint = ebpf
            .program_mut("probe_tracepoint")
            .unwrap()
            .try_into()
            .unwrap();
        p.load().unwrap();
        let fd = p.fd().unwrap().as_fd();
        let info = prog_info(fd).unwrap();
        assert_eq!(&info[64..79], b"probe_tracepoin");
        assert_eq!(recursion_misses(fd), 0);
    }
}
