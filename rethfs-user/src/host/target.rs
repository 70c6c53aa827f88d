//! `HostTracefs`: the [`Target`] that performs each action on the real tracefs with real
//! system calls, confined beneath the tracefs root and refusing whatever would touch objects
//! rethfs did not create.
//!
//! Every path is opened with openat2 beneath the directory it starts from (see [`beneath`]):
//! the tracefs root, the current directory, or a directory handle. Each of those is held as
//! a descriptor together with where it lies below the root, spelled lexically (tracefs has
//! no symbolic links), so that ownership is judged on where a path really ends.

use std::{
    collections::HashMap,
    fs::{self, File},
    io::{self, Read, Write},
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    path::PathBuf,
};

use nix::fcntl::OFlag;

use super::{
    beneath,
    getdents::{getdents64, getdents64_into},
    stall,
};
use crate::{
    error::Error,
    interface::{
        Action, ControlFile, Errno, FileKind, Lifetime, OpenMode, Outcome, Stall, StatInfo, Target,
        Value, limits,
        path::{self, Base},
    },
};

/// A directory or file the target holds, and where it lies below the tracefs root.
struct Held {
    fd: OwnedFd,
    at: Vec<String>,
}

/// The real tracefs, driven by this process.
pub struct HostTracefs {
    root: PathBuf,
    /// The tracefs root, where root-relative paths start.
    top: Held,
    /// The current directory, where `./` paths start. The process's own current directory is
    /// kept on it too: a current directory pins its dentry, which the kernel's rules see.
    cwd: Held,
    /// `rethfs_<pid>`: every object this run may create or change carries it.
    prefix: String,
    handles: HashMap<String, Held>,
    kernel: String,
    allow_remount: bool,
    /// New `error_log` lines after a refused control-file command.
    notes: Vec<String>,
    /// The mount options at start, put back after a remount step.
    remounted_from: Option<String>,
    /// For a thread's target: the options to put back, read when the threads started (by
    /// the time this thread remounts, another may have).
    restore_to: Option<String>,
    holds: Holds,
}

/// Held listings (`list` with `stall`): how many were asked for, and how many of them the
/// kernel's copy reached the held byte in (a shorter listing is never held).
#[derive(Debug, Clone, Copy, Default)]
pub struct Holds {
    pub asked: usize,
    pub reached: usize,
}

/// The buffer of each getdents64 call of a listing, as large as `ls` uses; a stall's `at`
/// lies inside the first (see [`limits::STALL_AT`]).
const LIST_BUFFER: usize = limits::STALL_AT.max as usize;

fn errno(e: io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

fn last_errno() -> Errno {
    errno(io::Error::last_os_error())
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

/// `path` as a C string (paths with NUL are refused when a scenario is parsed).
fn c_path(p: &str) -> Result<std::ffi::CString, Errno> {
    std::ffi::CString::new(p).map_err(|_| Errno::EINVAL)
}

/// A file's metadata through its descriptor (`fstat`, which O_PATH descriptors allow).
fn fd_metadata(fd: &OwnedFd) -> Result<fs::Metadata, Errno> {
    File::from(fd.try_clone().map_err(errno)?)
        .metadata()
        .map_err(errno)
}

/// `chmod` through an O_PATH descriptor: fchmodat2(AT_EMPTY_PATH) from Linux 6.6, else the
/// descriptor's own /proc link (which names exactly the file already resolved).
fn chmod_fd(fd: BorrowedFd, mode: u32) -> Result<(), Errno> {
    // SAFETY: an fd we hold and a NUL-terminated empty path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            mode,
            libc::AT_EMPTY_PATH,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = last_errno();
    if e.0 != libc::ENOSYS {
        return Err(e);
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        fs::Permissions::from_mode(mode),
    )
    .map_err(errno)
}

/// `chown` through an O_PATH descriptor; `None` keeps that id (`-1` to the kernel).
fn chown_fd(fd: BorrowedFd, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
    // SAFETY: an fd we hold and a NUL-terminated empty path.
    let r = unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            uid.unwrap_or(u32::MAX),
            gid.unwrap_or(u32::MAX),
            libc::AT_EMPTY_PATH,
        )
    };
    if r == 0 { Ok(()) } else { Err(last_errno()) }
}

