//! The range of every number and length in the scenario format, checked when a scenario is
//! made: no input may ask the process for more than it can give, or abort it.
//!
//! Values the kernel itself must refuse stay inside the ranges (`buffer = 0`, a negative
//! `pos`, a write longer than a control file's line buffer): they are tests.

use std::fmt;

/// An inclusive range a field must lie in, and what the field is.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub field: &'static str,
    pub what: &'static str,
    pub min: i128,
    pub max: i128,
}

const MIB: i128 = 1 << 20;

/// `read`'s `len`: one read asks for at most a MiB, far more than any tracefs file holds.
pub const READ_LEN: Limit = Limit {
    field: "len",
    what: "bytes one read asks for",
    min: 0,
    max: MIB,
};

/// What `read-file` reads at most, the largest `len` of one read.
pub const READ_FILE_MAX: usize = READ_LEN.max as usize;

/// All reads of one scenario together (`len`s, plus [`READ_FILE_MAX`] per `read-file`), so
/// the two transcripts stay small whatever the steps ask.
pub const READ_TOTAL: Limit = Limit {
    field: "len",
    what: "bytes all reads of a scenario ask for together (a read-file counts 1 MiB)",
    min: 0,
    max: 64 * MIB,
};

/// `getdents`'s `buffer`: 0 (EINVAL) and too small for one entry (EINVAL) are tests.
pub const GETDENTS_BUFFER: Limit = Limit {
    field: "buffer",
    what: "bytes of getdents64's buffer",
    min: 0,
    max: MIB,
};

/// `list`'s `stall.at`: where in the first getdents64 buffer the held page begins; the pause
/// falls inside the first 32 KiB buffer a listing uses.
pub const STALL_AT: Limit = Limit {
    field: "stall.at",
    what: "the byte of the getdents64 buffer where the copy is held",
    min: 0,
    max: 32768,
};

/// `list`'s `stall.ms`: how long the copy is held; long enough for a removal under TCG, short
/// enough that a thread of many listings still ends.
pub const STALL_MS: Limit = Limit {
    field: "stall.ms",
    what: "milliseconds the getdents64 copy is held",
    min: 1,
    max: 10_000,
};

/// `seek`'s `pos`: negative ones are refused by the kernel (a test); 2^32 and beyond reach
/// past every tracefs position and truncate to small ones in 32-bit arithmetic (a test too).
pub const SEEK_POS: Limit = Limit {
    field: "pos",
    what: "a seek position",
    min: -(1 << 32),
    max: 1 << 32,
};

/// `chmod`'s `mode`: the kernel keeps only these bits (`S_IALLUGO`).
pub const MODE: Limit = Limit {
    field: "mode",
    what: "permission bits (chmod keeps no others)",
    min: 0,
    max: 0o7777,
};

/// `chown`'s ids: `(uid_t)-1` would mean "keep" to chown(2) but "set" to the model; leave
/// the field out to keep an id.
pub const UID: Limit = Limit {
    field: "uid",
    what: "a user id (leave the field out to keep the owner)",
    min: 0,
    max: u32::MAX as i128 - 1,
};

pub const GID: Limit = Limit {
    field: "gid",
    what: "a group id (leave the field out to keep the group)",
    min: 0,
    max: u32::MAX as i128 - 1,
};

/// `write` and `write-file`'s `data`: well past the kernel's own buffers (a command line is
/// cut at 4096 bytes, `enable` takes 64), so the refusals are tests.
pub const DATA_LEN: Limit = Limit {
    field: "data",
    what: "bytes one write writes",
    min: 0,
    max: 64 * 1024,
};

/// `control`'s `line`, the same bound as a write.
pub const LINE_LEN: Limit = Limit {
    field: "line",
    what: "bytes of a control-file line",
    min: 0,
    max: 64 * 1024,
};

/// `remount`'s `options`: mount(2) copies one page of them.
pub const OPTIONS_LEN: Limit = Limit {
    field: "options",
    what: "bytes of mount options",
    min: 0,
    max: 4095,
};

/// Handle names are identifiers in reports, not data.
pub const HANDLE_LEN: Limit = Limit {
    field: "handle",
    what: "bytes of a handle name",
    min: 1,
    max: 64,
};

