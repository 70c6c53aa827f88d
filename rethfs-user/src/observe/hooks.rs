//! The kernel functions the lifetime observer hooks, what each tells, where each fact comes
//! from on a given kernel, and the programs that hook it in each flavour (rethfs-ebpf's
//! `lifetime` module).
//!
//! tracefs's own functions are preferred: only tracefs reaches them, so observing costs
//! nothing elsewhere. From 6.8 every tracefs dentry carries tracefs's dentry operations, so
//! `tracefs_d_release` sees every death, and `eventfs_root_lookup` (for eventfs) and
//! `tracefs_start_creating` (for what tracefs makes itself) see the births rethfs compares.
//! The dcache's own functions, which every path walk on the machine enters, are attached
//! only where a kernel lacks those (6.1's tracefs has no dentry operations), or for facts
//! no tracefs function gives: invalidations, and with `--hooks full` reference drops.

use std::collections::HashSet;

use rethfs_common::Hook;

/// Which hooks an observer attaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HookSet {
    /// Every hook whose facts rethfs compares or judges, tracefs's own where the kernel has
    /// them.
    #[default]
    Default,
    /// Those, and the hooks that fire many times per object and are compared with nothing:
    /// reference drops (`dput`, on every path walk of the machine) and directory reads.
    Full,
}

/// Where a hooked function's facts come from, and so when it is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A tracefs or eventfs function: only tracefs reaches it. Always attached.
    Tracefs,
    /// A dcache function every filesystem enters, filtered by superblock in the kernel.
    /// Attached unless the kernel has every function of `unless`, which give the same facts
    /// from tracefs's side (empty: always attached).
    Dcache { unless: &'static [&'static str] },
    /// Attached only with `--hooks full`.
    Full,
}

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
    pub source: Source,
    /// The lifetime fact this hook gives, for reports of what an observer cannot see.
    pub sees: &'static str,
}

const fn point(
    hook: Hook,
    symbols: &'static [&'static str],
    kprobe: (Option<&'static str>, Option<&'static str>),
    fentry: (Option<&'static str>, Option<&'static str>),
    eventfs: bool,
    source: Source,
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
        source,
        sees,
    }
}

/// The tracefs functions that see the births rethfs compares: eventfs lookups, and the
/// files and directories tracefs makes (6.8+).
const OWN_BIRTHS: &[&str] = &["eventfs_root_lookup", "tracefs_start_creating"];
/// The tracefs function that sees every death: tracefs's `d_release` (6.8+).
const OWN_DEATHS: &[&str] = &["tracefs_d_release"];

/// Every lifetime hook.
pub const HOOKS: &[HookPoint] = &[
    point(
        Hook::Lookup,
        &["eventfs_root_lookup"],
        (Some("kp_lookup"), Some("kr_lookup")),
        (None, Some("fx_lookup")),
        false,
        Source::Tracefs,
        "eventfs lookups and their results, and so the births of eventfs dentries",
    ),
    point(
        Hook::StartCreating,
        &["tracefs_start_creating"],
        (None, Some("kr_start_creating")),
        (None, Some("fx_start_creating")),
        false,
        Source::Tracefs,
        "births of the files and directories tracefs makes",
    ),
    point(
        Hook::DentryRelease,
        &["tracefs_d_release"],
        (Some("kp_tracefs_release"), None),
        (Some("fe_tracefs_release"), None),
        false,
        Source::Tracefs,
        "dentry kills, and the eventfs_inode reference each drops",
    ),
    point(
        Hook::Revalidate,
        &["tracefs_d_revalidate"],
        (Some("kp_revalidate"), Some("kr_revalidate")),
        (None, Some("fx_revalidate")),
        false,
        Source::Tracefs,
        "failed revalidations (kept ones too with --hooks full)",
    ),
    point(
        Hook::EiCreate,
        &["eventfs_create_dir"],
        (Some("kp_ei_create"), Some("kr_ei_create")),
        (None, Some("fx_ei_create")),
        true,
        Source::Tracefs,
        "eventfs_inode creations",
    ),
    point(
        Hook::EventsDirCreate,
        &["eventfs_create_events_dir"],
        (Some("kp_events_dir_create"), Some("kr_events_dir_create")),
        (None, Some("fx_events_dir_create")),
        true,
        Source::Tracefs,
        "events directory creations",
    ),
    point(
        Hook::EiRemove,
        &["eventfs_remove_rec"],
        (Some("kp_ei_remove"), None),
        (Some("fe_ei_remove"), None),
        true,
        Source::Tracefs,
        "eventfs_inode frees",
    ),
    point(
        Hook::EiRelease,
        &["release_ei"],
        (Some("kp_release_ei"), None),
        (Some("fe_release_ei"), None),
        true,
        Source::Tracefs,
        "eventfs_inode releases",
    ),
    // The VFS invalidates on tracefs's revalidation verdict, and instance removal through
    // simple_recursive_removal: no tracefs function is called for it. Rare elsewhere (a
    // failed revalidation, a reaped task's /proc entries).
    point(
        Hook::DInvalidate,
        &["d_invalidate"],
        (Some("kp_d_invalidate"), None),
        (Some("fe_d_invalidate"), None),
        false,
        Source::Dcache { unless: &[] },
        "invalidations",
    ),
    point(
        Hook::DentryAlloc,
        &["d_alloc"],
        (None, Some("kr_d_alloc")),
        (None, Some("fx_d_alloc")),
        false,
        Source::Dcache { unless: OWN_BIRTHS },
        "dentry births",
    ),
    // Births on the lookup path: d_alloc_parallel may have d_alloc inlined (6.12 does).
    point(
        Hook::DentryAlloc,
        &["d_alloc_parallel"],
        (None, Some("kr_d_alloc_parallel")),
        (None, Some("fx_d_alloc_parallel")),
        false,
        Source::Dcache { unless: OWN_BIRTHS },
        "dentry births",
    ),
    point(
        Hook::DentryKill,
        &["__dentry_kill", "dentry_kill"],
        (Some("kp_dentry_kill"), None),
        (Some("fe_dentry_kill"), None),
        false,
        Source::Dcache { unless: OWN_DEATHS },
        "dentry kills",
    ),
    point(
        Hook::Dput,
        &["dput"],
        (Some("kp_dput"), None),
        (Some("fe_dput"), None),
        false,
        Source::Full,
        "reference drops with the count seen",
    ),
    point(
        Hook::Iterate,
        &["eventfs_iterate"],
        (Some("kp_iterate"), None),
        (Some("fe_iterate"), None),
        false,
        Source::Full,
        "eventfs directory reads",
    ),
];

