//! What the guest's rethfs is given: arguments one per line, and the host files they name
//! copied in.

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};

/// Options whose value is a file rethfs writes: never an input, even when a file of that name
/// exists on the host, so that a relative one lands in the guest's /out and comes back.
/// `--ktap`, `--junit`, `--out` and `--repro` are reserved for outputs rethfs will have.
pub const OUTPUT_OPTIONS: [&str; 7] = [
    "--json",
    "--trace",
    "--timeline",
    "--ktap",
    "--junit",
    "--out",
    "--repro",
];

/// Host paths that name the kernel's own files: the guest has its own kernel's, and copying
/// the host's (its BTF, say) would hand the guest the wrong ones.
const KERNEL_OWN: [&str; 3] = ["/proc", "/sys", "/dev"];

/// A host file copied into the guest's initramfs.
#[derive(Debug, PartialEq)]
pub struct Input {
    pub host: PathBuf,
    /// Absolute in the guest: `/in/<n>/<basename>`, n counting inputs in argument order so
    /// that two files of the same name do not collide.
    pub guest: String,
}

#[derive(Debug)]
pub struct GuestArgs {
    /// The arguments, each host file replaced by its guest path.
    pub args: Vec<String>,
    pub inputs: Vec<Input>,
}

impl GuestArgs {
    /// The guest's view of `args`: every argument that names a regular file on the host
    /// (relative to `cwd`, or absolute), or the `VALUE` of `--opt=VALUE` that does, is copied
    /// in; the values of [`OUTPUT_OPTIONS`] are left as they are. An argument the guest could
    /// not read back from its one-per-line `/args` is refused.
    pub fn new(args: &[String], cwd: &Path) -> Result<Self> {
        let mut guest = GuestArgs {
            args: Vec::with_capacity(args.len()),
            inputs: Vec::new(),
        };
        let mut output_value = false;
        for arg in args {
            if let Some(c) = arg.chars().find(|&c| c == '\n' || c == '\0') {
                let what = if c == '\n' { "a newline" } else { "a NUL" };
                bail!(
                    "argument {arg:?} contains {what}: the guest reads its arguments one per line"
                );
            }
            let rewritten = if std::mem::take(&mut output_value) {
                None
            } else if let Some((opt, value)) =
                arg.split_once('=').filter(|(o, _)| o.starts_with("--"))
            {
                if OUTPUT_OPTIONS.contains(&opt) {
                    None
                } else {
                    guest.input(value, cwd).map(|g| format!("{opt}={g}"))
                }
            } else if arg.starts_with('-') {
                output_value = OUTPUT_OPTIONS.contains(&arg.as_str());
                None
            } else {
                guest.input(arg, cwd)
            };
            guest.args.push(rewritten.unwrap_or_else(|| arg.clone()));
        }
        Ok(guest)
    }

    /// `/args` in the guest: one argument per line, each ended by a newline so that the
    /// init's `read` returns the last one too.
    pub fn lines(&self) -> String {
        self.args.iter().map(|a| format!("{a}\n")).collect()
    }

    /// Adds `value` as an input when it names a regular host file, returning its guest path.
    fn input(&mut self, value: &str, cwd: &Path) -> Option<String> {
        let host = cwd.join(value).canonicalize().ok()?;
        if !host.is_file() || KERNEL_OWN.iter().any(|d| host.starts_with(d)) {
            return None;
        }
        // The name the user gave, not the name a symlink resolves to.
        let Some(Component::Normal(name)) = Path::new(value).components().next_back() else {
            return None;
        };
        let guest = format!("/in/{}/{}", self.inputs.len(), name.to_str()?);
        self.inputs.push(Input {
            host,
            guest: guest.clone(),
        });
        Some(guest)
    }
}

