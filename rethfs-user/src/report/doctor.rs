//! The kernel profile as a table a person reads top to bottom.

use std::fmt::Write;

use crate::profile::KernelProfile;

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub fn table(p: &KernelProfile) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "kernel     {} ({})", p.release, p.machine);
    let _ = writeln!(s, "config     {}", p.config.source);
    for (option, value) in &p.config.options {
        let _ = writeln!(s, "  {option:<42} {value}");
    }
    match (&p.tracefs.path, &p.tracefs.error) {
        (_, Some(e)) => {
            let _ = writeln!(s, "tracefs    UNAVAILABLE: {e}");
        }
        (Some(path), None) => {
            let mounted = if p.tracefs.mounted_by_rethfs {
                " (was not mounted: rethfs mounted it)"
            } else {
                ""
            };
            let _ = writeln!(s, "tracefs    {}{mounted}", path.display());
            for (file, present) in &p.tracefs.control_files {
                let _ = writeln!(
                    s,
                    "  {file:<42} {}",
                    if *present { "present" } else { "absent" }
                );
            }
        }
        (None, None) => {}
    }
    let _ = writeln!(s, "lockdown   {}", p.lockdown);
    match &p.btf.error {
        None => {
            let _ = writeln!(
                s,
                "btf        {} ({} types)",
                p.btf.path.display(),
                p.btf.types.unwrap_or(0)
            );
        }
        Some(e) => {
            let _ = writeln!(s, "btf        MISSING: {e}");
        }
    }
    let _ = writeln!(
        s,
        "backends   (a trivial program loaded and attached for each)"
    );
    for b in &p.backends {
        let _ = writeln!(
            s,
            "  {:<16} {:<4} {}",
            b.name,
            yes_no(b.available),
            b.reason
        );
    }
    let _ = writeln!(
        s,
        "lifetime   (the lifetime observer's functions: kprobe needs kallsyms, fentry BTF; \
         each fact from tracefs's own function where this kernel has one)"
    );
    for h in &p.hooks {
        let _ = writeln!(
            s,
            "  {:<26} kallsyms {:<3} btf {:<3} {}",
            h.function,
            yes_no(h.kallsyms),
            yes_no(h.btf),
            h.sees
        );
        let _ = match &h.unused {
            Some(why) => writeln!(s, "  {:<26} unused: {why}", ""),
            None => writeln!(s, "  {:<26} from {}", "", h.origin),
        };
    }
    match p.observer.name {
        Some(name) => {
            let _ = writeln!(s, "observer   {name}: {}", p.observer.reason);
        }
        None => {
            let _ = writeln!(s, "observer   NONE: {}", p.observer.reason);
        }
    }
    s
}
