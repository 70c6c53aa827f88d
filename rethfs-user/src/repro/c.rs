//! A finding as a C program: every step rethfs can take (held descriptors, seekdir, getdents
//! with a chosen buffer), built with one command, libc and syscall(SYS_getdents64) alone.

use std::fmt::Write as _;

use super::{Check, Expect, Plan, Ran, Step, one_line};
use crate::{
    check::touched_names,
    interface::{Action, FileKind, OpenMode},
};

/// The fixed part: system calls, bookkeeping, checks and cleanup.
const RUNTIME: &str = include_str!("runtime.c");
/// Where the runtime expects the reproducer's tables.
const TABLES: &str = "/* -- the reproducer's own tables -- */\n";

/// Static, so that it can be copied into a test VM.
pub const BUILD: &str = "cc -O2 -static -o repro repro.c";

/// `s` as a C string literal (octal escapes, which end after three digits).
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            // `??x` would be a trigraph in strict modes.
            b'?' => out.push_str("\\?"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// Text for a comment: on its line, and never closing it.
fn comment(s: &str) -> String {
    one_line(s).replace("*/", "* /")
}

fn open_flags(mode: OpenMode) -> &'static str {
    match mode {
        OpenMode::Read => "O_RDONLY",
        OpenMode::Write => "O_WRONLY",
        OpenMode::ReadWrite => "O_RDWR",
        OpenMode::Directory => "O_RDONLY | O_DIRECTORY",
        OpenMode::Create => "O_WRONLY | O_CREAT",
    }
}

/// The runtime call that makes `action`; `h` names a handle's table entry.
fn call(action: &Action, h: &dyn Fn(&str) -> String) -> String {
    match action {
        Action::Control { file, line } => {
            format!("do_control(&r, {}, {})", lit(file.file_name()), lit(line))
        }
        Action::Mkdir { path } => format!("do_mkdir(&r, {})", lit(path)),
        Action::Rmdir { path } => format!("do_rmdir(&r, {})", lit(path)),
        Action::Unlink { path } => format!("do_unlink(&r, {})", lit(path)),
        Action::Rename { from, to } => format!("do_rename(&r, {}, {})", lit(from), lit(to)),
        Action::Stat { path } => format!("do_stat(&r, {})", lit(path)),
        Action::Open { path, mode, handle } => format!(
            "do_open(&r, {}, {}, {})",
            h(handle),
            lit(path),
            open_flags(*mode)
        ),
        Action::Read { handle, len } => format!("do_read(&r, {}, {len})", h(handle)),
        Action::Write { handle, data } => format!("do_write(&r, {}, {})", h(handle), lit(data)),
        Action::Close { handle } => format!("do_close(&r, {})", h(handle)),
        Action::Fstat { handle } => format!("do_fstat(&r, {})", h(handle)),
        Action::Getdents { handle, buffer } => format!("do_getdents(&r, {}, {buffer})", h(handle)),
        Action::Tell { handle } => format!("do_seek(&r, {}, 0, SEEK_CUR)", h(handle)),
        Action::Seek { handle, pos } => format!("do_seek(&r, {}, {pos}LL, SEEK_SET)", h(handle)),
        Action::OpenAt {
            dir,
            path,
            as_handle,
        } => format!("do_openat(&r, {}, {}, {})", h(as_handle), h(dir), lit(path)),
        // A hold changes when the kernel copies an entry, not what it answers: the listing
        // is made unheld.
        Action::List { path, .. } => format!("do_list(&r, {})", lit(path)),
        Action::ReadFile { path } => format!("do_read_file(&r, {})", lit(path)),
        Action::WriteFile { path, data } => {
            format!("do_write_file(&r, {}, {})", lit(path), lit(data))
        }
        Action::Chdir { path } => format!("do_chdir(&r, {})", lit(path)),
        Action::Fchdir { handle } => format!("do_fchdir(&r, {})", h(handle)),
        Action::Getcwd => "do_getcwd(&r)".into(),
        Action::Chmod { path, mode } => format!("do_chmod(&r, {}, 0{mode:o})", lit(path)),
        Action::Chown { path, uid, gid } => {
            let id = |v: &Option<u32>| v.map_or(-1, i64::from);
            format!("do_chown(&r, {}, {}, {})", lit(path), id(uid), id(gid))
        }
        Action::Remount { options } => format!("do_remount(&r, {})", lit(options)),
        Action::DropCaches => "do_drop_caches(&r)".into(),
    }
}

fn ftype(k: FileKind) -> char {
    match k {
        FileKind::Dir => 'd',
        FileKind::File => 'f',
        FileKind::Other => 'o',
    }
}

/// `want`'s initializer.
fn want(w: &Expect) -> String {
    let names = |n: &mut dyn Iterator<Item = &String>| {
        let mut all: Vec<String> = n.map(|n| lit(n)).collect();
        all.push("NULL".into());
        format!("(const char *const[]){{ {} }}", all.join(", "))
    };
    match w {
        Expect::Err(e) => format!("{{ .kind = W_ERR, .err = {e} }}"),
        Expect::Done => "{ .kind = W_DONE }".into(),
        Expect::Stat {
            kind,
            perm,
            nlink,
            uid,
            gid,
        } => format!(
            "{{ .kind = W_STAT, .ftype = '{}', .perm = 0{perm:o}, .nlink = {nlink}, .uid = {uid}, \
             .gid = {gid} }}",
            ftype(*kind)
        ),
        Expect::Data(t) => format!("{{ .kind = W_DATA, .text = {} }}", lit(t)),
        Expect::Cwd(p) => format!("{{ .kind = W_CWD, .text = {} }}", lit(p)),
        Expect::Names(n) => format!("{{ .kind = W_NAMES, .names = {} }}", names(&mut n.iter())),
        Expect::Entries(e) => {
            let types: String = e.iter().map(|(_, k, _)| ftype(*k)).collect();
            let offs: Vec<String> = e.iter().map(|(_, _, o)| format!("{o}LL")).collect();
            format!(
                "{{ .kind = W_ENTRIES, .names = {}, .types = {}, .offs = {} }}",
                names(&mut e.iter().map(|(n, _, _)| n)),
                lit(&types),
                if offs.is_empty() {
                    "NULL".into()
                } else {
                    format!("(const long long[]){{ {} }}", offs.join(", "))
                }
            )
        }
        Expect::Written(n) => format!("{{ .kind = W_WRITTEN, .num = {n} }}"),
        Expect::Pos(p) => format!("{{ .kind = W_POS, .num = {p}LL }}"),
    }
}

