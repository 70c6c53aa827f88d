//! A getdents64 call held partway through its copy to user space: the buffer's tail sits on a
//! page registered with userfaultfd(2), so the kernel's first store there waits in the fault
//! handler until this process fills the page. Whatever the kernel holds across that copy (for
//! eventfs_iterate, SRCU and a pointer to the child being emitted) stays held for the pause.
//!
//! Kernel-mode faults need a userfaultfd opened without `UFFD_USER_MODE_ONLY`, which takes
//! `CAP_SYS_PTRACE` or `vm.unprivileged_userfaultfd=1`; rethfs runs as root.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use crate::interface::Stall;

// <linux/userfaultfd.h>: the ioctls and the one event this handler serves.
const UFFD_API: u64 = 0xAA;
// `libc::Ioctl` is c_ulong on glibc and c_int on musl (the guest's build): the kernel reads
// the 32-bit command either way.
const UFFDIO_API: libc::Ioctl = 0xC018_AA3F_u32 as libc::Ioctl;
const UFFDIO_REGISTER: libc::Ioctl = 0xC020_AA00_u32 as libc::Ioctl;
const UFFDIO_ZEROPAGE: libc::Ioctl = 0xC020_AA04_u32 as libc::Ioctl;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
/// `struct uffd_msg`: `u8 event` at 0, the faulting address at 16, 32 bytes in all.
const MSG_LEN: usize = 32;

#[repr(C)]
struct Range {
    start: u64,
    len: u64,
}

#[repr(C)]
struct ApiArg {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct RegisterArg {
    range: Range,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct ZeropageArg {
    range: Range,
    mode: u64,
    zeropage: i64,
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

/// A userfaultfd that serves kernel-mode faults, set up for the API this module speaks.
fn userfaultfd() -> Result<OwnedFd, String> {
    // SAFETY: the syscall takes flags only and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if fd < 0 {
        return Err(os_error("userfaultfd(2)"));
    }
    // SAFETY: a fresh fd this process owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut api = ApiArg {
        api: UFFD_API,
        features: 0,
        ioctls: 0,
    };
    ioctl(&fd, UFFDIO_API, &mut api).map_err(|e| format!("UFFDIO_API: {e}"))?;
    Ok(fd)
}

fn ioctl<T>(fd: &OwnedFd, request: libc::Ioctl, arg: &mut T) -> io::Result<()> {
    // SAFETY: `arg` is the `#[repr(C)]` struct the request takes, alive for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, std::ptr::from_mut(arg)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this kernel and process can hold a getdents64 copy, or why not (checked once).
pub fn available() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(|| userfaultfd().map(drop)).clone()
}

/// An anonymous mapping, unmapped when dropped.
struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Result<Mapping, String> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(os_error("mmap"));
        }
        Ok(Mapping {
            base: base.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping this value made, no longer borrowed.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// Runs `call` with a buffer of `buffer` bytes whose first kernel store at byte `stall.at`
/// or beyond waits `stall.ms`: what `call` returns, and whether a store reached that byte
/// (a listing shorter than `at` is never held). The buffer and the fault handler are made
/// before `call` runs, so that the call (an open, then getdents64) follows at once: under
/// emulation a setup between them outlasts a short-lived event.
pub fn held<T>(
    buffer: usize,
    stall: Stall,
    call: impl FnOnce(&mut [u8]) -> T,
) -> Result<(T, bool), String> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let at = stall.at.min(buffer);
    // The buffer starts `at` bytes before a page boundary: the pages before it are present,
    // the rest is registered and missing.
    let lead = at.div_ceil(page) * page;
    let held_len = (buffer - at).div_ceil(page).max(1) * page;
    let map = Mapping::new(lead + held_len)?;
    // SAFETY: the lead pages are inside the mapping; writing populates them.
    unsafe { map.base.write_bytes(0, lead) };
    let uffd = userfaultfd()?;
    let start = map.base as u64 + lead as u64;
    let mut register = RegisterArg {
        range: Range {
            start,
            len: held_len as u64,
        },
        mode: UFFDIO_REGISTER_MODE_MISSING,
        ioctls: 0,
    };
    ioctl(&uffd, UFFDIO_REGISTER, &mut register).map_err(|e| format!("UFFDIO_REGISTER: {e}"))?;
    let done = AtomicBool::new(false);
    let (out, faulted) = thread::scope(|s| {
        let handler = s.spawn(|| serve(&uffd, &done, start, held_len, stall.ms));
        // Ends the handler however the call ends: the scope waits for it even on a panic.
        let end = Finished(&done);
        // SAFETY: `buffer` bytes from `lead - at` lie inside the mapping, which outlives
        // the call; the handler fills the held pages.
        let bytes = unsafe { std::slice::from_raw_parts_mut(map.base.add(lead - at), buffer) };
        let out = call(bytes);
        drop(end);
        (
            out,
            handler.join().expect("the fault handler does not panic"),
        )
    });
    Ok((out, faulted?))
}

/// Sets its flag when dropped.
struct Finished<'a>(&'a AtomicBool);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Waits for the kernel's fault on the held range, sleeps `ms`, then maps the whole range
/// at once so that the call pauses once; ends when the call has returned.
fn serve(
    uffd: &OwnedFd,
    done: &AtomicBool,
    start: u64,
    len: usize,
    ms: u64,
) -> Result<bool, String> {
    let mut faulted = false;
    while !done.load(Ordering::Acquire) {
        let mut pfd = libc::pollfd {
            fd: uffd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, alive for the call.
        if unsafe { libc::poll(&mut pfd, 1, 5) } <= 0 {
            continue;
        }
        let mut msg = [0u8; MSG_LEN];
        // SAFETY: reading at most MSG_LEN bytes into the array.
        let n = unsafe { libc::read(uffd.as_raw_fd(), msg.as_mut_ptr().cast(), MSG_LEN) };
        if n != MSG_LEN as isize || msg[0] != UFFD_EVENT_PAGEFAULT || faulted {
            continue;
        }
        faulted = true;
        thread::sleep(Duration::from_millis(ms));
        let mut zero = ZeropageArg {
            range: Range {
                start,
                len: len as u64,
            },
            mode: 0,
            zeropage: 0,
        };
        ioctl(uffd, UFFDIO_ZEROPAGE, &mut zero).map_err(|e| format!("UFFDIO_ZEROPAGE: {e}"))?;
    }
    Ok(faulted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::getdents::getdents64_into;

    /// Held at byte 0 a listing of `/` faults and waits, held at the buffer's end it does
    /// not, and both list what an unheld call lists.
    #[test]
    fn a_held_call_waits_and_answers_as_an_unheld_one() {
        if let Err(why) = available() {
            eprintln!("skipped: userfaultfd unavailable here: {why}");
            return;
        }
        let names = |d: Vec<crate::interface::Dirent>| -> Vec<String> {
            d.into_iter().map(|d| d.name).collect()
        };
        let list = |b: &mut [u8]| {
            let dir = std::fs::File::open("/").expect("/");
            names(getdents64_into(&dir, b).expect("getdents64 of /"))
        };
        let plain = list(&mut vec![0; 32768]);
        let t = std::time::Instant::now();
        let (at_start, faulted) = held(32768, Stall { at: 0, ms: 50 }, list).expect("held");
        assert!(faulted && t.elapsed() >= Duration::from_millis(50));
        assert_eq!(at_start, plain);
        let (at_end, faulted) = held(32768, Stall { at: 32768, ms: 50 }, list).expect("held");
        assert!(!faulted);
        assert_eq!(at_end, plain);
    }
}
