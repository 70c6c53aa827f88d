//! A finding as a POSIX shell script in ftracetest's `.tc` style, written only where shell can
//! make every step's system calls as rethfs makes them and tell the right answer from the
//! kernel's: it runs under dash and busybox sh.

use std::collections::HashMap;

use super::{Check, Expect, Plan, Ran, Step, one_line};
use crate::interface::{
    Action, FileKind, OpenMode,
    path::{self, Base},
};

/// The descriptors handles get: POSIX shells redirect 0 to 9, and 0 to 2 are taken.
const FDS: std::ops::RangeInclusive<u8> = 3..=9;

/// The longest data a `printf` is trusted to write in one write(2) (dash and busybox buffer
/// their output and flush it at the end of the command).
const ONE_WRITE: usize = 512;

/// `s` as one shell word: single-quoted, with `{prefix}` and `{uprobe}` as `"$P"` and `"$U"`.
pub(super) fn word(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let next = ["{prefix}", "{uprobe}"]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, *p)))
            .min();
        let (lit, var) = match next {
            Some((i, p)) => (&rest[..i], Some(p)),
            None => (rest, None),
        };
        if !lit.is_empty() {
            out.push('\'');
            out.push_str(&lit.replace('\'', r"'\''"));
            out.push('\'');
        }
        match var {
            Some(p) => {
                out.push_str(if p == "{prefix}" { "\"$P\"" } else { "\"$U\"" });
                rest = &rest[lit.len() + p.len()..];
            }
            None => break,
        }
    }
    if out.is_empty() { "''".into() } else { out }
}

/// A scenario path as a word: below `$T` (the tracefs root) unless it starts at `.`.
fn path_word(p: &str) -> String {
    match path::base(p) {
        Base::Root => format!("\"$T\"/{}", word(p)),
        Base::Cwd => word(p),
    }
}

/// How shell sees an answer: success or failure (no errno), and what a POSIX tool prints of
/// a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Fails,
    Succeeds,
    /// `ls -ldn`'s mode, links, uid and gid.
    Ls(String),
    Text(String),
    /// Sorted, as `ls` gives them.
    Names(Vec<String>),
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seen::Fails => f.write_str("a failure"),
            Seen::Succeeds => f.write_str("success"),
            Seen::Ls(t) => f.write_str(t),
            Seen::Text(t) => write!(f, "{t:?}"),
            Seen::Names(n) => write!(f, "[{}]", n.join(" ")),
        }
    }
}