/// Steps in one scenario file.
pub const STEPS: Limit = Limit {
    field: "step",
    what: "steps in a scenario",
    min: 1,
    max: 2000,
};

/// Handles open at once: far below the process's file limit, which the observer shares.
pub const OPEN_HANDLES: Limit = Limit {
    field: "handle",
    what: "handles open at once",
    min: 0,
    max: 256,
};

/// Bytes of a scenario file, read before anything is parsed.
pub const FILE_SIZE: Limit = Limit {
    field: "file",
    what: "bytes of a scenario file",
    min: 0,
    max: 4 * MIB,
};

/// `[[thread]]` sections of a concurrent scenario: more threads than that only take turns on
/// the test machine's few CPUs, and the checker's search widens with each.
pub const THREADS: Limit = Limit {
    field: "thread",
    what: "threads of a concurrent scenario",
    min: 0,
    max: 8,
};

/// A thread's `repeat`: times it runs its steps.
pub const REPEAT: Limit = Limit {
    field: "repeat",
    what: "times a thread runs its steps",
    min: 1,
    max: 1_000_000,
};

/// A thread's `duration_ms`: how long it repeats its steps.
pub const DURATION_MS: Limit = Limit {
    field: "duration_ms",
    what: "milliseconds a thread repeats its steps",
    min: 1,
    max: 600_000,
};

/// Every limit, for the README's table and its test.
pub const ALL: &[Limit] = &[
    READ_LEN,
    READ_TOTAL,
    GETDENTS_BUFFER,
    STALL_AT,
    STALL_MS,
    SEEK_POS,
    MODE,
    UID,
    GID,
    DATA_LEN,
    LINE_LEN,
    OPTIONS_LEN,
    HANDLE_LEN,
    STEPS,
    OPEN_HANDLES,
    FILE_SIZE,
    THREADS,
    REPEAT,
    DURATION_MS,
];

/// A field outside its range, or a path the lexical rule refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field as the scenario file names it.
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Limit {
    /// Checks `value`; the error names the field, the value and the range.
    pub fn check(&self, value: impl Into<i128>) -> Result<(), Invalid> {
        let v = value.into();
        if (self.min..=self.max).contains(&v) {
            return Ok(());
        }
        Err(Invalid {
            field: self.field,
            message: format!(
                "`{}` = {v} is out of range {}..={} ({})",
                self.field, self.min, self.max, self.what
            ),
        })
    }

    /// Checks the length in bytes of a string field.
    pub fn check_len(&self, text: &str) -> Result<(), Invalid> {
        let n = text.len() as i128;
        if (self.min..=self.max).contains(&n) {
            return Ok(());
        }
        Err(Invalid {
            field: self.field,
            message: format!(
                "`{}` is {n} bytes long, out of range {}..={} ({})",
                self.field, self.min, self.max, self.what
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_takes_its_ends_and_refuses_one_past_them() {
        for l in ALL {
            assert!(l.check(l.min).is_ok() && l.check(l.max).is_ok(), "{l:?}");
            for past in [l.min - 1, l.max + 1] {
                let e = l.check(past).unwrap_err();
                assert_eq!(e.field, l.field);
                assert!(
                    e.message.contains(&past.to_string())
                        && e.message.contains(&format!("{}..={}", l.min, l.max)),
                    "{e}"
                );
            }
        }
    }

    /// The README's table of limits gives each range as the code has it.
    #[test]
    fn the_readme_states_every_range() {
        let readme = include_str!("../../../README.md");
        let table = &readme[readme.find("#### Limits").expect("the Limits section")..];
        for l in ALL {
            let range = format!("{}..={}", l.min, l.max);
            assert!(table.contains(&range), "README lacks {range} ({})", l.what);
        }
    }

    #[test]
    fn lengths_are_counted_in_bytes() {
        assert!(HANDLE_LEN.check_len("h").is_ok());
        assert!(
            HANDLE_LEN
                .check_len("")
                .unwrap_err()
                .message
                .contains("0 bytes")
        );
        assert!(HANDLE_LEN.check_len(&"é".repeat(33)).is_err());
    }
}
