//! What each tracefs file is and does: which eventfs entries exist (the `event_callback`,
//! `system_callback` and `events_callback` of kernel/trace/trace_events.c), what opening one
//! pins, and what reads and writes return, before and after the event is removed.

use super::{FileId, Model, SysId, TrId, eventfs::EiData};
use crate::interface::Errno;

/// The entries an eventfs directory may have, in `entries[]` order per kind of directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EntryKind {
    Enable,
    Filter,
    Trigger,
    Format,
    Id,
    Hist,
    HistDebug,
    Inject,
    /// `btf_ids` (7.3+), read-only; known only from the host's listing.
    BtfIds,
    TopEnable,
    HeaderPage,
    HeaderEvent,
    SystemFilter,
    SystemEnable,
}

impl EntryKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            EntryKind::Enable | EntryKind::TopEnable | EntryKind::SystemEnable => "enable",
            EntryKind::Filter | EntryKind::SystemFilter => "filter",
            EntryKind::Trigger => "trigger",
            EntryKind::Format => "format",
            EntryKind::Id => "id",
            EntryKind::Hist => "hist",
            EntryKind::HistDebug => "hist_debug",
            EntryKind::Inject => "inject",
            EntryKind::BtfIds => "btf_ids",
            EntryKind::HeaderPage => "header_page",
            EntryKind::HeaderEvent => "header_event",
        }
    }

    /// Read through a seq_file, whose `->start` is where a removed event is refused: what
    /// one read generated and did not hand out is handed out first by the next.
    pub(crate) fn is_seq_file(self) -> bool {
        matches!(
            self,
            EntryKind::Format | EntryKind::Trigger | EntryKind::Hist | EntryKind::HistDebug
        )
    }
}

/// An eventfs file's entry and the `i_private` its callback gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EventfsFile {
    pub(crate) kind: EntryKind,
    pub(crate) data: FileData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FileData {
    Event(FileId),
    /// `id` stores the number itself, which is why it survives removal.
    EventType(u32),
    System(SysId),
    Tr(TrId),
}

/// Plain tracefs files of an instance that matter to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TraceFile {
    Trace,
    TracePipe,
    TracingOn,
    SetEvent,
    ErrorLog,
    /// Any other file of a trace array: it takes the array's reference at open
    /// (`tracing_open_generic_tr`), and its content is not modelled.
    Plain,
}

impl TraceFile {
    pub(crate) const ALL: [TraceFile; 5] = [
        TraceFile::Trace,
        TraceFile::TracePipe,
        TraceFile::TracingOn,
        TraceFile::SetEvent,
        TraceFile::ErrorLog,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TraceFile::Trace => "trace",
            TraceFile::TracePipe => "trace_pipe",
            TraceFile::TracingOn => "tracing_on",
            TraceFile::SetEvent => "set_event",
            TraceFile::ErrorLog => "error_log",
            TraceFile::Plain => "",
        }
    }

    /// The file of this name the model gives meaning to, if any.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn perm(self) -> u32 {
        match self {
            TraceFile::TracePipe => 0o440,
            _ => 0o640,
        }
    }
}

/// What an open took, to be given back at close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Holds {
    /// `trace_array_get`: blocks `rmdir` of the instance.
    pub(crate) tr: Option<TrId>,
    /// `tr->trace_ref` (trace_pipe).
    pub(crate) trace_ref: bool,
    /// `event_file_get`.
    pub(crate) event_file: Option<FileId>,
    /// `__get_system_dir`.
    pub(crate) system: Option<SysId>,
}

/// Read results: `None` where the content is the kernel's and not modelled (formats, triggers).
pub(crate) type ReadResult = Result<Option<String>, Errno>;

impl Model {
    /// The callback of `kind` in `ei`: whether the file exists now, its mode and `i_private`.
    pub(crate) fn entry_callback(
        &self,
        ei: super::EiId,
        kind: EntryKind,
    ) -> Option<(u32, EventfsFile)> {
        let file = |perm, data| Some((perm, EventfsFile { kind, data }));
        match self.eis[ei.0].data {
            EiData::Events(tr) => match kind {
                EntryKind::TopEnable => file(0o640, FileData::Tr(tr)),
                EntryKind::HeaderPage | EntryKind::HeaderEvent => file(0o440, FileData::Tr(tr)),
                _ => None,
            },
            EiData::System(sys) => file(0o640, FileData::System(sys)),
            EiData::Event(f) => {
                let call = &self.calls[self.files[f.0].call.0];
                if call
                    .files
                    .as_ref()
                    .is_some_and(|names| !names.iter().any(|n| n == kind.name()))
                {
                    return None;
                }
                // ftrace/* events are IGNORE_ENABLE: no enable, filter or trigger (but print's).
                let reg = !call.ftrace_internal;
                match kind {
                    EntryKind::Format => file(0o440, FileData::Event(f)),
                    EntryKind::Enable if reg => file(0o640, FileData::Event(f)),
                    EntryKind::Filter if reg => file(0o640, FileData::Event(f)),
                    EntryKind::Trigger if reg || call.name == "print" => {
                        file(0o640, FileData::Event(f))
                    }
                    EntryKind::Id if call.event_type != 0 => {
                        file(0o440, FileData::EventType(call.event_type))
                    }
                    EntryKind::Hist | EntryKind::HistDebug => file(0o440, FileData::Event(f)),
                    EntryKind::Inject if reg => file(0o200, FileData::Event(f)),
                    // Offered only where the host listed it for this event.
                    EntryKind::BtfIds if call.files.is_some() => file(0o440, FileData::Event(f)),
                    _ => None,
                }
            }
        }
    }

