//! Running commands: echoed before they run, failures named with the command.

use std::{
    fs::File,
    io,
    os::unix::process::ExitStatusExt as _,
    path::Path,
    process::{Child, Command, ExitStatus, Output, Stdio},
};

use anyhow::{Context as _, Result, anyhow, bail};

/// The Debian package of each tool xtask runs that a minimal system may lack, for the message
/// when one is not found.
const PACKAGES: [(&str, &str); 4] = [
    ("cpio", "cpio"),
    ("find", "findutils"),
    ("gzip", "gzip"),
    ("tar", "tar"),
];

/// Runs `cmd` with inherited stdio; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let code = status(cmd)?;
    if code != 0 {
        bail!("`{}` exited with {code}", render(cmd));
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio and returns its exit code (1 when killed by a signal).
pub fn status(cmd: &mut Command) -> Result<u8> {
    eprintln!("xtask: $ {}", render(cmd));
    let status = cmd.status().map_err(|e| start_error(cmd, &e))?;
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

/// Runs `cmds` as the shell pipeline `cmds[0] | cmds[1] | ... > out`, waits for every one of
/// them, and fails naming the first that could not start, exited non-zero or was killed by a
/// signal. The first command reads the stdin its caller set up; the others inherit stderr.
pub fn pipeline(cmds: Vec<Command>, out: &Path) -> Result<()> {
    let names: Vec<String> = cmds.iter().map(render).collect();
    eprintln!("xtask: $ {} > {}", names.join(" | "), out.display());
    let mut out_file =
        Some(File::create(out).with_context(|| format!("creating {}", out.display()))?);
    let last = cmds.len().saturating_sub(1);
    let mut children: Vec<Child> = Vec::with_capacity(cmds.len());
    // Each Command is dropped right after its spawn, so this process holds no pipe end: when a
    // reader exits early, its writer gets SIGPIPE instead of blocking on a full pipe forever.
    for (i, mut cmd) in cmds.into_iter().enumerate() {
        if let Some(prev) = children.last_mut() {
            cmd.stdin(Stdio::from(prev.stdout.take().expect("piped")));
        }
        cmd.stdout(if i == last {
            Stdio::from(out_file.take().expect("one last command"))
        } else {
            Stdio::piped()
        });
        match cmd.spawn() {
            Ok(child) => children.push(child),
            Err(e) => {
                let error = start_error(&cmd, &e);
                for mut c in children {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return Err(error);
            }
        }
    }
    let mut statuses = Vec::with_capacity(children.len());
    for (mut child, name) in children.into_iter().zip(&names) {
        statuses.push(
            child
                .wait()
                .with_context(|| format!("waiting for `{name}`"))?,
        );
    }
    first_failure(&statuses, &names).map_or(Ok(()), |e| Err(anyhow!(e)))
}

/// The first failed command of a pipeline, in order. A writer killed by SIGPIPE failed only
/// because its reader stopped reading: that reader is the one to name, and when it exited 0
/// (like `head`) the pipeline did what it was asked.
fn first_failure(statuses: &[ExitStatus], names: &[String]) -> Option<String> {
    statuses
        .iter()
        .zip(names)
        .find(|(s, _)| !s.success() && s.signal() != Some(libc::SIGPIPE))
        .map(|(s, name)| match (s.code(), s.signal()) {
            (Some(code), _) => format!("`{name}` exited with {code}"),
            (None, Some(sig)) => format!("`{name}` was killed by signal {sig}"),
            (None, None) => format!("`{name}` failed ({s})"),
        })
}

/// Why `cmd` did not start: a missing program is named with the Debian package that has it.
fn start_error(cmd: &Command, e: &io::Error) -> anyhow::Error {
    let program = cmd.get_program().to_string_lossy();
    if e.kind() != io::ErrorKind::NotFound {
        return anyhow!("starting `{}`: {e}", render(cmd));
    }
    match PACKAGES.iter().find(|(tool, _)| *tool == program) {
        Some((_, package)) => {
            anyhow!("`{program}` not found: install the Debian package {package}")
        }
        None => anyhow!("`{program}` not found"),
    }
}

/// Runs `cmd` quietly and returns its output, or None when it cannot start.
pub fn output(cmd: &mut Command) -> Option<Output> {
    cmd.output().ok()
}

/// The command as a shell line, for messages.
pub fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::pipeline;
    use std::process::Command;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn a_good_pipeline_writes_the_last_commands_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        pipeline(
            vec![
                sh("printf 'b\\na\\n'"),
                Command::new("sort"),
                sh("tr a-z A-Z"),
            ],
            &out,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "A\nB\n");
    }

    #[test]
    fn a_failing_middle_command_is_named_though_the_last_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let err = pipeline(
            vec![
                sh("echo data"),
                sh("cat >/dev/null; exit 3"),
                Command::new("cat"),
            ],
            &dir.path().join("out"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "`sh -c cat >/dev/null; exit 3` exited with 3");
    }

    #[test]
    fn a_reader_that_quits_is_named_not_its_writer_killed_by_sigpipe() {
        let dir = tempfile::tempdir().unwrap();
        let err = pipeline(
            vec![
                Command::new("yes"),
                sh("head -c 1 >/dev/null; exit 4"),
                Command::new("cat"),
            ],
            &dir.path().join("out"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "`sh -c head -c 1 >/dev/null; exit 4` exited with 4");
    }

    #[test]
    fn a_command_killed_by_a_signal_is_named_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = pipeline(
            vec![sh("kill -9 $$"), Command::new("cat")],
            &dir.path().join("out"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "`sh -c kill -9 $$` was killed by signal 9");
    }

    #[test]
    fn a_missing_command_is_named_with_its_package_when_known() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        // `yes` never ends by itself: the pipeline must stop it when a later command is missing.
        let err = pipeline(
            vec![
                Command::new("yes"),
                Command::new("rethfs-no-such-tool"),
                Command::new("cat"),
            ],
            &out,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "`rethfs-no-such-tool` not found");
        let mut cpio = Command::new("cpio");
        cpio.env("PATH", dir.path());
        let err = pipeline(vec![cpio], &out).unwrap_err().to_string();
        assert_eq!(err, "`cpio` not found: install the Debian package cpio");
    }
}