/// `ls -l`'s mode string.
fn mode_string(kind: FileKind, perm: u32) -> Option<String> {
    let kind = match kind {
        FileKind::Dir => 'd',
        FileKind::File => '-',
        FileKind::Other => return None,
    };
    let bit = |b: u32, c: char| if perm & b != 0 { c } else { '-' };
    // The set-id and sticky bits show in the execute slots.
    let x = |exec: u32, special: u32, on: char, off: char| match (
        perm & exec != 0,
        perm & special != 0,
    ) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    Some(format!(
        "{kind}{}{}{}{}{}{}{}{}{}",
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        x(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        x(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        x(0o001, 0o1000, 't', 'T'),
    ))
}

/// `e`, an answer to `action`, as shell sees it; `None` where no tool shows it.
fn seen(action: &Action, e: &Expect) -> Option<Seen> {
    Some(match (action, e) {
        (_, Expect::Err(_)) => Seen::Fails,
        (
            Action::Stat { .. },
            Expect::Stat {
                kind,
                perm,
                nlink,
                uid,
                gid,
            },
        ) => Seen::Ls(format!(
            "{} {nlink} {uid} {gid}",
            mode_string(*kind, *perm)?
        )),
        (Action::ReadFile { .. } | Action::Read { .. }, Expect::Data(t)) => Seen::Text(t.clone()),
        (Action::List { .. }, Expect::Names(n)) => {
            let mut n = n.clone();
            n.sort();
            Seen::Names(n)
        }
        (_, Expect::Done | Expect::Written(_)) => Seen::Succeeds,
        _ => return None,
    })
}

/// The script's state while its steps are written: each handle's descriptor and whether it
/// is open.
#[derive(Default)]
struct Fds {
    fd: HashMap<String, u8>,
    open: HashMap<String, bool>,
}

impl Fds {
    fn of(&mut self, handle: &str) -> Result<u8, String> {
        let next = FDS.start() + self.fd.len() as u8;
        if !self.fd.contains_key(handle) && !FDS.contains(&next) {
            return Err(format!("more than {} handles", FDS.count()));
        }
        Ok(*self.fd.entry(handle.to_owned()).or_insert(next))
    }

    /// The descriptor of a handle that must be open here, as shell cannot answer EBADF.
    fn open(&mut self, handle: &str) -> Result<u8, String> {
        if !self.open.get(handle).copied().unwrap_or(false) {
            return Err(format!("`{handle}` used while not open (EBADF)"));
        }
        self.of(handle)
    }
}

/// A command whose status is step `s`'s success, with its output left to the caller; or why
/// shell cannot make it.
fn command(plan: &Plan, s: &Step, fds: &mut Fds) -> Result<String, String> {
    let one_write = |data: &str| {
        (data.len() <= ONE_WRITE)
            .then_some(())
            .ok_or_else(|| format!("a write of {} bytes in one write(2)", data.len()))
    };
    Ok(match &s.action {
        Action::Control { file, line } => {
            one_write(line)?;
            format!(
                "printf '%s\\n' {} >>\"$T/{}\"",
                word(line),
                file.file_name()
            )
        }
        Action::Mkdir { path } => format!("mkdir {}", path_word(path)),
        Action::Rmdir { path } => format!("rmdir {}", path_word(path)),
        Action::Stat { path } => format!("ls -ldn {}", path_word(path)),
        Action::Open { path, mode, handle } => {
            let redirect = match mode {
                OpenMode::Read => "<",
                OpenMode::ReadWrite => "<>",
                _ => return Err(format!("an open {mode:?} with O_NONBLOCK")),
            };
            if fds.open.get(handle).copied().unwrap_or(false) {
                return Err(format!("`{handle}` opened again while open (EBADF)"));
            }
            if s.ran != Ran::Ok {
                return Err(format!("`{handle}`'s open, which failed in the run"));
            }
            let fd = fds.of(handle)?;
            fds.open.insert(handle.clone(), true);
            format!("command exec {fd}{redirect}{}", path_word(path))
        }
        Action::Read { handle, len } => {
            let path = plan.handle_path(handle, s.index).unwrap_or_default();
            if *len == 0 || path.contains("pipe") {
                return Err("a read of a trace pipe or of 0 bytes, with O_NONBLOCK".into());
            }
            format!("dd bs={len} count=1 <&{} 2>/dev/null", fds.open(handle)?)
        }
        Action::Close { handle } => {
            let fd = fds.open(handle)?;
            fds.open.insert(handle.clone(), false);
            format!("exec {fd}<&-")
        }
        Action::List { path, .. } => {
            let p = path_word(path);
            format!("[ -d {p} ] && LC_ALL=C ls -1A {p}")
        }
        Action::ReadFile { path } => format!("cat {}", path_word(path)),
        Action::WriteFile { path, data } => {
            one_write(data)?;
            format!("printf '%s' {} >{}", word(data), path_word(path))
        }
        Action::Chdir { path } => format!("cd {}", path_word(path)),
        Action::Chmod { path, mode } => format!("chmod {mode:o} {}", path_word(path)),
        Action::Chown { path, uid, gid } => match (uid, gid) {
            (Some(u), Some(g)) => format!("chown {u}:{g} {}", path_word(path)),
            (Some(u), None) => format!("chown {u} {}", path_word(path)),
            (None, Some(g)) => format!("chgrp {g} {}", path_word(path)),
            (None, None) => return Err("a chown that changes neither id".into()),
        },
        Action::Remount { options } => {
            format!(
                "mount -o {} \"$T\" && remounted=1",
                word(&format!("remount,{options}"))
            )
        }
        Action::DropCaches => "echo 2 >/proc/sys/vm/drop_caches".into(),
        a @ (Action::Unlink { .. }
        | Action::Rename { .. }
        | Action::Write { .. }
        | Action::Fstat { .. }
        | Action::Getdents { .. }
        | Action::Tell { .. }
        | Action::Seek { .. }
        | Action::OpenAt { .. }
        | Action::Fchdir { .. }
        | Action::Getcwd) => {
            return Err(format!("`{}` on a held file or by its system call", a.op()));
        }
    })
}

/// `command` with its output thrown away, for a step before the finding's.
fn quiet(s: &Step, command: String) -> String {
    match &s.action {
        Action::Stat { .. }
        | Action::List { .. }
        | Action::ReadFile { .. }
        | Action::Read { .. } => {
            format!("{command} >/dev/null")
        }
        _ => command,
    }
}

/// What the script judges at the finding's step.
enum Judge {
    /// The answers shell sees as right, the same as text, and the run's kernel's.
    Answer {
        seen: Vec<Seen>,
        right: String,
        host: String,
    },
    /// Nothing: 125 after the step, saying why.
    Nothing(String),
}

/// The lines that leave the answer in `$r` (0 or 1) and `$got`, as [`seen`] shows it.
fn capture(s: &Step, command: &str) -> Vec<String> {
    let (run, post) = match &s.action {
        Action::Stat { .. } => (
            format!("got=$({command}) || r=1"),
            // A trailing `.` or `+` marks an SELinux context or an ACL.
            Some("set -f; set -- $got; set +f; got=\"${1%[.+]} $2 $3 $4\""),
        ),
        // `x` keeps the trailing newlines command substitution strips.
        Action::ReadFile { .. } | Action::Read { .. } => (
            format!("got=$({command} && echo x) || r=1"),
            Some("got=${got%x}"),
        ),
        Action::List { .. } => (
            format!("got=$({command}) || r=1"),
            Some("got=$(printf '%s\\n' \"$got\" | LC_ALL=C sort)"),
        ),
        _ => (format!("{command} || r=1"), None),
    };
    let mut out = vec!["r=0".to_owned(), run];
    out.extend(post.map(|p| format!("[ $r != 0 ] || {{ {p}; }}")));
    out
}

/// The test that `$r` and `$got` are `want`.
fn test(want: &Seen) -> String {
    match want {
        Seen::Fails => "[ $r != 0 ]".into(),
        Seen::Succeeds => "[ $r = 0 ]".into(),
        Seen::Ls(t) | Seen::Text(t) => format!("{{ [ $r = 0 ] && [ \"$got\" = {} ]; }}", word(t)),
        Seen::Names(n) => {
            let words: Vec<String> = n.iter().map(|n| word(n)).collect();
            format!(
                "{{ [ $r = 0 ] && [ \"$got\" = \"$(printf '%s\\n' {} | LC_ALL=C sort)\" ]; }}",
                words.join(" ")
            )
        }
    }
}

/// The script, or why shell cannot express the plan.
pub fn render(plan: &Plan) -> Result<String, String> {
    let last = &plan.steps[plan.steps.len() - 1];
    let step_why = |s: &Step, why: String| format!("step {} needs {why}", s.index);
    let judge = match &plan.check {
        Check::Answer { want, host } => {
            let seen_want: Option<Vec<Seen>> = want.iter().map(|w| seen(&last.action, w)).collect();
            match (seen_want, seen(&last.action, host)) {
                (Some(w), Some(h)) if !w.contains(&h) => Judge::Answer {
                    right: w
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    host: h.to_string(),
                    seen: w,
                },
                _ => {
                    return Err(step_why(
                        last,
                        "an errno or a value no POSIX tool shows, to tell the kernel's answer \
                         from the right one"
                            .into(),
                    ));
                }
            }
        }
        Check::SeekResumes { .. } => {
            return Err(step_why(
                last,
                "getdents64's entries and their d_off".into(),
            ));
        }
        Check::NotStandalone(why) => Judge::Nothing(why.clone()),
    };
    let mut fds = Fds::default();
    let mut body = Vec::new();
    for s in &plan.steps {
        body.push(format!(
            "# step {} (line {}){}: {}",
            s.index,
            s.line,
            if s.index == last.index {
                ", the finding's"
            } else {
                ""
            },
            one_line(&s.action.summary())
        ));
        if s.ran == Ran::Skipped {
            body.push("# (skipped in the run, as here)".into());
            continue;
        }
        let cmd = command(plan, s, &mut fds).map_err(|why| step_why(s, why))?;
        let what = format!("step {} ({})", s.index, s.action.summary());
        if s.index < last.index {
            body.push(match s.ran {
                Ran::Failed => format!(
                    "if {}; then printf '%s\\n' {}; fi",
                    quiet(s, cmd),
                    word(&format!(
                        "repro: note: {what} succeeded here; it failed in the run"
                    ))
                ),
                _ => format!(
                    "{} ||\n\tcannot {}",
                    quiet(s, cmd),
                    word(&format!(
                        "{what} failed here, though it succeeded in the run: the finding's \
                         trigger cannot run on this kernel"
                    ))
                ),
            });
            continue;
        }
        match &judge {
            Judge::Answer { seen, right, host } => {
                body.extend(capture(s, &cmd));
                let tests: Vec<String> = seen.iter().map(test).collect();
                body.push(format!(
                    "if {}; then\n\tcorrect {}\nfi",
                    tests.join(" || "),
                    word(&format!("{what} answered as it should ({right})"))
                ));
                body.push("[ $r = 0 ] || got='a failure'".into());
                body.push(format!(
                    "shows {}\"$got\"{}",
                    word(&format!("{what} answered ")),
                    word(&format!(
                        "; correct: {right}; the run's kernel answered {host}"
                    ))
                ));
            }
            Judge::Nothing(why) => {
                body.push(format!("{} || :", quiet(s, cmd)));
                body.push(format!("cannot {}", word(why)));
            }
        }
    }
    let header = plan.header(None, "sh repro.sh", "");
    Ok(script(plan, &header, &fds, &body))
}

/// The whole script: header, helpers and checks of the environment, the steps.
fn script(plan: &Plan, header: &[String], fds: &Fds, body: &[String]) -> String {
    let mut out = String::from("#!/bin/sh\n");
    out.push_str(&format!(
        "# description: rethfs finding {}: {} (scenario `{}`, step {})\n",
        plan.number,
        crate::check::Signature::of(&plan.finding),
        plan.scenario,
        plan.finding.step
    ));
    for l in header {
        out.push_str(&match l.as_str() {
            "" => "#\n".to_owned(),
            l => format!("# {}\n", one_line(l)),
        });
    }
    let mut fd: Vec<u8> = fds.fd.values().copied().collect();
    fd.sort();
    let close: Vec<String> = fd.iter().map(|f| format!("{f}<&-")).collect();
    let mut undo = Vec::new();
    if !close.is_empty() {
        undo.push(format!("exec {}", close.join(" ")));
    }
    undo.push("cd /".into());
    if plan.remounts() {
        undo.push("[ -z \"$remounted\" ] || mount -o \"remount,$saved\" \"$T\"".into());
    }
    for d in plan.made_dirs() {
        undo.push(format!("rmdir {} 2>/dev/null", path_word(d)));
    }
    for u in plan.undo() {
        let enable = path_word(&u.enable);
        undo.push(format!("[ ! -e {enable} ] || echo 0 >{enable} 2>/dev/null"));
        undo.push(format!(
            "printf '%s\\n' {} >>\"$T/{}\" 2>/dev/null",
            word(&u.line),
            u.control
        ));
    }
    undo.push("[ -z \"$mounted\" ] || umount \"$T\"".into());
    out.push_str(&format!(
        r#"
T=/sys/kernel/tracing
P=repro_$$
U=/bin/sh:0x0
mounted=
remounted=

# Removes what the steps made: on every exit, and on INT, TERM and HUP before dying of it.
cleanup() {{
	trap - EXIT INT TERM HUP
	{}
}}
trap cleanup EXIT
for s in INT TERM HUP; do
	trap "cleanup; trap - $s; kill -$s \$\$" "$s"
done
# printf, not echo: dash's echo reads backslashes in the messages.
cannot() {{ printf 'repro: cannot run here: %s\n' "$*" >&2; cleanup; exit 125; }}
shows() {{ printf 'repro: the finding shows: %s\n' "$*" >&2; cleanup; exit 1; }}
correct() {{ printf 'repro: correct: %s\n' "$*"; cleanup; exit 0; }}

[ "$(id -u)" = 0 ] || cannot "it must run as root (it makes and removes trace events)"
if ! grep -qs "^[^ ]* $T tracefs " /proc/mounts; then
	mount -t tracefs nodev "$T" ||
		cannot "$T is not tracefs, and mounting it there failed"
	mounted=1
fi
[ -f /bin/sh ] || cannot "no /bin/sh to place a uprobe in"
cd "$T" || cannot "cannot enter $T"
"#,
        undo.join("\n\t")
    ));
    if plan.remounts() {
        out.push_str(
            r#"# The mount's uid=, gid= and mode= now, put back after a remount as rethfs does.
saved=$(awk -v m="$T" '$5 == m { o = $NF } END { print o }' /proc/self/mountinfo | tr , ' ')
uid=0 gid=0 mode=700
for o in $saved; do
	case $o in uid=*) uid=${o#uid=} ;; gid=*) gid=${o#gid=} ;; mode=*) mode=${o#mode=} ;; esac
done
saved="uid=$uid,gid=$gid,mode=$mode"
"#,
        );
    }
    out.push_str("echo \"repro: objects named $P, uprobes at $U, in $T\"\n\n");
    for b in body {
        out.push_str(b);
        out.push('\n');
    }
    out
}