    /// `trace_array_get` via `tracing_check_open_get_tr`: ENODEV once the instance is gone.
    fn trace_array_get(&mut self, tr: TrId) -> Result<(), Errno> {
        if !self.trs[tr.0].alive {
            return Err(Errno::ENODEV);
        }
        self.trs[tr.0].refs += 1;
        Ok(())
    }

    /// `tracing_open_file_tr`: pins the instance, refuses a removed event with ENODEV, and
    /// pins the event file (CVE-2023-52879's fix).
    fn open_file_tr(&mut self, f: FileId) -> Result<Holds, Errno> {
        let tr = self.files[f.0].tr;
        self.trace_array_get(tr)?;
        if self.files[f.0].freed {
            self.trs[tr.0].refs -= 1;
            return Err(Errno::ENODEV);
        }
        self.files[f.0].refs += 1;
        Ok(Holds {
            tr: Some(tr),
            event_file: Some(f),
            ..Holds::default()
        })
    }

    /// The `open` of an eventfs file.
    pub(crate) fn eventfs_open(&mut self, file: EventfsFile) -> Result<Holds, Errno> {
        match (file.kind, file.data) {
            (
                EntryKind::Enable
                | EntryKind::Filter
                | EntryKind::Hist
                | EntryKind::HistDebug
                | EntryKind::Inject,
                FileData::Event(f),
            ) => self.open_file_tr(f),
            // event_trigger_regex_open checks the event but takes no instance reference.
            (EntryKind::Trigger, FileData::Event(f)) if self.files[f.0].freed => Err(Errno::ENODEV),
            // subsystem_open: a group with no events left is gone.
            (EntryKind::SystemEnable | EntryKind::SystemFilter, FileData::System(sys)) => {
                if self.systems[sys.0].nr_events == 0 {
                    return Err(Errno::ENODEV);
                }
                let tr = self.systems[sys.0].tr;
                self.trace_array_get(tr)?;
                self.systems[sys.0].refs += 1;
                Ok(Holds {
                    tr: Some(tr),
                    system: Some(sys),
                    ..Holds::default()
                })
            }
            (
                EntryKind::TopEnable | EntryKind::HeaderPage | EntryKind::HeaderEvent,
                FileData::Tr(tr),
            ) => {
                self.trace_array_get(tr)?;
                Ok(Holds {
                    tr: Some(tr),
                    ..Holds::default()
                })
            }
            // format (seq_open only), id (no open), trigger of a live event.
            _ => Ok(Holds::default()),
        }
    }

    /// `open` of a trace array's file: it takes the array; `set_event` opened to truncate
    /// disables every event of the array first (`ftrace_clear_events`); trace_pipe counts a
    /// reader in `trace_ref`, and only one may read all CPUs at a time: `open_pipe_on_cpu`
    /// answers a second open EBUSY while the first is held (the pipe_cpumask of 6.5, in every
    /// stable kernel rethfs models), after the array was taken and then put back.
    pub(crate) fn trace_file_open(
        &mut self,
        tr: TrId,
        file: TraceFile,
        truncate: bool,
    ) -> Result<Holds, Errno> {
        self.trace_array_get(tr)?;
        if file == TraceFile::SetEvent && truncate {
            for f in self.trs[tr.0].files.clone() {
                self.set_enabled(f, false);
            }
        }
        let trace_ref = file == TraceFile::TracePipe;
        if trace_ref {
            if self.trs[tr.0].trace_ref > 0 {
                self.trs[tr.0].refs -= 1;
                return Err(Errno::EBUSY);
            }
            self.trs[tr.0].trace_ref += 1;
        }
        Ok(Holds {
            tr: Some(tr),
            trace_ref,
            ..Holds::default()
        })
    }