impl HostTracefs {
    /// A target on the tracefs mounted at `root`, with the process's current directory moved
    /// to it. Remounts are refused unless `allow_remount`: a remount with `uid=`/`gid=`
    /// resets ownership saved by anyone, tracefs-wide.
    pub fn new(root: PathBuf, kernel: String, allow_remount: bool) -> Result<Self, Error> {
        let fd: OwnedFd = File::open(&root)
            .map_err(|e| Error::Environment(format!("{}: {e}", root.display())))?
            .into();
        beneath::check_available(&fd).map_err(Error::Environment)?;
        let top = Held { fd, at: Vec::new() };
        let cwd = Held {
            fd: top.fd.try_clone().map_err(|e| Error::Failed(e.into()))?,
            at: Vec::new(),
        };
        nix::unistd::fchdir(&cwd.fd)
            .map_err(|e| Error::Failed(anyhow::anyhow!("fchdir to {}: {e}", root.display())))?;
        Ok(HostTracefs {
            root,
            top,
            cwd,
            prefix: format!("rethfs_{}", std::process::id()),
            handles: HashMap::new(),
            kernel,
            allow_remount,
            notes: Vec::new(),
            remounted_from: None,
            restore_to: None,
            holds: Holds::default(),
        })
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

    /// A target for one thread of a concurrent scenario: the same root, current directory,
    /// names and remount rule, with no handles of its own yet. A remount it makes is put
    /// back, by [`HostTracefs::restore_mount`], to the options the mount has now, whichever
    /// thread remounted first.
    pub fn for_thread(&self) -> std::io::Result<Self> {
        let held = |h: &Held| {
            Ok::<_, std::io::Error>(Held {
                fd: h.fd.try_clone()?,
                at: h.at.clone(),
            })
        };
        Ok(HostTracefs {
            root: self.root.clone(),
            top: held(&self.top)?,
            cwd: held(&self.cwd)?,
            prefix: self.prefix.clone(),
            handles: HashMap::new(),
            kernel: self.kernel.clone(),
            allow_remount: self.allow_remount,
            notes: Vec::new(),
            remounted_from: None,
            restore_to: self.allow_remount.then(|| self.ownership_options()),
            holds: Holds::default(),
        })
    }

    /// Where `path` starts: the directory it is resolved beneath.
    fn start(&self, path: &str) -> &Held {
        match path::base(path) {
            Base::Root => &self.top,
            Base::Cwd => &self.cwd,
        }
    }

    /// Where `path` ends below the root, from `from` (lexically: tracefs has no links).
    fn location(from: &Held, path: &str) -> Vec<String> {
        let mut at = from.at.clone();
        for c in path::components(path) {
            match c {
                "." => {}
                ".." => {
                    at.pop();
                }
                name => at.push(name.to_owned()),
            }
        }
        at
    }

    /// Opens `path` beneath its start, with where it lies.
    fn open_path(&self, path: &str, flags: OFlag) -> Result<Held, Errno> {
        let from = self.start(path);
        Ok(Held {
            fd: beneath::open(from.fd.as_fd(), path, flags)?,
            at: Self::location(from, path),
        })
    }

    /// The directory `path`'s last component is in, opened beneath its start, and that
    /// component as written: what mkdir, rmdir, unlink and rename act on.
    fn open_parent<'p>(&self, path: &'p str) -> Result<(OwnedFd, &'p str), Errno> {
        let (parent, last) = path::split_last(path);
        let from = self.start(path);
        let fd = beneath::open(from.fd.as_fd(), parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        Ok((fd, last))
    }

    /// Whether `at` names something of this run's (its group or instance).
    fn ours(&self, at: &[String]) -> bool {
        at.iter().any(|c| c.starts_with(&self.prefix))
    }

    /// Why the host will not run `action`, if it will not.
    fn refusal(&self, action: &Action) -> Option<String> {
        let others = |what: &str| {
            Some(format!(
                "{what} belongs to no object of this run (prefix {})",
                self.prefix
            ))
        };
        let not_ours = |path: &str| {
            let at = Self::location(self.start(path), path);
            (!self.ours(&at)).then(|| others(path)).flatten()
        };
        match action {
            Action::Control { file, line } => {
                if *file == ControlFile::KprobeEvents && !self.root.join("kprobe_events").exists() {
                    return Some("this kernel has no kprobe_events (CONFIG_KPROBE_EVENTS)".into());
                }
                // User events share one group, `user_events`: the event's own name is the run's.
                if let Some(event) = user_event(line) {
                    if !self.root.join("user_events_data").exists() {
                        return Some("this kernel has no user_events (CONFIG_USER_EVENTS)".into());
                    }
                    return (!event.starts_with(&self.prefix))
                        .then(|| others(&format!("`{line}`")))
                        .flatten();
                }
                // The group must be named, and be this run's: its prefix, or the prefix with a
                // suffix (explore's `{own}a`), as `ours` has it for paths. An event without a
                // group would land in the shared `uprobes` or `kprobes` group.
                let spec = line.split_whitespace().next().unwrap_or_default();
                let name = spec.split_once(':').map_or("", |(_, n)| n);
                match name.split_once(['/', '.']) {
                    Some((group, _)) if group.starts_with(&self.prefix) => {}
                    _ => return others(&format!("`{line}`")),
                }
                foreign_uprobe(*file, line).or_else(|| foreign_eprobe(&self.prefix, line))
            }
            Action::WriteFile { path, .. }
                if matches!(
                    &Self::location(self.start(path), path)[..],
                    [f] if ["kprobe_events", "uprobe_events", "dynamic_events"].contains(&f.as_str())
                ) =>
            {
                Some("truncating a control file removes every probe, not only this run's".into())
            }
            Action::WriteFile { path, .. }
            | Action::Mkdir { path }
            | Action::Rmdir { path }
            | Action::Chmod { path, .. }
            | Action::Chown { path, .. } => not_ours(path),
            Action::Open { path, mode, .. }
                if *mode != OpenMode::Read && *mode != OpenMode::Directory =>
            {
                not_ours(path)
            }
            Action::List { stall: Some(_), .. } => stall::available()
                .err()
                .map(|why| format!("holding getdents64 needs userfaultfd: {why}")),
            Action::Remount { .. } if !self.allow_remount => Some(
                "remount with uid=/gid= resets ownership saved by others (run with --allow-remount)"
                    .into(),
            ),
            _ => None,
        }
    }

    fn handle(&self, h: &str) -> Result<&Held, Errno> {
        self.handles.get(h).ok_or(Errno::EBADF)
    }

    /// A handle's descriptor as a `File`, for the calls std wraps (read, write, metadata).
    fn file(&self, h: &str) -> Result<File, Errno> {
        Ok(File::from(self.handle(h)?.fd.try_clone().map_err(errno)?))
    }

    fn open(
        &mut self,
        dir: Option<&str>,
        path: &str,
        mode: OpenMode,
        handle: &str,
    ) -> Result<Value, Errno> {
        if self.handles.contains_key(handle) {
            return Err(Errno::EBADF);
        }
        // tracefs honours O_NONBLOCK only in its trace pipes, whose reads would otherwise wait
        // for trace data forever.
        let flags = OFlag::O_NONBLOCK
            | match mode {
                OpenMode::Read => OFlag::O_RDONLY,
                OpenMode::Directory => OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                OpenMode::Write => OFlag::O_WRONLY,
                OpenMode::ReadWrite => OFlag::O_RDWR,
                OpenMode::Create => OFlag::O_WRONLY | OFlag::O_CREAT,
            };
        let held = match dir {
            Some(dir) => {
                let from = self.handle(dir)?;
                Held {
                    fd: beneath::open(from.fd.as_fd(), path, flags)?,
                    at: Self::location(from, path),
                }
            }
            None => self.open_path(path, flags)?,
        };
        self.handles.insert(handle.to_owned(), held);
        Ok(Value::Done)
    }

    fn read(&mut self, h: &str, len: usize) -> Result<Value, Errno> {
        let mut buf = vec![0u8; len];
        let n = self.file(h)?.read(&mut buf).map_err(errno)?;
        Ok(Value::Data {
            text: Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        })
    }

    fn write(&mut self, h: &str, data: &str) -> Result<Value, Errno> {
        let n = self.file(h)?.write(data.as_bytes()).map_err(errno)?;
        Ok(Value::Written { bytes: n })
    }

    fn seek(&mut self, h: &str, pos: i64, whence: i32) -> Result<Value, Errno> {
        let fd = self.handle(h)?.fd.as_raw_fd();
        // SAFETY: lseek on an fd this target owns.
        let r = unsafe { libc::lseek(fd, pos, whence) };
        if r < 0 {
            return Err(last_errno());
        }
        Ok(Value::Pos { pos: r })
    }

    /// The held listings this target made.
    pub fn holds(&self) -> Holds {
        self.holds
    }

    /// `ls -f` with every getdents64 call on a fresh buffer but the first, which is
    /// `first` when given.
    fn list(&self, path: &str, mut first: Option<&mut [u8]>) -> Result<Value, Errno> {
        let dir = self.open_path(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let mut names = Vec::new();
        loop {
            let batch = match first.take() {
                Some(buffer) => getdents64_into(&dir.fd, buffer)?,
                None => getdents64(&dir.fd, LIST_BUFFER)?,
            };
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

    /// `ls -f` whose first getdents64 call is held as `stall` asks.
    fn list_held(&mut self, path: &str, stall: Stall) -> Outcome {
        match stall::held(LIST_BUFFER, stall, |buffer| self.list(path, Some(buffer))) {
            Ok((result, reached)) => {
                self.holds.asked += 1;
                self.holds.reached += usize::from(reached);
                result.into()
            }
            Err(why) => Outcome::Skipped(format!("holding getdents64: {why}")),
        }
    }

    /// `cat`: reads to the end, or to [`limits::READ_FILE_MAX`] bytes as the model does.
    fn read_path(&self, path: &str) -> Result<Value, Errno> {
        let f = self.open_path(path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
        let mut bytes = Vec::new();
        File::from(f.fd)
            .take(limits::READ_FILE_MAX as u64)
            .read_to_end(&mut bytes)
            .map_err(errno)?;
        Ok(Value::Data {
            text: Some(String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    /// `echo DATA >> file` (append, for control files) or `> file`: open, one write, close.
    fn write_path(
        &self,
        from: &Held,
        path: &str,
        data: &str,
        append: bool,
    ) -> Result<Value, Errno> {
        // `echo DATA > path` opens with O_CREAT, which tracefs (no ->create) answers with
        // EACCES where the name is missing.
        let flags = OFlag::O_WRONLY
            | if append {
                OFlag::O_APPEND
            } else {
                OFlag::O_CREAT | OFlag::O_TRUNC
            };
        let mut f = File::from(beneath::open(from.fd.as_fd(), path, flags)?);
        let n = f.write(data.as_bytes()).map_err(errno)?;
        Ok(Value::Written { bytes: n })
    }

    /// Runs a `*at` call on `path`'s parent descriptor and last component.
    fn at_parent(
        &self,
        path: &str,
        call: impl FnOnce(i32, &std::ffi::CStr) -> libc::c_int,
    ) -> Result<Value, Errno> {
        let (dir, last) = self.open_parent(path)?;
        if call(dir.as_raw_fd(), &c_path(last)?) < 0 {
            return Err(last_errno());
        }
        Ok(Value::Done)
    }

    fn run(&mut self, action: &Action) -> Result<Value, Errno> {
        match action {
            Action::Control { file, line } => {
                let r = self.write_path(&self.top, file.file_name(), &format!("{line}\n"), true);
                if r.is_err() {
                    self.notes.extend(self.error_log_entry(line));
                }
                r
            }
            // SAFETY (the *at calls below): a directory fd this target holds and a
            // NUL-terminated name, both alive for the call.
            Action::Mkdir { path } => {
                self.at_parent(path, |d, n| unsafe { libc::mkdirat(d, n.as_ptr(), 0o777) })
            }
            Action::Rmdir { path } => self.at_parent(path, |d, n| unsafe {
                libc::unlinkat(d, n.as_ptr(), libc::AT_REMOVEDIR)
            }),
            Action::Unlink { path } => {
                self.at_parent(path, |d, n| unsafe { libc::unlinkat(d, n.as_ptr(), 0) })
            }
            Action::Rename { from, to } => {
                let (to_dir, to_last) = self.open_parent(to)?;
                let to_last = c_path(to_last)?;
                self.at_parent(from, |d, n| unsafe {
                    libc::renameat(d, n.as_ptr(), to_dir.as_raw_fd(), to_last.as_ptr())
                })
            }
            Action::Stat { path } => {
                let f = self.open_path(path, OFlag::O_PATH)?;
                fd_metadata(&f.fd).map(|m| Value::Stat(stat_info(&m)))
            }
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
            Action::Fstat { handle } => {
                fd_metadata(&self.handle(handle)?.fd).map(|m| Value::Stat(stat_info(&m)))
            }
            Action::Getdents { handle, buffer } => getdents64(&self.handle(handle)?.fd, *buffer)
                .map(|entries| Value::Dirents { entries }),
            Action::Tell { handle } => self.seek(handle, 0, libc::SEEK_CUR),
            Action::Seek { handle, pos } => self.seek(handle, *pos, libc::SEEK_SET),
            Action::List { path, .. } => self.list(path, None),
            Action::ReadFile { path } => self.read_path(path),
            Action::WriteFile { path, data } => {
                self.write_path(self.start(path), path, data, false)
            }
            Action::Chdir { path } => {
                let dir = self.open_path(path, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
                self.change_dir(dir)
            }
            Action::Fchdir { handle } => {
                let h = self.handle(handle)?;
                let dir = Held {
                    fd: h.fd.try_clone().map_err(errno)?,
                    at: h.at.clone(),
                };
                self.change_dir(dir)
            }
            Action::Getcwd => self.getcwd(),
            Action::Chmod { path, mode } => {
                let f = self.open_path(path, OFlag::O_PATH)?;
                chmod_fd(f.fd.as_fd(), *mode).map(|()| Value::Done)
            }
            Action::Chown { path, uid, gid } => {
                let f = self.open_path(path, OFlag::O_PATH)?;
                chown_fd(f.fd.as_fd(), *uid, *gid).map(|()| Value::Done)
            }
            Action::Remount { options } => {
                if self.remounted_from.is_none() {
                    self.remounted_from = Some(
                        self.restore_to
                            .clone()
                            .unwrap_or_else(|| self.ownership_options()),
                    );
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

    /// The getcwd system call itself (libc wrappers differ on an unlinked directory), the
    /// answer made relative to the tracefs root as scenario paths are.
    fn getcwd(&self) -> Result<Value, Errno> {
        let mut buf = vec![0u8; path::PATH_MAX + 1];
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
        let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(last_errno());
        }
        let abs = String::from_utf8_lossy(&buf[..(n as usize).saturating_sub(1)]).into_owned();
        let root = self.root.to_string_lossy();
        let path = match abs.strip_prefix(&*root) {
            Some("") => ".".to_owned(),
            Some(rest) if rest.starts_with('/') => rest[1..].to_owned(),
            // Outside tracefs: shown whole, and it will differ from the model's.
            _ => abs,
        };
        Ok(Value::Cwd { path })
    }

    /// `fchdir` to `dir`, which becomes where `./` paths start.
    fn change_dir(&mut self, dir: Held) -> Result<Value, Errno> {
        nix::unistd::fchdir(&dir.fd).map_err(|e| Errno(e as i32))?;
        self.cwd = dir;
        Ok(Value::Done)
    }

    /// Closes every handle (so nothing pins an instance or an event).
    pub fn close_all(&mut self) {
        self.handles.clear();
    }
}

/// Why a uprobe line is refused: a probe on a file other than rethfs's own executable would,
/// once enabled, trap in every process that runs that file. A path that does not exist is
/// left to the kernel (ENOENT, a test).
fn foreign_uprobe(file: ControlFile, line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let spec = words.next().unwrap_or_default();
    if file == ControlFile::KprobeEvents || !(spec.starts_with('p') || spec.starts_with('r')) {
        return None;
    }
    let target = words.next()?;
    let (place, _) = target.rsplit_once(':')?;
    // kprobe places (`vfs_read`, `module:symbol`) name no file.
    if !place.contains('/') {
        return None;
    }
    let id = |m: fs::Metadata| (m.dev(), m.ino());
    let there = fs::metadata(place).ok().map(id)?;
    let own = fs::metadata("/proc/self/exe").ok().map(id);
    (own != Some(there)).then(|| {
        format!(
            "a uprobe on {place}, once enabled, traps in every process that runs it; rethfs \
             places uprobes only in its own executable ({{uprobe}})"
        )
    })
}

/// The event a `dynamic_events` line makes or removes, if it is a user event: `u:NAME ...`,
/// `!u:NAME ...` or `-:user_events/NAME`.
pub(crate) fn user_event(line: &str) -> Option<&str> {
    let spec = line.split_whitespace().next()?;
    let name = spec
        .strip_prefix("u:")
        .or_else(|| spec.strip_prefix("!u:"))
        .or_else(|| spec.strip_prefix("-:user_events/"))?;
    Some(name)
}

/// An eprobe attached to an event of another's: enabled, it would put that event in soft
/// mode (its `enable` reads `0*`) and pin it against removal.
fn foreign_eprobe(prefix: &str, line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with('e') {
        return None;
    }
    let target = words.next()?;
    let system = target.split(['.', '/']).next().unwrap_or_default();
    (!system.starts_with(prefix)).then(|| {
        format!("an eprobe on {target} would soft-enable and pin an event rethfs did not make")
    })
}

impl Target for HostTracefs {
    fn describe(&self) -> String {
        format!("host (Linux {}, {})", self.kernel, self.root.display())
    }

    fn apply(&mut self, action: &Action) -> Outcome {
        if let Some(why) = self.refusal(action) {
            return Outcome::Skipped(why);
        }
        match action {
            Action::List {
                path,
                stall: Some(stall),
            } => self.list_held(path, *stall),
            _ => self.run(action).into(),
        }
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
    fn eprobes_may_attach_only_to_the_runs_own_events() {
        let p = "rethfs_7_3";
        assert_eq!(foreign_eprobe(p, "e:rethfs_7_3a/e1 rethfs_7_3a.e0"), None);
        assert_eq!(foreign_eprobe(p, "e:rethfs_7_3b/e1 rethfs_7_3a/e0"), None);
        assert!(foreign_eprobe(p, "e:rethfs_7_3a/e1 sched.sched_switch").is_some());
        assert!(foreign_eprobe(p, "e:rethfs_7_3a/e1 rethfs_8a.e0").is_some());
        // Not an eprobe line: the other checks' business.
        assert_eq!(foreign_eprobe(p, "p:rethfs_7_3a/e0 vfs_read"), None);
    }

    #[test]
    #[ignore = "host test: needs root and a real tracefs"]
    fn a_refused_command_carries_the_kernels_error_log_lines() {
        let mut host = HostTracefs::new(
            PathBuf::from(super::super::DEFAULT_TRACEFS),
            String::new(),
            false,
        )
        .unwrap();
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

    /// What spelling cannot show: a mount inside one of the run's own instances. Writes,
    /// which ownership would allow there, stop at it.
    #[test]
    #[ignore = "host test: needs root and a real tracefs"]
    fn writes_stop_at_a_mount_inside_tracefs() {
        let root = PathBuf::from(super::super::DEFAULT_TRACEFS);
        let cwd = std::env::current_dir().unwrap();
        let name = format!("rethfs_{}_mnt", std::process::id());
        let mut host = HostTracefs::new(root.clone(), String::new(), false)
            .unwrap()
            .named(&name);
        let instance = format!("instances/{name}");
        assert_eq!(
            host.apply(&Action::Mkdir {
                path: instance.clone()
            }),
            Outcome::Ok(Value::Done)
        );
        let mnt = root.join(&instance).join("options");
        nix::mount::mount(
            Some("none"),
            &mnt,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        fs::write(mnt.join("canary"), "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(mnt.join("canary"), fs::Permissions::from_mode(0o644)).unwrap();
        let at = |p: &str| format!("{instance}/options/{p}");
        let actions = [
            Action::WriteFile {
                path: at("canary"),
                data: "overwritten".into(),
            },
            Action::Chmod {
                path: at("canary"),
                mode: 0o777,
            },
            Action::Chown {
                path: at("canary"),
                uid: Some(1),
                gid: None,
            },
            Action::Mkdir { path: at("new") },
            Action::Unlink { path: at("canary") },
            Action::Rename {
                from: at("canary"),
                to: at("moved"),
            },
            Action::Open {
                path: at("created"),
                mode: OpenMode::Create,
                handle: "h".into(),
            },
            Action::Chdir { path: at(".") },
        ];
        let outcomes: Vec<Outcome> = actions.iter().map(|a| host.apply(a)).collect();
        let untouched = fs::metadata(mnt.join("canary"))
            .map(|m| (m.len(), m.mode() & 0o777, m.uid()))
            .ok();
        let extra = fs::read_dir(&mnt).unwrap().count();
        nix::mount::umount(&mnt).unwrap();
        host.close_all();
        drop(host);
        fs::remove_dir(root.join(&instance)).unwrap();
        std::env::set_current_dir(cwd).unwrap();
        for (a, o) in actions.iter().zip(&outcomes) {
            assert_eq!(*o, Outcome::Err(Errno(libc::EXDEV)), "{}", a.summary());
        }
        assert_eq!(untouched, Some((1, 0o644, 0)));
        assert_eq!(extra, 1, "something was made inside the mount");
    }
}