#[cfg(test)]
mod tests {
    use super::{GuestArgs, Input};
    use std::fs;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn host_files_are_copied_in_and_renamed_in_argument_order() {
        let cwd = tempfile::tempdir().unwrap();
        let spaced = cwd.path().join("my dir");
        fs::create_dir(&spaced).unwrap();
        fs::write(cwd.path().join("a.toml"), "").unwrap();
        fs::write(spaced.join("a.toml"), "").unwrap();
        let abs = spaced.join("a.toml").to_str().unwrap().to_owned();
        let args = strings(&["run", "--scenario", "a.toml", "--scenario", &abs, "-v"]);
        let g = GuestArgs::new(&args, cwd.path()).unwrap();
        assert_eq!(
            g.args,
            [
                "run",
                "--scenario",
                "/in/0/a.toml",
                "--scenario",
                "/in/1/a.toml",
                "-v"
            ]
        );
        let real = |p: &std::path::Path| p.canonicalize().unwrap();
        assert_eq!(
            g.inputs,
            [
                Input {
                    host: real(&cwd.path().join("a.toml")),
                    guest: "/in/0/a.toml".into()
                },
                Input {
                    host: real(&spaced.join("a.toml")),
                    guest: "/in/1/a.toml".into()
                },
            ]
        );
        assert_eq!(
            g.lines(),
            "run\n--scenario\n/in/0/a.toml\n--scenario\n/in/1/a.toml\n-v\n"
        );
    }

    #[test]
    fn a_file_with_a_space_in_its_name_stays_one_argument() {
        let cwd = tempfile::tempdir().unwrap();
        fs::write(cwd.path().join("my scenario.toml"), "").unwrap();
        let g = GuestArgs::new(
            &strings(&["run", "--scenario", "my scenario.toml"]),
            cwd.path(),
        )
        .unwrap();
        assert_eq!(g.lines(), "run\n--scenario\n/in/0/my scenario.toml\n");
    }

    #[test]
    fn the_value_of_an_equals_option_is_copied_in() {
        let cwd = tempfile::tempdir().unwrap();
        fs::write(cwd.path().join("b.toml"), "").unwrap();
        let g = GuestArgs::new(&strings(&["run", "--scenario=b.toml"]), cwd.path()).unwrap();
        assert_eq!(g.args, ["run", "--scenario=/in/0/b.toml"]);
        assert_eq!(g.inputs.len(), 1);
    }

    #[test]
    fn names_that_are_no_regular_file_are_left_alone() {
        let cwd = tempfile::tempdir().unwrap();
        fs::create_dir(cwd.path().join("catalogue")).unwrap();
        let args = strings(&["run", "--scenario", "seed", "--scenario", "catalogue"]);
        let g = GuestArgs::new(&args, cwd.path()).unwrap();
        assert_eq!(g.args, args);
        assert!(g.inputs.is_empty());
    }

    #[test]
    fn the_kernels_own_files_are_the_guests() {
        let cwd = tempfile::tempdir().unwrap();
        let args = strings(&["doctor", "--btf", "/proc/self/status"]);
        let g = GuestArgs::new(&args, cwd.path()).unwrap();
        assert_eq!(g.args, args);
    }

    #[test]
    fn output_option_values_stay_guest_paths_even_when_the_host_has_them() {
        let cwd = tempfile::tempdir().unwrap();
        for f in ["report.json", "t.json", "s.svg"] {
            fs::write(cwd.path().join(f), "").unwrap();
        }
        let args = strings(&[
            "run",
            "--json",
            "report.json",
            "--trace=t.json",
            "--timeline",
            "s.svg",
        ]);
        let g = GuestArgs::new(&args, cwd.path()).unwrap();
        assert_eq!(g.args, args);
        assert!(g.inputs.is_empty());
    }

    #[test]
    fn an_argument_with_a_newline_or_nul_is_refused_by_name() {
        let cwd = tempfile::tempdir().unwrap();
        let err = GuestArgs::new(&strings(&["run", "--scenario", "a\nb"]), cwd.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            r#"argument "a\nb" contains a newline: the guest reads its arguments one per line"#
        );
        let err = GuestArgs::new(&strings(&["a\0b"]), cwd.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("contains a NUL"), "{err}");
    }
}