    /// `release`: gives back what `open` took.
    pub(crate) fn release_holds(&mut self, holds: Holds) {
        if let Some(tr) = holds.tr {
            self.trs[tr.0].refs -= 1;
            if holds.trace_ref {
                self.trs[tr.0].trace_ref -= 1;
            }
        }
        if let Some(f) = holds.event_file {
            self.files[f.0].refs -= 1;
        }
        if let Some(s) = holds.system {
            self.systems[s.0].refs -= 1;
        }
    }

    /// `read` of an eventfs file at position 0 (the whole content).
    pub(crate) fn eventfs_read(&self, file: EventfsFile) -> ReadResult {
        let freed = |f: FileId| self.files[f.0].freed;
        match (file.kind, file.data) {
            (EntryKind::Enable, FileData::Event(f)) => {
                if freed(f) {
                    return Err(Errno::ENODEV);
                }
                // event_enable_read: `1` when a user enabled it, `*` in soft mode.
                let file = &self.files[f.0];
                Ok(Some(format!(
                    "{}{}\n",
                    u8::from(file.enabled),
                    if file.soft > 0 { "*" } else { "" }
                )))
            }
            (EntryKind::Filter, FileData::Event(f)) => {
                if freed(f) {
                    // 6.1's event_filter_read prints nothing for a freed event, then reads it.
                    return if self.policy.on_demand() {
                        Err(Errno::ENODEV)
                    } else {
                        Ok(Some(String::new()))
                    };
                }
                Ok(Some(format!("{}\n", self.files[f.0].filter)))
            }
            // Until b1560408 (6.11-rc3, 6.10.y) these read a removed event without checking.
            (EntryKind::Trigger | EntryKind::Hist | EntryKind::HistDebug, FileData::Event(f)) => {
                if freed(f) && self.policy.format_honours_removal() {
                    Err(Errno::ENODEV)
                } else {
                    Ok(None)
                }
            }
            // Before 6.10.y the format file read freed memory instead (fixed by b1560408).
            (EntryKind::Format, FileData::Event(f)) => {
                if freed(f) && self.policy.format_honours_removal() {
                    Err(Errno::ENODEV)
                } else {
                    Ok(None)
                }
            }
            // The number comes from the host kernel's IDA, whose state the model cannot know.
            (EntryKind::Id, FileData::EventType(n)) => Ok(Some(format!("{n}\n"))),
            (EntryKind::Inject, _) => Err(Errno::EINVAL),
            (EntryKind::SystemEnable, FileData::System(sys)) => {
                let s = &self.systems[sys.0];
                Ok(Some(self.enable_summary(s.tr, Some(&s.name))))
            }
            (EntryKind::TopEnable, FileData::Tr(tr)) => Ok(Some(self.enable_summary(tr, None))),
            _ => Ok(None),
        }
    }

    /// `system_enable_read`: `?` none, `0` all off, `1` all on, `X` mixed, over the events of
    /// `tr` (in `group`) that can be enabled.
    fn enable_summary(&self, tr: TrId, group: Option<&str>) -> String {
        let mut set = 0u8;
        for f in self.trs[tr.0].files.iter().map(|f| &self.files[f.0]) {
            let call = &self.calls[f.call.0];
            if f.freed || call.ftrace_internal || group.is_some_and(|g| g != call.group) {
                continue;
            }
            set |= 1 << u8::from(f.registered());
        }
        format!("{}\n", ['?', '0', '1', 'X'][set as usize])
    }

    /// `write` to an eventfs file.
    pub(crate) fn eventfs_write(&mut self, file: EventfsFile, data: &str) -> Result<usize, Errno> {
        match (file.kind, file.data) {
            (EntryKind::Enable, FileData::Event(f)) => {
                // event_enable_write parses before it looks at the event.
                match parse_ulong(data)? {
                    0 | 1 if self.files[f.0].freed => Err(Errno::ENODEV),
                    v @ (0 | 1) => {
                        self.set_enabled(f, v == 1);
                        Ok(data.len())
                    }
                    _ => Err(Errno::EINVAL),
                }
            }
            (EntryKind::Filter, FileData::Event(f)) => {
                if self.files[f.0].freed {
                    return Err(Errno::ENODEV);
                }
                self.files[f.0].filter = filter_text(data);
                Ok(data.len())
            }
            (EntryKind::Trigger, FileData::Event(f)) => {
                if self.files[f.0].freed {
                    Err(Errno::ENODEV)
                } else {
                    Ok(data.len())
                }
            }
            (EntryKind::SystemEnable, FileData::System(sys)) => {
                let (tr, name) = (self.systems[sys.0].tr, self.systems[sys.0].name.clone());
                self.set_clear_events(tr, Some(&name), data)
            }
            (EntryKind::TopEnable, FileData::Tr(tr)) => self.set_clear_events(tr, None, data),
            // apply_subsystem_event_filter: a group whose last event went has none to filter.
            (EntryKind::SystemFilter, FileData::System(sys))
                if self.systems[sys.0].nr_events == 0 =>
            {
                Err(Errno::ENODEV)
            }
            // `0` clears every event's filter in the group, anything else sets it on each
            // (the generated filters use only the common fields every event has).
            (EntryKind::SystemFilter, FileData::System(sys)) => {
                let (tr, group) = (self.systems[sys.0].tr, self.systems[sys.0].name.clone());
                let text = filter_text(data);
                for f in self.trs[tr.0].files.clone() {
                    if !self.files[f.0].freed && self.calls[self.files[f.0].call.0].group == group {
                        self.files[f.0].filter = text.clone();
                    }
                }
                Ok(data.len())
            }
            // format, id, hist, header_*: no write method.
            _ => Err(Errno::EINVAL),
        }
    }

