//! The kernel functions the lifetime observer hooks, what each tells, and the programs that
//! hook it in each flavour (rethfs-ebpf's `lifetime` module).

use rethfs_common::Hook;

/// One hooked kernel function.
#[derive(Debug, Clone, Copy)]
pub struct HookPoint {
    pub hook: Hook,
    /// The function's names across kernels, first present wins (resolved by symbol, never
    /// assumed: `__dentry_kill` became `dentry_kill` in 7.2).
    pub symbols: &'static [&'static str],
    /// kprobe flavour: the program on entry and the one on return, where used.
    pub kprobe: Option<&'static str>,
    pub kretprobe: Option<&'static str>,
    /// fentry flavour: the program on entry or the one on exit (which sees the arguments too).
    pub fentry: Option<&'static str>,
    pub fexit: Option<&'static str>,
    /// Reads `struct eventfs_inode` (6.8+); on other kernels the hook is not attached.
    pub eventfs: bool,
    /// The lifetime fact this hook gives, for reports of what an observer cannot see.
    pub sees: &'static str,
}

const fn point(
    hook: Hook,
    symbols: &'static [&'static str],
    kprobe: (Option<&'static str>, Option<&'static str>),
    fentry: (Option<&'static str>, Option<&'static str>),
    eventfs: bool,
    sees: &'static str,
) -> HookPoint {
    HookPoint {
        hook,
        symbols,
        kprobe: kprobe.0,
        kretprobe: kprobe.1,
        fentry: fentry.0,
        fexit: fentry.1,
        eventfs,
        sees,
    }
}

/// Every lifetime hook. The first five are the dcache's and make a usable observer alone.
pub const HOOKS: &[HookPoint] = &[
    point(
        Hook::DentryAlloc,
        &["d_alloc"],
        (None, Some("kr_d_alloc")),
        (None, Some("fx_d_alloc")),
        false,
        "dentry births",
    ),
    // Births on the lookup path: d_alloc_parallel may have d_alloc inlined (6.12 does).
    point(
        Hook::DentryAlloc,
        &["d_alloc_parallel"],
        (None, Some("kr_d_alloc_parallel")),
        (None, Some("fx_d_alloc_parallel")),
        false,
        "dentry births",
    ),
    point(
        Hook::Dput,
        &["dput"],
        (Some("kp_dput"), None),
        (Some("fe_dput"), None),
        false,
        "reference drops with the count seen",
    ),
    point(
        Hook::DInvalidate,
        &["d_invalidate"],
        (Some("kp_d_invalidate"), None),
        (Some("fe_d_invalidate"), None),
        false,
        "invalidations",
    ),
    point(
        Hook::DentryKill,
        &["__dentry_kill", "dentry_kill"],
        (Some("kp_dentry_kill"), None),
        (Some("fe_dentry_kill"), None),
        false,
        "dentry kills",
    ),
    point(
        Hook::Lookup,
        &["eventfs_root_lookup"],
        (Some("kp_lookup"), Some("kr_lookup")),
        (None, Some("fx_lookup")),
        false,
        "eventfs lookups and their results",
    ),
    point(
        Hook::Iterate,
        &["eventfs_iterate"],
        (Some("kp_iterate"), None),
        (Some("fe_iterate"), None),
        false,
        "eventfs directory reads",
    ),
    point(
        Hook::Revalidate,
        &["tracefs_d_revalidate"],
        (Some("kp_revalidate"), Some("kr_revalidate")),
        (None, Some("fx_revalidate")),
        false,
        "revalidation verdicts",
    ),
    point(
        Hook::EiCreate,
        &["eventfs_create_dir"],
        (Some("kp_ei_create"), Some("kr_ei_create")),
        (None, Some("fx_ei_create")),
        true,
        "eventfs_inode creations",
    ),
    point(
        Hook::EventsDirCreate,
        &["eventfs_create_events_dir"],
        (Some("kp_events_dir_create"), Some("kr_events_dir_create")),
        (None, Some("fx_events_dir_create")),
        true,
        "events directory creations",
    ),
    point(
        Hook::EiRemove,
        &["eventfs_remove_rec"],
        (Some("kp_ei_remove"), None),
        (Some("fe_ei_remove"), None),
        true,
        "eventfs_inode frees",
    ),
    point(
        Hook::EiDentryRelease,
        &["eventfs_d_release"],
        (Some("kp_d_release"), None),
        (Some("fe_d_release"), None),
        true,
        "dentries putting their eventfs_inode",
    ),
    point(
        Hook::EiRelease,
        &["release_ei"],
        (Some("kp_release_ei"), None),
        (Some("fe_release_ei"), None),
        true,
        "eventfs_inode releases",
    ),
];

impl HookPoint {
    /// The first of the function's names that `symbols` (/proc/kallsyms) has.
    pub fn symbol_in(&self, symbols: &std::collections::HashSet<String>) -> Option<&'static str> {
        self.symbols.iter().copied().find(|s| symbols.contains(*s))
    }

    /// `found`, or every candidate name when the kernel has none of them.
    pub fn function(&self, found: Option<&str>) -> String {
        found.map_or_else(|| self.symbols.join("|"), str::to_owned)
    }
}

/// How many of [`HOOKS`], from the start, an observer needs to be worth running.
pub const CORE_HOOKS: usize = 5;

/// Where a hook's function stands on this kernel, before anything is attached.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookFunction {
    pub hook: &'static str,
    /// The first candidate the kernel has, or every candidate when it has none.
    pub function: String,
    /// In /proc/kallsyms: a kprobe can attach.
    pub kallsyms: bool,
    /// Has BTF of its own: fentry/fexit can attach.
    pub btf: bool,
    pub sees: &'static str,
}

/// Resolves every hook in [`HOOKS`] against the kernel's symbols and BTF.
pub fn resolve(
    symbols: &std::collections::HashSet<String>,
    btf: Option<&super::btf::Btf>,
) -> Vec<HookFunction> {
    HOOKS
        .iter()
        .map(|p| {
            let found = p.symbol_in(symbols);
            HookFunction {
                hook: p.hook.name(),
                function: p.function(found),
                kallsyms: found.is_some(),
                btf: found.is_some_and(|s| btf.is_some_and(|b| b.func_params(s).is_some())),
                sees: p.sees,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_hook_resolves_to_the_name_this_kernel_uses() {
        let kernel_7_2: HashSet<String> = ["dentry_kill", "dput"].map(String::from).into();
        let found = resolve(&kernel_7_2, None);
        let kill = found.iter().find(|h| h.hook == "dentry_kill").unwrap();
        assert_eq!(
            (kill.function.as_str(), kill.kallsyms, kill.btf),
            ("dentry_kill", true, false)
        );
        let lookup = found
            .iter()
            .find(|h| h.hook == "eventfs_root_lookup")
            .unwrap();
        assert_eq!(
            (lookup.function.as_str(), lookup.kallsyms),
            ("eventfs_root_lookup", false)
        );
        let none = resolve(&HashSet::new(), None);
        let kill = none.iter().find(|h| h.hook == "dentry_kill").unwrap();
        assert_eq!(kill.function, "__dentry_kill|dentry_kill");
    }
}
