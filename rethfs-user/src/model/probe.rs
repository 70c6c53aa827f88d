//! Dynamic probe events: the commands written to `kprobe_events`, `uprobe_events` and
//! `dynamic_events` (kernel/trace/trace_kprobe.c, trace_uprobe.c, trace_fprobe.c,
//! trace_eprobe.c, trace_dynevent.c, trace_probe.c), with the kernel's errno for each
//! refusal.

use std::path::Path;

use super::{CallId, Model, StaticEvent, tracing::CallKind};
use crate::interface::{ControlFile, Errno};

/// `MAX_EVENT_NAME_LEN`.
const MAX_EVENT_NAME_LEN: usize = 64;

/// One probe point; several may share an event (siblings).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Probe {
    pub(crate) call: CallId,
    pub(crate) kind: CallKind,
    pub(crate) retprobe: bool,
    /// Where it probes, as the control file prints it (`/bin/true:0x0000000000001000`).
    pub(crate) place: String,
    pub(crate) args: Vec<String>,
}

/// A parsed creation command.
struct Create {
    kind: CallKind,
    /// For an eprobe, `SYSTEM` and `EVENT` of the event it attaches to.
    target: Option<(String, String)>,
    retprobe: bool,
    group: String,
    event: String,
    place: String,
    args: Vec<String>,
}

/// "Not my syntax": the kernel's -ECANCELED, reported to the writer as EINVAL.
const CANCELED: Errno = Errno::EINVAL;

impl Model {
    /// A write to a control file: one command per line, `#` comments ignored; the first
    /// failing line ends the write with its errno, earlier lines stay applied.
    pub(crate) fn control_write(&mut self, file: ControlFile, data: &str) -> Result<usize, Errno> {
        if file == ControlFile::KprobeEvents && !self.config.kprobe_events {
            return Err(Errno::ENOENT);
        }
        for line in data.split('\n') {
            let line = line.split('#').next().unwrap_or_default();
            let argv: Vec<&str> = line.split_whitespace().collect();
            if argv.is_empty() {
                continue;
            }
            let removal = argv[0].starts_with('-')
                || (file == ControlFile::DynamicEvents && argv[0].starts_with('!'));
            if removal {
                self.dyn_event_release(file, &argv)?;
            } else {
                let create = match file {
                    ControlFile::KprobeEvents => parse_kprobe(&argv)?,
                    ControlFile::UprobeEvents => parse_uprobe(&argv)?,
                    // create_dyn_event tries each parser; each cancels on the others' syntax.
                    ControlFile::DynamicEvents if argv[0].starts_with(['f', 't']) => {
                        if !self.config.fprobe_events {
                            return Err(CANCELED);
                        }
                        parse_fprobe(&argv)?
                    }
                    ControlFile::DynamicEvents if argv[0].starts_with("u:") => {
                        if !self.config.user_events {
                            return Err(CANCELED);
                        }
                        parse_user(&argv)?
                    }
                    ControlFile::DynamicEvents if argv[0].starts_with('e') => {
                        if !self.config.eprobe_events {
                            return Err(CANCELED);
                        }
                        parse_eprobe(&argv)?
                    }
                    ControlFile::DynamicEvents => match parse_kprobe(&argv) {
                        Err(e) if e == CANCELED && argv.get(1).is_some_and(|a| a.contains('/')) => {
                            parse_uprobe(&argv)?
                        }
                        other => other?,
                    },
                };
                self.register_probe(create)?;
            }
        }
        Ok(data.len())
    }

