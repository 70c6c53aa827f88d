//! Observer records, one per line: aligned columns for people, JSON objects for programs.

use std::io::Write;

use crate::observe::Record;

/// Writes records to `out`; stops (returns false) when the reader went away.
pub struct Printer<W: Write> {
    out: W,
    json: bool,
    header_done: bool,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, json: bool) -> Self {
        Printer {
            out,
            json,
            header_done: false,
        }
    }

    /// Prints one record; false once the output is closed (a pipe's reader exited).
    pub fn print(&mut self, r: &Record) -> bool {
        let result = if self.json {
            serde_json::to_writer(&mut self.out, r)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(self.out))
        } else {
            self.human(r)
        };
        result.and_then(|()| self.out.flush()).is_ok()
    }

    fn human(&mut self, r: &Record) -> std::io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            writeln!(
                self.out,
                "{:>12} {:<16} {:>7} {:<20} {:>4} {:>4} {:<8} {:>10}  PATH",
                "TIME(s)", "COMM", "PID", "HOOK", "FD", "REF", "KIND", "INO"
            )?;
        }
        writeln!(
            self.out,
            "{:>12.6} {:<16} {:>7} {:<20} {:>4} {:>4} {:<8} {:>10}  {}/{}{}",
            r.t_ns as f64 / 1e9,
            r.comm,
            r.pid,
            r.hook.name(),
            r.fd,
            r.refcount,
            r.kind,
            r.ino,
            if r.path_cut || r.leaf_only { "..." } else { "" },
            r.path,
            match r.ret {
                0 => String::new(),
                ret => format!(" = {ret:#x}"),
            },
        )
    }
}
