//! A finding written as a scenario file: `rethfs run --scenario FILE` reproduces it, and its
//! header says where it came from and what it shows.

use super::Found;

/// Where and how a finding was made, for its header.
pub struct Origin<'a> {
    pub seed: Option<u64>,
    pub kernel: &'a str,
    pub policy: &'a str,
    /// rethfs's own uprobe place, written back as `{uprobe}`.
    pub uprobe: &'a str,
    /// The command that shows a finding again, `FILE` standing for the file.
    pub reproduce: &'a str,
}

/// `text` cut to a line's worth for headers and tables (a whole listing of events/ is a
/// hundred entries); the JSON keeps it whole.
pub fn brief(text: &str) -> String {
    const MAX: usize = 160;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} ... ({} bytes in all)", &text[..cut], text.len()),
        None => text.to_owned(),
    }
}

/// The file name of the `n`-th finding.
pub fn file_name(n: usize, f: &Found) -> String {
    format!("{n:02}-{}.toml", f.signature.slug())
}

/// The scenario file of `f`.
pub fn scenario_file(f: &Found, origin: &Origin) -> String {
    let seed = origin
        .seed
        .map_or("exhaustive".to_owned(), |s| format!("seed {s}"));
    let rate = |r: super::Reproduced| format!("{} of {}", r.shown, r.tries);
    let header = [
        format!(
            "# Found by rethfs explore ({seed}, case {}) on {}, model policy {}.",
            f.first_case, origin.kernel, origin.policy
        ),
        format!("# Finding: {}: {}", f.signature, brief(&f.detail)),
        format!("#   host:  {}", brief(&f.host)),
        format!("#   model: {}", brief(&f.model)),
        format!(
            "# Shrunk from {} to {} steps in {} runs; it came back in {} re-runs of its first case \
             and {} of this one{}.",
            f.steps_before,
            f.steps_after,
            f.shrink_runs,
            rate(f.reproduced),
            rate(f.reproduced_shrunk),
            if f.flaky { " (flaky)" } else { "" }
        ),
        format!("# Reproduce: {}", origin.reproduce),
    ];
    let mut s = f.scenario.clone();
    s.name = format!("found-{}", f.signature.slug());
    s.description = format!("{}: {}", f.signature, brief(&f.detail));
    let body = s.to_toml(&[(origin.uprobe, "{uprobe}"), (&f.own, "{prefix}")]);
    format!("{}\n\n{body}", header.join("\n"))
}