    /// `system_enable_write` / `__ftrace_set_clr_event`: 0 or 1 to every event of `tr` (in
    /// `group`) that can be enabled; EINVAL when there is none.
    fn set_clear_events(
        &mut self,
        tr: TrId,
        group: Option<&str>,
        data: &str,
    ) -> Result<usize, Errno> {
        let v = parse_ulong(data)?;
        if v > 1 {
            return Err(Errno::EINVAL);
        }
        let mut any = false;
        for f in self.trs[tr.0].files.clone() {
            let call = &self.calls[self.files[f.0].call.0];
            if self.files[f.0].freed
                || call.ftrace_internal
                || group.is_some_and(|g| g != call.group)
            {
                continue;
            }
            any = true;
            self.set_enabled(f, v == 1);
        }
        if any {
            Ok(data.len())
        } else {
            Err(Errno::EINVAL)
        }
    }
}

impl Model {
    /// `write` to a trace array's file: `tracing_on` takes a number (non-zero: on),
    /// `set_event` one word per write, `trace_pipe` nothing; the rest are not modelled and
    /// take anything.
    pub(crate) fn trace_file_write(
        &mut self,
        tr: TrId,
        file: TraceFile,
        data: &str,
    ) -> Result<usize, Errno> {
        match file {
            TraceFile::TracingOn => {
                self.trs[tr.0].tracing_on = parse_ulong(data)? != 0;
                Ok(data.len())
            }
            TraceFile::SetEvent => self.set_event_write(tr, data),
            // tracing_pipe_fops has no write: vfs_write refuses the file.
            TraceFile::TracePipe => Err(Errno::EINVAL),
            _ => Ok(data.len()),
        }
    }

    /// `ftrace_event_write`: `trace_get_user` reads one word (leading blanks skipped, the blank
    /// after it consumed too), and `ftrace_set_clr_event` enables (`!`: disables) the events it
    /// names: `SYSTEM:EVENT`, `SYSTEM:` or `SYSTEM:*`, `:EVENT` or `*:EVENT`, or a bare name
    /// that is an event's or a system's. EINVAL when none matched; a write of blanks only
    /// consumes them.
    fn set_event_write(&mut self, tr: TrId, data: &str) -> Result<usize, Errno> {
        let start = data.len() - data.trim_start().len();
        let word_len = data[start..]
            .find(char::is_whitespace)
            .unwrap_or(data.len() - start);
        let word = &data[start..start + word_len];
        let used = (start + word_len + 1).min(data.len());
        if word.is_empty() {
            return Ok(used);
        }
        let (set, word) = match word.strip_prefix('!') {
            Some(w) => (false, w),
            None => (true, word),
        };
        let any = |s: &str| s.is_empty() || s == "*";
        let (bare, sub, event) = match word.split_once(':') {
            Some((s, e)) => (None, (!any(s)).then_some(s), (!any(e)).then_some(e)),
            None => ((word != "*").then_some(word), None, None),
        };
        let mut matched = false;
        for f in self.trs[tr.0].files.clone() {
            let call = &self.calls[self.files[f.0].call.0];
            if self.files[f.0].freed
                || call.ftrace_internal
                || bare.is_some_and(|b| b != call.name && b != call.group)
                || sub.is_some_and(|s| s != call.group)
                || event.is_some_and(|e| e != call.name)
            {
                continue;
            }
            matched = true;
            self.set_enabled(f, set);
        }
        if matched {
            Ok(used)
        } else {
            Err(Errno::EINVAL)
        }
    }
}

/// `kstrtoul_from_user(.., 10, ..)`: decimal, one trailing newline allowed.
fn parse_ulong(data: &str) -> Result<u64, Errno> {
    data.strip_suffix('\n')
        .unwrap_or(data)
        .parse()
        .map_err(|_| Errno::EINVAL)
}

/// What a filter file prints after `data` was written to it: the stripped expression, or
/// `none` once `0` cleared it.
fn filter_text(data: &str) -> String {
    match data.trim() {
        "" | "0" => "none".to_owned(),
        text => text.to_owned(),
    }
}
