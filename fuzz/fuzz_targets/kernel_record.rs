//! Any bytes as ring-buffer records: cut into items of either record size (a byte of the input
//! picks each; the last one may be short), each decoded, followed by pointer (resolving
//! leaf-only paths) and turned into lifetimes, under either kill rule, and printed as
//! `rethfs observe` prints them, table and JSON. A record the decoder refuses must be
//! refused, never trusted; nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rethfs::{
    observe::{HookStatus, Reconstructor, Record},
    report::records::Printer,
};
use rethfs_common::{Hook, KernelEvent, LeafEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&flavour, items)) = data.split_first() else {
        return;
    };
    // 7.x's `dentry_kill` kills only at count zero; `__dentry_kill` always.
    let kill = HookStatus {
        hook: Hook::DentryKill,
        function: if flavour & 1 == 0 { "__dentry_kill" } else { "dentry_kill" }.into(),
        attached: true,
        detail: String::new(),
        left_out: false,
        sees: "",
    };
    let mut lifetimes = Reconstructor::for_hooks(&[kill]);
    let mut table = Printer::new(Vec::new(), false);
    let mut json = Printer::new(Vec::new(), true);
    let mut rest = items;
    while let Some((&size, tail)) = rest.split_first() {
        let len = if size & 1 == 0 {
            std::mem::size_of::<LeafEvent>()
        } else {
            std::mem::size_of::<KernelEvent>()
        };
        let (item, next) = tail.split_at(len.min(tail.len()));
        rest = next;
        let Ok(mut r) = Record::from_bytes(item, u64::from(flavour) << 32) else {
            continue;
        };
        lifetimes.resolve(&mut r);
        std::hint::black_box(lifetimes.feed(&r));
        table.print(&r);
        json.print(&r);
    }
});
