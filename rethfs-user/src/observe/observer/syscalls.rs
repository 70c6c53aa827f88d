//! Attaching the syscall-tracepoint observer (rethfs-ebpf's `syscalls` module).

use aya::{Ebpf, programs::TracePoint};

use crate::error::chain;

/// Each program and the `syscalls/` tracepoint it attaches to share a name.
const TRACEPOINTS: [&str; 6] = [
    "sys_exit_openat",
    "sys_enter_getdents64",
    "sys_enter_read",
    "sys_enter_write",
    "sys_enter_close",
    "sys_enter_fchdir",
];

/// Loads and attaches every program; the links live as long as `ebpf`.
pub fn attach(ebpf: &mut Ebpf) -> Result<(), String> {
    for name in TRACEPOINTS {
        let program = ebpf
            .program_mut(name)
            .ok_or_else(|| format!("program {name} missing from the object"))?;
        let tp: &mut TracePoint = program.try_into().map_err(|e| chain(&e))?;
        tp.load()
            .map_err(|e| format!("{name}: load failed: {}", chain(&e)))?;
        tp.attach("syscalls", name)
            .map_err(|e| format!("syscalls/{name}: attach failed: {}", chain(&e)))?;
    }
    Ok(())
}
