//! Debian kernels for the test VMs, fetched with apt's own client through a private sources
//! file that reuses the archive URIs this system is configured with, and cached.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

use crate::process;

/// A kernel ready to boot: its image, its config, and its release string.
pub struct Kernel {
    pub vmlinuz: PathBuf,
    pub config: PathBuf,
    pub release: String,
}

/// The suite that carries a kernel series (`6.12`), or one of its point releases
/// (`6.12.107`, for bisecting between what the archive still holds), and the package name
/// pattern of its image.
fn suite_of(kernel: &str) -> Result<(&'static str, String)> {
    let mut parts = kernel.splitn(3, '.');
    let series = format!(
        "{}.{}",
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default()
    );
    let point = parts.next();
    if point.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        bail!("kernel `{kernel}`: a series (6.12) or a point release (6.12.107)");
    }
    let (suite, package) = match series.as_str() {
        "6.1" => ("bookworm", "linux-image"),
        "6.12" => ("trixie", "linux-image"),
        "7.3" => ("trixie-backports", "linux-binary"),
        s if s.starts_with("7.") => ("sid", "linux-binary"),
        _ => {
            bail!("kernel series `{kernel}`: not one rethfs knows how to fetch (6.1, 6.12, 7.x)")
        }
    };
    let stem = format!("{package}-{series}").replace('.', "\\.");
    let pattern = match point {
        Some(p) => format!("^{stem}\\.{p}[^0-9].*-cloud-amd64$"),
        None => format!("^{stem}\\..*-cloud-amd64$"),
    };
    Ok((suite, pattern))
}

/// The Debian archive URI: `RETHFS_DEBIAN_ARCHIVE` where set (CI runners whose apt knows no
/// Debian archive), else the one this system's apt uses (deb822 `URIs:` or one-line `deb`).
pub fn archive_uri() -> Result<String> {
    if let Ok(uri) = std::env::var("RETHFS_DEBIAN_ARCHIVE")
        && !uri.is_empty()
    {
        return Ok(uri);
    }
    let mut texts = vec![fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "sources" || x == "list") {
                texts.push(fs::read_to_string(p).unwrap_or_default());
            }
        }
    }
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("URIs:")
                .map(|u| u.split_whitespace().next().unwrap_or_default().to_owned())
                .or_else(|| {
                    l.strip_prefix("deb ")
                        .and_then(|r| r.split_whitespace().find(|w| w.contains("://")))
                        .map(str::to_owned)
                })
        })
        .find(|u| u.ends_with("/debian") || u.ends_with("/debian/"))
        .context(
            "no Debian archive URI in /etc/apt/sources.list(.d); rethfs fetches kernels through it",
        )
}

fn apt(dir: &Path, tool: &str) -> Command {
    let mut c = Command::new(tool);
    c.arg("-o").arg(format!(
        "Dir::Etc::SourceList={}",
        dir.join("sources.list").display()
    ));
    c.args(["-o", "Dir::Etc::SourceParts=/dev/null"]);
    c.arg("-o")
        .arg(format!("Dir::State::Lists={}", dir.join("lists").display()));
    c.arg("-o").arg(format!(
        "Dir::Cache::archives={}",
        dir.join("archives").display()
    ));
    c.args(["-o", "APT::Get::List-Cleanup=0", "-qq"]);
    c
}

/// Fetches (or finds in `cache`) the newest cloud kernel of `series` and unpacks it.
pub fn fetch(series: &str, cache: &Path) -> Result<Kernel> {
    let (suite, pattern) = suite_of(series)?;
    let dir = cache.join("apt").join(suite);
    for d in ["lists/partial", "archives/partial", "debs"] {
        fs::create_dir_all(dir.join(d))?;
    }
    let uri = archive_uri()?;
    fs::write(
        dir.join("sources.list"),
        format!("deb {uri} {suite} main\n"),
    )?;
    let listed = fs::read_dir(dir.join("lists"))?
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"));
    if !listed {
        process::run(apt(&dir, "apt-get").arg("update"))?;
    }
    let out = apt(&dir, "apt-cache")
        .args(["search", "--names-only", &pattern])
        .output()
        .context("apt-cache")?;
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(" - ").next().map(str::to_owned))
        .filter(|n| !n.ends_with("-dbg") && !n.contains("unsigned"))
        .collect();
    names.sort_by_key(|n| version_key(n));
    let Some(pkg) = names.pop() else {
        bail!("kernel series {series}: no package matches {pattern} in {suite}");
    };
    let debs = dir.join("debs");
    let mut wanted = vec![pkg.clone()];
    if pkg.starts_with("linux-binary-") {
        // 7.x keeps the config in linux-base-<kver>.
        wanted.push(pkg.replacen("linux-binary-", "linux-base-", 1));
    }
    let root = cache.join("kernels").join(&pkg);
    if !root.exists() {
        for w in &wanted {
            if !fs::read_dir(&debs)?.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{w}_"))
            }) {
                process::run(
                    apt(&dir, "apt-get")
                        .current_dir(&debs)
                        .args(["download", w]),
                )?;
            }
        }
        fs::create_dir_all(&root)?;
        for e in fs::read_dir(&debs)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if wanted.iter().any(|w| name.starts_with(&format!("{w}_"))) {
                process::run(Command::new("dpkg").arg("-x").arg(e.path()).arg(&root))?;
            }
        }
    }
    // 6.x: boot/vmlinuz-<kver> and boot/config-<kver>; 7.x: usr/lib/modules/<kver>/{vmlinuz,config}.
    let find = |wanted: &dyn Fn(&str) -> bool| -> Option<PathBuf> {
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).ok()?.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if wanted(&e.file_name().to_string_lossy()) {
                    return Some(p);
                }
            }
        }
        None
    };
    let vmlinuz = find(&|n| n == "vmlinuz" || n.starts_with("vmlinuz-"))
        .with_context(|| format!("{pkg}: no vmlinuz inside"))?;
    let config = find(&|n| n == "config" || n.starts_with("config-"))
        .with_context(|| format!("{pkg}: no kernel config inside"))?;
    let release = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .map(str::to_owned)
        .or_else(|| vmlinuz.parent()?.file_name()?.to_str().map(str::to_owned))
        .context("kernel release from the image name")?;
    Ok(Kernel {
        vmlinuz,
        config,
        release,
    })
}

/// Orders `linux-image-6.12.107+deb13-...` by its numeric parts.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::suite_of;

    #[test]
    fn a_series_or_a_point_release_names_its_suite_and_packages() {
        let of = |k| suite_of(k).map_err(|e| e.to_string());
        assert_eq!(
            of("6.12"),
            Ok(("trixie", r"^linux-image-6\.12\..*-cloud-amd64$".into()))
        );
        assert_eq!(
            of("6.12.107"),
            Ok((
                "trixie",
                r"^linux-image-6\.12\.107[^0-9].*-cloud-amd64$".into()
            ))
        );
        assert_eq!(
            of("7.3"),
            Ok((
                "trixie-backports",
                r"^linux-binary-7\.3\..*-cloud-amd64$".into()
            ))
        );
        assert!(of("6.12.x").is_err() && of("5.10").is_err());
    }
}