/// The tables the runtime reads: handles, events to undo, directories to remove.
fn tables(plan: &Plan, handles: &[&str]) -> String {
    let mut out = String::from("/* The scenario's handles");
    if handles.is_empty() {
        // C has no empty arrays.
        out.push_str(" (none: one unused entry)");
    }
    out.push_str(". */\nstatic struct handle handles[] = {\n");
    for h in handles {
        let _ = writeln!(out, "\t{{ .name = {}, .fd = -1 }},", lit(h));
    }
    if handles.is_empty() {
        out.push_str("\t{ .name = \"\", .fd = -1 },\n");
    }
    out.push_str(
        "};\n\n/* The events the steps make, last made first: removed at every exit. */\n\
         static const struct undo undo[] = {\n",
    );
    for u in plan.undo() {
        let _ = writeln!(
            out,
            "\t{{ {}, {}, {} }},",
            lit(u.control),
            lit(&u.line),
            lit(&u.enable)
        );
    }
    out.push_str(
        "\t{ NULL, NULL, NULL },\n};\n\n/* The directories (instances) the steps make, last \
         made first: removed at every exit. */\nstatic const char *const made_dirs[] = {\n",
    );
    for d in plan.made_dirs() {
        let _ = writeln!(out, "\t{},", lit(d));
    }
    out.push_str("\tNULL,\n};\n\n");
    out
}

/// One step of `main`: the call, the names it touched (for the seek invariant), and what is
/// expected of it.
fn step(plan: &Plan, s: &Step, h: &dyn Fn(&str) -> String, out: &mut String) {
    let last = s.index == plan.finding.step;
    let _ = writeln!(
        out,
        "\t/* step {} (line {}){}: {} */",
        s.index,
        s.line,
        if last { ", the finding's" } else { "" },
        comment(&s.action.summary())
    );
    if s.ran == Ran::Skipped {
        out.push_str("\t/* skipped in the run, as here */\n\n");
        return;
    }
    let what = lit(&s.action.summary());
    let _ = writeln!(out, "\t{};", call(&s.action, h));
    let touched = touched_names(&s.action);
    if matches!(plan.check, Check::SeekResumes { .. }) && !touched.is_empty() {
        let names: Vec<String> = touched.iter().map(|n| lit(n)).collect();
        let _ = writeln!(out, "\ttouch(&r, {}, (char *)NULL);", names.join(", "));
    }
    if !last {
        let ran = if s.ran == Ran::Failed {
            "RAN_FAILED"
        } else {
            "RAN_OK"
        };
        let _ = writeln!(out, "\tstep(&r, {}, {what}, {ran});\n", s.index);
        return;
    }
    match &plan.check {
        Check::Answer { want: all, host } => {
            let right: Vec<String> = all.iter().map(ToString::to_string).collect();
            out.push_str("\t{\n\t\tconst struct want want[] = {\n");
            for w in all {
                let _ = writeln!(out, "\t\t\t{},", want(w));
            }
            let _ = writeln!(
                out,
                "\t\t}};\n\t\tanswer(&r, {}, {what}, want, sizeof want / sizeof *want, {}, {});\n\t}}",
                s.index,
                lit(&right.join(" or ")),
                lit(&host.to_string())
            );
        }
        Check::SeekResumes { handle } => {
            let _ = writeln!(
                out,
                "\tseek_resumes(&r, {}, {what}, {});",
                s.index,
                h(handle)
            );
        }
        Check::NotStandalone(why) => {
            let _ = writeln!(
                out,
                "\tnot_standalone(&r, {}, {what}, {});",
                s.index,
                lit(why)
            );
        }
    }
}

/// The program; `why` says why it is not a shell script.
pub fn render(plan: &Plan, why: &str) -> String {
    let (head, tail) = RUNTIME
        .split_once(TABLES)
        .expect("runtime.c marks where the tables go");
    let header = plan.header(
        Some(BUILD),
        "./repro",
        &format!("Written in C, not shell: {why}."),
    );
    let mut out = String::from("/*\n");
    for l in header {
        let l = comment(&l);
        out.push_str(if l.is_empty() { " *" } else { " * " });
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(" */\n");
    out.push_str(head);
    let handles = plan.handles();
    out.push_str(&tables(plan, &handles));
    out.push_str(tail);
    let h = |name: &str| {
        let i = handles
            .iter()
            .position(|x| *x == name)
            .expect("every handle a step names is in the table");
        format!("&handles[{i}]")
    };
    out.push_str("\nint main(void)\n{\n\tstruct result r = { 0 };\n\n\tbegin();\n\n");
    for s in &plan.steps {
        step(plan, s, &h, &mut out);
    }
    out.push_str("}\n");
    out
}