    /// `register_trace_kprobe` / `register_trace_uprobe` / `register_trace_fprobe`: a second
    /// probe on an existing GRP/EVENT of the same kind joins it unless it differs in type or
    /// arguments or repeats a place; a name used by any other event is EEXIST. An eprobe
    /// first finds the event it attaches to (`find_and_get_event`, which passes over
    /// ftrace's internal events and kprobe, uprobe and eprobe events: ENODEV) and takes a
    /// reference on it; it never has siblings.
    fn register_probe(&mut self, c: Create) -> Result<(), Errno> {
        let target = match &c.target {
            Some((system, event)) => Some(
                self.call_order
                    .iter()
                    .copied()
                    .find(|id| {
                        let t = &self.calls[id.0];
                        t.group == *system
                            && t.name == *event
                            && !t.ftrace_internal
                            && !matches!(
                                t.kind,
                                CallKind::Kprobe | CallKind::Uprobe | CallKind::Eprobe
                            )
                    })
                    .ok_or(Errno::ENODEV)?,
            ),
            None => None,
        };
        let existing = self
            .call_order
            .iter()
            .copied()
            .find(|id| self.calls[id.0].group == c.group && self.calls[id.0].name == c.event);
        let fprobe = matches!(c.kind, CallKind::Fprobe | CallKind::Tprobe);
        let call = match existing {
            // user_event_parse: the same name with the same fields is the event already made.
            Some(id) if c.kind == CallKind::User && self.calls[id.0].kind == CallKind::User => {
                let same = self.probes.iter().any(|p| p.call == id && p.args == c.args);
                return if same { Ok(()) } else { Err(Errno::EADDRINUSE) };
            }
            Some(_) if fprobe && self.policy.fprobe_name_clash_is_einval() => {
                return Err(Errno::EINVAL);
            }
            Some(id) if self.calls[id.0].kind == c.kind && c.kind != CallKind::Eprobe => {
                let siblings: Vec<&Probe> = self.probes.iter().filter(|p| p.call == id).collect();
                let first = siblings.first().expect("a probe event has a probe");
                if first.retprobe != c.retprobe || first.args != c.args {
                    return Err(Errno::EEXIST);
                }
                if siblings.iter().any(|p| p.place == c.place) {
                    return Err(Errno::EEXIST);
                }
                id
            }
            Some(_) => return Err(Errno::EEXIST),
            None => {
                let event = StaticEvent {
                    ftrace_internal: false,
                    ..StaticEvent::new(&c.group, &c.event)
                };
                let id = self.register_call(&event, c.kind);
                self.calls[id.0].attached_to = target;
                id
            }
        };
        self.probes.push(Probe {
            call,
            kind: c.kind,
            retprobe: c.retprobe,
            place: c.place,
            args: c.args,
        });
        Ok(())
    }

    /// `dyn_event_release`: `-:[GRP/]EVENT [PLACE ARGS]` frees every matching probe in creation
    /// order. A probe with siblings just leaves its event; the last one removes the event and
    /// is refused with EBUSY while it is enabled anywhere, which stops the command there.
    /// Nothing matched: ENOENT.
    fn dyn_event_release(&mut self, file: ControlFile, argv: &[&str]) -> Result<(), Errno> {
        let head = argv[0];
        let spec = if let Some(rest) = head.strip_prefix('-') {
            rest.strip_prefix(':').ok_or(Errno::EINVAL)?
        } else {
            &head[head.find(':').ok_or(Errno::EINVAL)? + 1..]
        };
        let (group, event) = match spec.split_once('/') {
            Some((g, e)) => (Some(g), e),
            None => (None, spec),
        };
        if group.is_none() && event.is_empty() {
            return Err(Errno::EINVAL);
        }
        let kind = match file {
            ControlFile::KprobeEvents => Some(CallKind::Kprobe),
            ControlFile::UprobeEvents => Some(CallKind::Uprobe),
            ControlFile::DynamicEvents => None,
        };
        let mut result = Err(Errno::ENOENT);
        let mut i = 0;
        while i < self.probes.len() {
            let p = &self.probes[i];
            let call = &self.calls[p.call.0];
            let matches = kind.is_none_or(|k| k == p.kind)
                && (event.is_empty() || call.name == event)
                && group.is_none_or(|g| g == call.group)
                && if p.kind == CallKind::User {
                    // user_event_match: the fields given are all of them (none, none).
                    parse_user_fields(&argv[1..]) == p.args
                } else {
                    argv[1..]
                        .iter()
                        .zip(std::iter::once(&p.place).chain(&p.args))
                        .all(|(a, b)| a == b)
                        && argv.len() - 1 <= 1 + p.args.len()
                };
            if !matches {
                i += 1;
                continue;
            }
            let call_id = p.call;
            let has_sibling = self.probes.iter().filter(|q| q.call == call_id).count() > 1;
            if !has_sibling {
                // unregister_trace_*: an eprobe's reference first, then enabled anywhere.
                if self.call_pinned(call_id) || self.call_enabled(call_id) {
                    return Err(Errno::EBUSY);
                }
                self.unregister_call(call_id);
            }
            self.probes.remove(i);
            result = Ok(());
        }
        result
    }
}