impl HookPoint {
    /// The first of the function's names that `symbols` (/proc/kallsyms) has.
    pub fn symbol_in(&self, symbols: &HashSet<String>) -> Option<&'static str> {
        self.symbols.iter().copied().find(|s| symbols.contains(*s))
    }

    /// `found`, or every candidate name when the kernel has none of them.
    pub fn function(&self, found: Option<&str>) -> String {
        found.map_or_else(|| self.symbols.join("|"), str::to_owned)
    }

    /// Whether `set` on a kernel with `symbols` attaches this hook; if not, why not.
    pub fn wanted(&self, set: HookSet, symbols: &HashSet<String>) -> Result<(), String> {
        match self.source {
            Source::Tracefs | Source::Dcache { unless: [] } => Ok(()),
            Source::Dcache { unless } if unless.iter().all(|f| symbols.contains(*f)) => {
                let verb = if unless.len() == 1 { "gives" } else { "give" };
                Err(format!("not needed: {} {verb} this", unless.join(" and ")))
            }
            Source::Dcache { .. } => Ok(()),
            Source::Full if set == HookSet::Full => Ok(()),
            Source::Full => Err("only with --hooks full".into()),
        }
    }

    /// Where this hook's facts come from, for doctor.
    pub fn origin(&self) -> &'static str {
        match self.source {
            Source::Tracefs => "tracefs's own function",
            Source::Dcache { unless: [] } => "the dcache: no tracefs function sees this",
            Source::Dcache { .. } => "the dcache, where tracefs has no function of its own",
            Source::Full => "with --hooks full only",
        }
    }
}

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
    /// Where the fact comes from: tracefs's own function or the dcache's.
    pub origin: &'static str,
    /// Why the default observer leaves it out here, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused: Option<String>,
}

/// Resolves every hook in [`HOOKS`] against the kernel's symbols and BTF.
pub fn resolve(symbols: &HashSet<String>, btf: Option<&super::btf::Btf>) -> Vec<HookFunction> {
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
                origin: p.origin(),
                unused: p.wanted(HookSet::Default, symbols).err(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn find<'a>(found: &'a [HookFunction], function: &str) -> &'a HookFunction {
        found.iter().find(|h| h.function == function).unwrap()
    }

    #[test]
    fn each_hook_resolves_to_the_name_this_kernel_uses() {
        let kernel_7_2 = kernel(&["dentry_kill", "dput"]);
        let found = resolve(&kernel_7_2, None);
        let kill = found.iter().find(|h| h.hook == "dentry_kill").unwrap();
        assert_eq!(
            (kill.function.as_str(), kill.kallsyms, kill.btf),
            ("dentry_kill", true, false)
        );
        let lookup = find(&found, "eventfs_root_lookup");
        assert!(!lookup.kallsyms);
        let none = resolve(&HashSet::new(), None);
        let kill = none.iter().find(|h| h.hook == "dentry_kill").unwrap();
        assert_eq!(kill.function, "__dentry_kill|dentry_kill");
    }

    #[test]
    fn the_dcache_stands_in_only_where_tracefs_lacks_its_own_functions() {
        let own = [
            "eventfs_root_lookup",
            "tracefs_start_creating",
            "tracefs_d_release",
        ];
        let dcache = [
            "d_alloc",
            "d_alloc_parallel",
            "__dentry_kill",
            "d_invalidate",
            "dput",
        ];
        // 6.12: tracefs's own births and deaths; the dcache for invalidations alone.
        let k612 = kernel(&[&own[..], &dcache[..]].concat());
        let found = resolve(&k612, None);
        let unused = |f: &str| find(&found, f).unused.clone();
        for f in own.into_iter().chain(["d_invalidate"]) {
            assert_eq!(unused(f), None, "{f}");
        }
        for f in ["d_alloc", "d_alloc_parallel", "__dentry_kill"] {
            assert!(unused(f).unwrap().starts_with("not needed"), "{f}");
        }
        assert_eq!(unused("dput").as_deref(), Some("only with --hooks full"));
        // 6.1: no tracefs dentry operations, no eventfs; the dcache sees births and deaths.
        let found = resolve(&kernel(&dcache), None);
        for f in [
            "d_alloc",
            "d_alloc_parallel",
            "__dentry_kill",
            "d_invalidate",
        ] {
            assert_eq!(find(&found, f).unused, None, "{f}");
        }
        // Full adds reference drops wherever they exist.
        let dput = HOOKS.iter().find(|p| p.hook == Hook::Dput).unwrap();
        assert!(dput.wanted(HookSet::Full, &k612).is_ok());
    }
}
