//! rethfs's eBPF programs, compiled into one object that rethfs-user embeds.
//!
//! Every program is read-only towards the kernel: it reads kernel memory with
//! `bpf_probe_read_kernel*` and writes only to its own maps. Struct offsets come from user space
//! (BTF resolved at start-up) through the [`maps::OFFSETS`] global.
#![no_std]
#![no_main]

mod kernel;
mod lifetime;
mod maps;
mod probes;
mod syscalls;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible: `bpf_probe_read_kernel` and the ring buffer helpers are GPL-only.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