/// `traceprobe_parse_event_name`: `[GRP/]EVENT` (or `GRP.EVENT`) with C-identifier names.
fn parse_event_name(spec: &str, default_group: &str) -> Result<(String, Option<String>), Errno> {
    let split = spec.find('/').or_else(|| spec.find('.'));
    let (group, event) = match split {
        Some(0) => return Err(Errno::EINVAL),
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (default_group, spec),
    };
    if group.len() >= MAX_EVENT_NAME_LEN || !is_good_name(group) {
        return Err(Errno::EINVAL);
    }
    if event.is_empty() {
        return if split.is_some() {
            Ok((group.to_owned(), None))
        } else {
            Err(Errno::EINVAL)
        };
    }
    if event.len() >= MAX_EVENT_NAME_LEN || !is_good_name(event) {
        return Err(Errno::EINVAL);
    }
    Ok((group.to_owned(), Some(event.to_owned())))
}

fn is_good_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `kstrtoul(s, 0, ..)`: `0x` hex, leading-zero octal, else decimal.
fn parse_offset(s: &str) -> Result<u64, Errno> {
    let r = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8)
    } else {
        s.parse()
    };
    r.map_err(|_| Errno::EINVAL)
}

/// `p|r[:[GRP/][EVENT]]`: the probe type and the event name part.
fn probe_head(head: &str) -> Result<(bool, Option<&str>), Errno> {
    let retprobe = match head.chars().next() {
        Some('p') => false,
        Some('r') => true,
        _ => return Err(CANCELED),
    };
    Ok((retprobe, head.split_once(':').map(|(_, e)| e)))
}

/// `user_event_create` and `user_event_parse_cmd`: `u:NAME [FIELD[; FIELD]...]`, in the
/// shared `user_events` group; the event persists until a `-:`/`!u:` line frees it.
fn parse_user(argv: &[&str]) -> Result<Create, Errno> {
    let name = &argv[0]["u:".len()..];
    if name.is_empty() || name.len() >= MAX_EVENT_NAME_LEN || !is_good_name(name) {
        return Err(Errno::EINVAL);
    }
    Ok(Create {
        kind: CallKind::User,
        target: None,
        retprobe: false,
        group: "user_events".into(),
        event: name.into(),
        place: String::new(),
        args: parse_user_fields(&argv[1..]),
    })
}

/// A user event's fields, `;`-separated, each as written (`u32 count`).
fn parse_user_fields(words: &[&str]) -> Vec<String> {
    words
        .join(" ")
        .split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `__trace_uprobe_create`: `p|r[:[GRP/][EVENT]] PATH:OFFSET[%return] [ARGS]`. PATH must be
/// an existing regular file, looked up in the filesystem rethfs runs in; the offset is not
/// checked against the file until the probe is enabled.
fn parse_uprobe(argv: &[&str]) -> Result<Create, Errno> {
    let (mut retprobe, event) = probe_head(argv[0])?;
    if argv.len() < 2 || !argv[1].contains('/') {
        return Err(CANCELED);
    }
    let (path, rest) = argv[1].rsplit_once(':').ok_or(CANCELED)?;
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(CANCELED);
    }
    let (offset, suffix) = match rest.split_once('%') {
        Some((o, s)) => (o, Some(s)),
        None => (rest, None),
    };
    let offset = offset.split_once('(').map_or(offset, |(o, _)| o);
    match std::fs::metadata(Path::new(path)) {
        Err(e) => return Err(Errno(e.raw_os_error().unwrap_or(libc::ENOENT))),
        Ok(m) if !m.is_file() => return Err(Errno::EINVAL),
        Ok(_) => {}
    }
    match suffix {
        Some("return") => retprobe = true,
        Some(_) => return Err(Errno::EINVAL),
        None => {}
    }
    let offset = parse_offset(offset)?;
    let (group, event) = match event {
        Some(spec) => parse_event_name(spec, "uprobes")?,
        None => ("uprobes".to_owned(), None),
    };
    let event = event.unwrap_or_else(|| {
        let base = path.rsplit('/').next().unwrap_or(path);
        let base = base.split(['.', '-', '_']).next().unwrap_or(base);
        format!("p_{base}_0x{offset:x}")
    });
    Ok(Create {
        kind: CallKind::Uprobe,
        target: None,
        retprobe,
        group,
        event,
        place: format!("{path}:0x{offset:016x}"),
        args: argv[2..].iter().map(|a| a.to_string()).collect(),
    })
}

