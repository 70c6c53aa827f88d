//! One run per tracefs at a time: a second is refused, not interleaved.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    os::fd::AsRawFd,
    path::PathBuf,
};

use crate::error::{Error, Result};

/// Held for the run's life; the kernel drops the lock if the process dies.
pub struct RunLock {
    _file: File,
}

fn lock_path() -> PathBuf {
    let run = PathBuf::from("/run/lock");
    if run.is_dir() {
        run.join("rethfs.lock")
    } else {
        std::env::temp_dir().join("rethfs.lock")
    }
}

impl RunLock {
    pub fn acquire() -> Result<Self> {
        let path = lock_path();
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Environment(format!("{}: {e}", path.display())))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            return Err(Error::Environment(format!(
                "another rethfs run (pid {}) is using tracefs; wait for it or stop it (lock {})",
                holder.trim(),
                path.display()
            )));
        }
        let _ = f.set_len(0);
        let _ = f.rewind();
        let _ = write!(f, "{}", std::process::id());
        Ok(RunLock { _file: f })
    }
}
