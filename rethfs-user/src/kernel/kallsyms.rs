//! The kernel's symbols from /proc/kallsyms (real addresses need root).

use std::{
    collections::HashSet,
    fs::File,
    io::{BufRead, BufReader},
};

/// Every name in /proc/kallsyms, for resolving which of a hook's candidate functions exists.
pub fn names() -> HashSet<String> {
    std::fs::read_to_string("/proc/kallsyms")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

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