/// `trace_kprobe_create_internal`: `p[:[GRP/][EVENT]] SYM[+OFFS][%return] [ARGS]` or
/// `rN:...` with a maxactive. The symbol is taken on trust: whether the kernel has it is the
/// host's to say.
fn parse_kprobe(argv: &[&str]) -> Result<Create, Errno> {
    let (mut retprobe, event) = probe_head(argv[0])?;
    if argv.len() < 2 || (argv[1].contains('/') && argv[1].contains(':')) {
        return Err(CANCELED);
    }
    let before_colon = argv[0].split(':').next().unwrap_or_default();
    if before_colon.len() > 1 {
        // Digits after `p` are a maxactive, which only return probes take.
        let digits = &before_colon[1..];
        if !retprobe
            || !digits.chars().all(|c| c.is_ascii_digit())
            || digits.parse::<u32>().map_or(true, |n| n == 0 || n > 4096)
        {
            return Err(Errno::EINVAL);
        }
    }
    let (target, suffix) = match argv[1].split_once('%') {
        Some((t, s)) => (t, Some(s)),
        None => (argv[1], None),
    };
    match suffix {
        Some("return") => retprobe = true,
        Some(_) => return Err(Errno::EINVAL),
        None => {}
    }
    let (symbol, offset) = match target.split_once('+') {
        Some((s, o)) => (s, parse_offset(o)?),
        None => (target, 0),
    };
    if symbol.is_empty() || (retprobe && offset != 0) {
        return Err(Errno::EINVAL);
    }
    let (group, event) = match event {
        Some(spec) => parse_event_name(spec, "kprobes")?,
        None => ("kprobes".to_owned(), None),
    };
    let event = event.unwrap_or_else(|| {
        let raw = format!("{}_{symbol}_{offset}", if retprobe { 'r' } else { 'p' });
        raw.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    });
    Ok(Create {
        kind: CallKind::Kprobe,
        target: None,
        retprobe,
        group,
        event,
        place: if offset == 0 {
            symbol.to_owned()
        } else {
            format!("{symbol}+{offset}")
        },
        args: argv[2..].iter().map(|a| a.to_string()).collect(),
    })
}

/// `trace_fprobe_create_internal`: `f[:[GRP/][EVENT]] SYM[%return] [ARGS]` (group `fprobes`,
/// event `SYM__entry` or `SYM__exit`) or `t[:[GRP/][EVENT]] TRACEPOINT [ARGS]` (group
/// `tracepoints`, event the tracepoint's name). No maxactive; a tracepoint has no return. The
/// symbol is taken on trust, as for kprobes.
fn parse_fprobe(argv: &[&str]) -> Result<Create, Errno> {
    let (tracepoint, group) = match argv[0].chars().next() {
        Some('f') => (false, "fprobes"),
        Some('t') => (true, "tracepoints"),
        _ => return Err(CANCELED),
    };
    let event = match &argv[0][1..] {
        "" => None,
        rest => Some(rest.strip_prefix(':').ok_or(Errno::EINVAL)?),
    };
    let (symbol, retprobe) = match argv.get(1).map(|a| a.split_once('%')) {
        None => return Err(Errno::EINVAL),
        Some(Some((s, "return"))) if !tracepoint => (s, true),
        Some(Some(_)) => return Err(Errno::EINVAL),
        Some(None) => (argv[1], false),
    };
    if symbol.is_empty() {
        return Err(Errno::EINVAL);
    }
    let (group, event) = match event {
        Some(spec) => parse_event_name(spec, group)?,
        None => (group.to_owned(), None),
    };
    let event = event.unwrap_or_else(|| {
        let raw = if tracepoint {
            let digit = symbol.starts_with(|c: char| c.is_ascii_digit());
            format!("{}{symbol}", if digit { "_" } else { "" })
        } else {
            format!("{symbol}__{}", if retprobe { "exit" } else { "entry" })
        };
        // sanitize_event_name.
        raw.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    });
    Ok(Create {
        target: None,
        kind: if tracepoint {
            CallKind::Tprobe
        } else {
            CallKind::Fprobe
        },
        retprobe,
        group,
        event,
        place: symbol.to_owned(),
        args: argv[2..].iter().map(|a| a.to_string()).collect(),
    })
}

