//! Kernel symbol addresses from /proc/kallsyms (real addresses need root).

use std::{
    fs::File,
    io::{BufRead, BufReader},
};

/// Address of the kernel symbol `name`, or `None` if absent or hidden (kptr_restrict).
pub fn address_of(name: &str) -> Option<u64> {
    let file = File::open("/proc/kallsyms").ok()?;
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (addr, _kind, sym) = (fields.next()?, fields.next()?, fields.next()?);
            let addr = u64::from_str_radix(addr, 16).ok()?;
            (sym == name && addr != 0).then_some(addr)
        })
}
