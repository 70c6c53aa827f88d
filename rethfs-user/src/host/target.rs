//! `HostTracefs`: the [`Target`] that performs each action on the real tracefs with real
//! system calls, refusing whatever would touch objects rethfs did not create.

use std::{
    collections::HashMap,
    ffi::CString,
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::fs::{MetadataExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
};

use super::getdents::getdents64;
use crate::target::{
    Action, ControlFile, Errno, FileKind, Lifetime, OpenMode, Outcome, StatInfo, Target, Value,
};

/// The real tracefs, driven by this process.
pub struct HostTracefs {
    root: PathBuf,
    /// `rethfs_<pid>`: every object this run may create or change carries it.
    prefix: String,
    handles: HashMap<String, File>,
    kernel: String,
    allow_remount: bool,
    /// New `error_log` lines after a refused control-file command.
    notes: Vec<String>,
    /// The mount options at start, put back after a remount step.
    remounted_from: Option<String>,
}

fn errno(e: io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

fn stat_info(m: &fs::Metadata) -> StatInfo {
    let kind = if m.is_dir() {
        FileKind::Dir
    } else if m.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    StatInfo {
        ino: m.ino(),
        kind,
        perm: m.mode() & 0o7777,
        nlink: m.nlink(),
        uid: m.uid(),
        gid: m.gid(),
    }
}

impl HostTracefs {
    /// A target on the tracefs mounted at `root`. Remounts are refused unless `allow_remount`:
    /// a remount with `uid=`/`gid=` resets ownership saved by anyone, tracefs-wide.
    pub fn new(root: PathBuf, kernel: String, allow_remount: bool) -> Self {
        HostTracefs {
            root,
            prefix: format!("rethfs_{}", std::process::id()),
            handles: HashMap::new(),
            kernel,
            allow_remount,
            notes: Vec::new(),
            remounted_from: None,
        }
    }

    /// `uid=..,gid=..,mode=..` as the tracefs mount has them now (defaults where unlisted).
    fn ownership_options(&self) -> String {
        let line = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let sup = line
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(&*self.root.to_string_lossy()))
            .and_then(|l| l.split_whitespace().last().map(str::to_owned))
            .unwrap_or_default();
        let get = |k: &str, default: &str| {
            sup.split(',')
                .find_map(|o| o.strip_prefix(&format!("{k}=")))
                .unwrap_or(default)
                .to_owned()
        };
        format!(
            "uid={},gid={},mode={}",
            get("uid", "0"),
            get("gid", "0"),
            get("mode", "700")
        )
    }

    /// The `error_log` entry the kernel wrote for `command`, if its newest entry is that
    /// command's (some refusals log nothing). Entries start with `[timestamp]`.
    fn error_log_entry(&self, command: &str) -> Vec<String> {
        let log = fs::read_to_string(self.root.join("error_log")).unwrap_or_default();
        let Some(start) = log
            .rfind("\n[")
            .map(|i| i + 1)
            .or_else(|| log.starts_with('[').then_some(0))
        else {
            return Vec::new();
        };
        let entry = &log[start..];
        let head = command.split_whitespace().next().unwrap_or_default();
        if !entry.contains(&format!("Command: {head}")) {
            return Vec::new();
        }
        entry
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("error_log: {}", l.trim_end()))
            .collect()
    }

    /// Remounts with the options the mount had before this target's first remount.
    pub fn restore_mount(&mut self) -> Result<(), String> {
        let Some(options) = self.remounted_from.take() else {
            return Ok(());
        };
        self.run(&Action::Remount {
            options: options.clone(),
        })
        .map(|_| ())
        .map_err(|e| format!("remount,{options}: {e}"))
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The same target for objects named `prefix` (this run's name with a suffix of its own);
    /// only they may be made or removed.
    pub fn named(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// A scenario path on the host: `.`-relative paths are the process's own, `/` is the
    /// tracefs root, others are below it.
    fn path(&self, p: &str) -> PathBuf {
        if p.starts_with('.') {
            PathBuf::from(p)
        } else {
            self.root.join(p.trim_start_matches('/'))
        }
    }

    /// Whether `p` names something of this run's (its group or instance).
    fn ours(&self, p: &str) -> bool {
        p.split('/').any(|c| c.starts_with(&self.prefix))
    }

    /// Why the host will not run `action`, if it will not.
    fn refusal(&self, action: &Action) -> Option<String> {
        let others = |what: &str| {
            Some(format!(
                "{what} belongs to no object of this run (prefix {})",
                self.prefix
            ))
        };
        match action {
            Action::Control { file, line } => {
                if *file == ControlFile::KprobeEvents && !self.root.join("kprobe_events").exists() {
                    return Some("this kernel has no kprobe_events (CONFIG_KPROBE_EVENTS)".into());
                }
                let spec = line.split_whitespace().next().unwrap_or_default();
                let name = spec.split_once(':').map_or("", |(_, n)| n);
                if !name.starts_with(&format!("{}/", self.prefix)) && !name.starts_with(&format!("{}.", self.prefix)) {
                    return others(&format!("`{line}`"));
                }
                None
            }
            Action::WriteFile { path, .. } if ["kprobe_events", "uprobe_events", "dynamic_events"].contains(&path.trim_start_matches('/')) => {
                Some("truncating a control file removes every probe, not only this run's".into())
            }
            Action::WriteFile { path, .. }
            | Action::Mkdir { path }
            | Action::Rmdir { path }
            | Action::Chmod { path, .. }
            | Action::Chown { path, .. } => (!self.ours(path)).then(|| others(path)).flatten(),
            Action::Open { path, mode, .. } if *mode != OpenMode::Read && *mode != OpenMode::Directory => {
                (!self.ours(path)).then(|| others(path)).flatten()
            }
            Action::Remount { .. } if !self.allow_remount => {
                Some("remount with uid=/gid= resets ownership saved by others (run with --allow-remount)".into())
            }
            _ => None,
        }
    }

    fn handle(&mut self, h: &str) -> Result<&mut File, Errno> {
        self.handles.get_mut(h).ok_or(Errno::EBADF)
    }

    fn open(
        &mut self,
        at: Option<&str>,
        path: &str,
        mode: OpenMode,
        handle: &str,
    ) -> Result<Value, Errno> {
        if self.handles.contains_key(handle) {
            return Err(Errno::EBADF);
        }
        let file = match at {
            Some(dir) => {
                let dirfd = self.handle(dir)?.as_raw_fd();
                let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
                // SAFETY: a valid fd and a NUL-terminated path; the result is owned below.
                let fd =
                    unsafe { libc::openat(dirfd, c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(errno(io::Error::last_os_error()));
                }
                // SAFETY: openat returned a new fd that nothing else owns.
                unsafe { File::from_raw_fd(fd) }
            }
            None => {
                let mut o = OpenOptions::new();
                match mode {
                    OpenMode::Read => o.read(true),
                    OpenMode::Directory => o.read(true).custom_flags(libc::O_DIRECTORY),
                    OpenMode::Write => o.write(true),
                    OpenMode::ReadWrite => o.read(true).write(true),
                    OpenMode::Create => o.write(true).create(true),
                };
                o.open(self.path(path)).map_err(errno)?
            }
        };
        self.handles.insert(handle.to_owned(), file);
        Ok(Value::Done)
    }

    fn read(&mut self, h: &str, len: usize) -> Result<Value, Errno> {
        let mut buf = vec![0u8; len];
        let n = self.handle(h)?.read(&mut buf).map_err(errno)?;
        Ok(Value::Data {
            text: Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        })
    }

    fn write(&mut self, h: &str, data: &str) -> Result<Value, Errno> {
        let n = self.handle(h)?.write(data.as_bytes()).map_err(errno)?;
        Ok(Value::Written { bytes: n })
    }

    fn seek(&mut self, h: &str, pos: i64, whence: i32) -> Result<Value, Errno> {
        let fd = self.handle(h)?.as_raw_fd();
        // SAFETY: lseek on an fd this target owns.
        let r = unsafe { libc::lseek(fd, pos, whence) };
        if r < 0 {
            return Err(errno(io::Error::last_os_error()));
        }
        Ok(Value::Pos { pos: r })
    }

    fn list(&self, path: &str) -> Result<Value, Errno> {
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(self.path(path))
            .map_err(errno)?;
        let mut names = Vec::new();
        loop {
            let batch = getdents64(&dir, 32768)?;
            if batch.is_empty() {
                break;
            }
            names.extend(
                batch
                    .into_iter()
                    .map(|d| d.name)
                    .filter(|n| n != "." && n != ".."),
            );
        }
        Ok(Value::Names { names })
    }

    /// `echo DATA >> file` (append) or `> file`: open, one write, close.
    fn write_path(&self, path: &Path, data: &str, append: bool) -> Result<Value, Errno> {
        let mut o = OpenOptions::new();
        o.write(true);
        if append {
            o.append(true);
        } else {
            o.truncate(true);
        }
        let mut f = o.open(path).map_err(errno)?;
        let n = f.write(data.as_bytes()).map_err(errno)?;
        Ok(Value::Written { bytes: n })
    }

    fn run(&mut self, action: &Action) -> Result<Value, Errno> {
        match action {
            Action::Control { file, line } => {
                let r = self.write_path(
                    &self.root.join(file.file_name()),
                    &format!("{line}\n"),
                    true,
                );
                if r.is_err() {
                    self.notes.extend(self.error_log_entry(line));
                }
                r
            }
            Action::Mkdir { path } => fs::create_dir(self.path(path))
                .map(|()| Value::Done)
                .map_err(errno),
            Action::Rmdir { path } => fs::remove_dir(self.path(path))
                .map(|()| Value::Done)
                .map_err(errno),
            Action::Unlink { path } => fs::remove_file(self.path(path))
                .map(|()| Value::Done)
                .map_err(errno),
            Action::Rename { from, to } => fs::rename(self.path(from), self.path(to))
                .map(|()| Value::Done)
                .map_err(errno),
            Action::Stat { path } => fs::metadata(self.path(path))
                .map(|m| Value::Stat(stat_info(&m)))
                .map_err(errno),
            Action::Open { path, mode, handle } => self.open(None, path, *mode, handle),
            Action::OpenAt {
                dir,
                path,
                as_handle,
            } => self.open(Some(dir), path, OpenMode::Read, as_handle),
            Action::Read { handle, len } => self.read(handle, *len),
            Action::Write { handle, data } => self.write(handle, data),
            Action::Close { handle } => self
                .handles
                .remove(handle)
                .map(|_| Value::Done)
                .ok_or(Errno::EBADF),
            Action::Fstat { handle } => self
                .handle(handle)?
                .metadata()
                .map(|m| Value::Stat(stat_info(&m)))
                .map_err(errno),
            Action::Getdents { handle, buffer } => {
                let f = self.handle(handle)?;
                getdents64(f, *buffer).map(|entries| Value::Dirents { entries })
            }
            Action::Tell { handle } => self.seek(handle, 0, libc::SEEK_CUR),
            Action::Seek { handle, pos } => self.seek(handle, *pos, libc::SEEK_SET),
            Action::List { path } => self.list(path),
            Action::ReadFile { path } => {
                let mut text = String::new();
                File::open(self.path(path))
                    .and_then(|mut f| f.read_to_string(&mut text))
                    .map_err(errno)?;
                Ok(Value::Data { text: Some(text) })
            }
            Action::WriteFile { path, data } => self.write_path(&self.path(path), data, false),
            Action::Chdir { path } => std::env::set_current_dir(self.path(path))
                .map(|()| Value::Done)
                .map_err(errno),
            Action::Fchdir { handle } => {
                let fd = self.handle(handle)?.as_raw_fd();
                // SAFETY: fchdir on an fd this target owns.
                if unsafe { libc::fchdir(fd) } < 0 {
                    return Err(errno(io::Error::last_os_error()));
                }
                Ok(Value::Done)
            }
            Action::Chmod { path, mode } => {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(self.path(path), fs::Permissions::from_mode(*mode))
                    .map(|()| Value::Done)
                    .map_err(errno)
            }
            Action::Chown { path, uid, gid } => {
                std::os::unix::fs::chown(self.path(path), *uid, *gid)
                    .map(|()| Value::Done)
                    .map_err(errno)
            }
            Action::Remount { options } => {
                if self.remounted_from.is_none() {
                    self.remounted_from = Some(self.ownership_options());
                }
                nix::mount::mount(
                    None::<&str>,
                    &self.root,
                    None::<&str>,
                    nix::mount::MsFlags::MS_REMOUNT,
                    Some(options.as_str()),
                )
                .map(|()| Value::Done)
                .map_err(|e| Errno(e as i32))
            }
            Action::DropCaches => fs::write("/proc/sys/vm/drop_caches", "2")
                .map(|()| Value::Done)
                .map_err(errno),
        }
    }

    /// Closes every handle (so nothing pins an instance or an event).
    pub fn close_all(&mut self) {
        self.handles.clear();
    }
}

impl Target for HostTracefs {
    fn describe(&self) -> String {
        format!("host (Linux {}, {})", self.kernel, self.root.display())
    }

    fn apply(&mut self, action: &Action) -> Outcome {
        if let Some(why) = self.refusal(action) {
            return Outcome::Skipped(why);
        }
        self.run(action).into()
    }

    /// Lifetimes need the kernel observer (kprobes or fentry), not attached by this target.
    fn take_lifetimes(&mut self) -> Vec<Lifetime> {
        Vec::new()
    }

    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "host test: needs root and a real tracefs"]
    fn a_refused_command_carries_the_kernels_error_log_lines() {
        let mut host = HostTracefs::new(
            PathBuf::from(super::super::DEFAULT_TRACEFS),
            String::new(),
            false,
        );
        let line = format!("p:{}/ev /no/such/file:0x10", host.prefix());
        let outcome = host.apply(&Action::Control {
            file: ControlFile::UprobeEvents,
            line,
        });
        assert_eq!(outcome, Outcome::Err(Errno::ENOENT));
        let notes = host.take_notes();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("Failed to find the given file")),
            "{notes:?}"
        );
        assert!(host.take_notes().is_empty(), "notes are taken once");
    }
}