/// `__trace_eprobe_create`: `e[:[GRP/][EVENT]] SYSTEM.EVENT [ARGS]` (or `SYSTEM/EVENT`),
/// group `eprobes` and the attached event's name unless given.
fn parse_eprobe(argv: &[&str]) -> Result<Create, Errno> {
    if argv.len() < 2 || !argv[0].starts_with('e') {
        return Err(CANCELED);
    }
    let event = match argv[0].split_once(':') {
        Some((_, spec)) => Some(spec),
        None if argv[0] == "e" => None,
        None => return Err(Errno::EINVAL),
    };
    let (system, target) = match parse_event_name(argv[1], "") {
        Ok((s, Some(e))) if !s.is_empty() => (s, e),
        _ => return Err(Errno::EINVAL),
    };
    let (group, event) = match event {
        Some(spec) => parse_event_name(spec, "eprobes")?,
        None => ("eprobes".to_owned(), None),
    };
    Ok(Create {
        kind: CallKind::Eprobe,
        retprobe: false,
        event: event.unwrap_or_else(|| target.clone()),
        group,
        place: format!("{system}.{target}"),
        target: Some((system, target)),
        args: argv[2..].iter().map(|a| a.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uprobe_default_names_follow_the_kernel() {
        // __trace_uprobe_create: 'p' always, basename cut at . - _, offset in hex.
        let c = parse_uprobe(&["r", "/bin/true:0x1000"]).unwrap();
        assert_eq!(
            (c.group.as_str(), c.event.as_str(), c.retprobe),
            ("uprobes", "p_true_0x1000", true)
        );
        assert_eq!(c.place, "/bin/true:0x0000000000001000");
    }

    #[test]
    fn uprobe_refusals_carry_the_kernels_errno() {
        // Not uprobe syntax at all: -ECANCELED, seen as EINVAL.
        assert_eq!(
            parse_uprobe(&["x:foo", "/bin/true:0x10"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            parse_uprobe(&["p:foo", "/bin/true:main"]).err(),
            Some(Errno::EINVAL)
        );
        // kern_path's own errno for a missing file.
        assert_eq!(
            parse_uprobe(&["p:foo", "/no/such/file:0x10"]).err(),
            Some(Errno::ENOENT)
        );
        // A directory is not a regular file.
        assert_eq!(
            parse_uprobe(&["p:foo", "/tmp:0x10"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            parse_uprobe(&["p:1bad/foo", "/bin/true:0x10"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            parse_uprobe(&["p:", "/bin/true:0x10"]).err(),
            Some(Errno::EINVAL)
        );
    }

    #[test]
    fn fprobe_and_tracepoint_probe_names_follow_the_kernel() {
        let c = parse_fprobe(&["f", "vfs_read"]).unwrap();
        assert_eq!(
            (c.group.as_str(), c.event.as_str()),
            ("fprobes", "vfs_read__entry")
        );
        let c = parse_fprobe(&["f:g/e", "vfs_read%return"]).unwrap();
        assert_eq!(
            (c.group.as_str(), c.event.as_str(), c.retprobe),
            ("g", "e", true)
        );
        let c = parse_fprobe(&["t", "sched_switch"]).unwrap();
        assert_eq!(
            (c.group.as_str(), c.event.as_str()),
            ("tracepoints", "sched_switch")
        );
        // No maxactive, no return on a tracepoint, a symbol required.
        assert_eq!(
            parse_fprobe(&["f4:x", "vfs_read%return"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            parse_fprobe(&["t:x", "sched_switch%return"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(parse_fprobe(&["f:x"]).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn eprobe_names_follow_the_kernel() {
        let c = parse_eprobe(&["e", "sched.sched_switch"]).unwrap();
        assert_eq!(
            (c.group.as_str(), c.event.as_str()),
            ("eprobes", "sched_switch")
        );
        assert_eq!(c.target, Some(("sched".into(), "sched_switch".into())));
        let c = parse_eprobe(&["e:g/e", "sched/sched_switch"]).unwrap();
        assert_eq!((c.group.as_str(), c.event.as_str()), ("g", "e"));
        // The attached event needs both its system and its name.
        assert_eq!(
            parse_eprobe(&["e:x", "sched_switch"]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(parse_eprobe(&["e:x"]).err(), Some(CANCELED));
    }

    #[test]
    fn kprobe_names_and_maxactive() {
        let c = parse_kprobe(&["p:sched", "schedule"]).unwrap();
        assert_eq!((c.group.as_str(), c.event.as_str()), ("kprobes", "sched"));
        assert_eq!(
            parse_kprobe(&["r", "vfs_read"]).unwrap().event,
            "r_vfs_read_0"
        );
        assert!(parse_kprobe(&["r16:myret", "vfs_read"]).is_ok());
        assert_eq!(
            parse_kprobe(&["p16:x", "vfs_read"]).err(),
            Some(Errno::EINVAL)
        );
        // uprobe syntax is not the kprobe parser's.
        assert_eq!(
            parse_kprobe(&["p:x", "/bin/true:0x10"]).err(),
            Some(CANCELED)
        );
    }
}
