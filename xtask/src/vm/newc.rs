//! Checking an initramfs (a gzipped newc cpio archive) before a guest boots it: a broken one
//! shows only as a guest panic, "VFS: Unable to mount root fs".

use std::{
    fs,
    io::Read as _,
    path::{Component, Path},
};

use anyhow::{Context as _, Result, bail};
use flate2::read::MultiGzDecoder;

const MAGIC: &[u8] = b"070701";
/// The magic and thirteen 8-digit hex fields.
const HEADER: usize = 110;
const FILESIZE_AT: usize = 54;
const NAMESIZE_AT: usize = 94;
const TRAILER: &str = "TRAILER!!!";

/// Fails, naming `path` and what is wrong, unless it is a readable, non-empty gzip of a newc
/// archive that holds `/init` and ends with the trailer entry.
pub fn check(path: &Path) -> Result<()> {
    let file = path.display();
    let gz = fs::read(path).with_context(|| format!("{file} is unreadable"))?;
    if gz.is_empty() {
        bail!("{file} is empty");
    }
    if !gz.starts_with(&[0x1f, 0x8b]) {
        bail!("{file} is not gzip");
    }
    let mut cpio = Vec::new();
    // The kernel unpacks concatenated gzip members too.
    MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut cpio)
        .with_context(|| format!("{file} is not valid gzip"))?;
    let names = entries(&cpio).map_err(|e| anyhow::anyhow!("{file} {e}"))?;
    let init = [Component::Normal("init".as_ref())];
    if !names.iter().any(|n| {
        Path::new(n)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .eq(init)
    }) {
        bail!("{file} has no /init");
    }
    Ok(())
}

/// The names of the entries of newc archive `cpio` before its trailer, or what is wrong with
/// it as a phrase that follows the file name. Each entry is the
/// header, the NUL-ended name padded so that header and name fill a multiple of 4 bytes, and
/// the data padded to 4.
fn entries(cpio: &[u8]) -> Result<Vec<String>, String> {
    if cpio.is_empty() {
        return Err("decompresses to nothing".into());
    }
    if !cpio.starts_with(MAGIC) {
        return Err("is not a newc cpio archive (no 070701 magic)".into());
    }
    let mut names = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = cpio.get(at..at + HEADER) else {
            return Err(format!(
                "ends at byte {at} of its archive, before the {TRAILER} entry"
            ));
        };
        if !header.starts_with(MAGIC) {
            return Err(format!(
                "has an archive entry at byte {at} with no 070701 magic"
            ));
        }
        let field = |off: usize, what: &str| {
            std::str::from_utf8(&header[off..off + 8])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("has an archive entry at byte {at} with a bad {what}"))
        };
        let (filesize, namesize) = (
            field(FILESIZE_AT, "file size")?,
            field(NAMESIZE_AT, "name size")?,
        );
        let name_end = at + HEADER + namesize;
        let data_end = name_end.next_multiple_of(4) + filesize;
        let name = cpio
            .get(at + HEADER..name_end)
            .filter(|_| data_end <= cpio.len())
            .ok_or_else(|| format!("has an archive entry at byte {at} cut short"))?;
        let name = String::from_utf8_lossy(name.strip_suffix(b"\0").unwrap_or(name)).into_owned();
        if name == TRAILER {
            return Ok(names);
        }
        names.push(name);
        at = data_end.next_multiple_of(4);
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use flate2::{Compression, write::GzEncoder};
    use std::{fs, io::Write as _, path::PathBuf};

    /// A newc archive of `files` (name, data), ended by the trailer when `trailer`.
    fn newc(files: &[(&str, &[u8])], trailer: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let last = [("TRAILER!!!", &b""[..])];
        let all = files.iter().chain(if trailer { &last[..] } else { &[] });
        for (ino, (name, data)) in all.enumerate() {
            let fields = [
                ino,
                0o100755,
                0,
                0,
                1,
                0,
                data.len(),
                0,
                0,
                0,
                0,
                name.len() + 1,
                0,
            ];
            out.extend_from_slice(b"070701");
            for f in fields {
                out.extend_from_slice(format!("{f:08X}").as_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().next_multiple_of(4), 0);
            out.extend_from_slice(data);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        out
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// The error `check` gives for a file holding `bytes`, with the file's path as `F`.
    fn error(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("initrd.gz");
        fs::write(&path, bytes).unwrap();
        match check(&path) {
            Ok(()) => "ok".into(),
            Err(e) => format!("{e:#}").replace(path.to_str().unwrap(), "F"),
        }
    }

    #[test]
    fn a_good_archive_passes() {
        let archive = newc(
            &[
                (".", b""),
                ("bin", b""),
                ("./init", b"#!/bin/sh\n"),
                ("rethfs", b"\x7fELF"),
            ],
            true,
        );
        assert_eq!(error(&gzip(&archive)), "ok");
    }

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let missing = PathBuf::from("/nonexistent/initrd.gz");
        let err = format!("{:#}", check(&missing).unwrap_err());
        assert!(
            err.starts_with("/nonexistent/initrd.gz is unreadable: "),
            "{err}"
        );
        assert_eq!(error(b""), "F is empty");
    }

    #[test]
    fn what_is_not_gzip_is_refused() {
        assert_eq!(error(b"070701 not compressed"), "F is not gzip");
        let mut cut = gzip(&newc(&[("init", b"x")], true));
        cut.truncate(cut.len() - 10);
        assert!(
            error(&cut).starts_with("F is not valid gzip: "),
            "{}",
            error(&cut)
        );
    }

    #[test]
    fn gzip_of_anything_but_a_whole_newc_archive_with_init_is_refused() {
        assert_eq!(error(&gzip(b"")), "F decompresses to nothing");
        assert_eq!(
            error(&gzip(b"garbage, not an archive")),
            "F is not a newc cpio archive (no 070701 magic)"
        );
        assert_eq!(error(&gzip(&newc(&[("bin", b"")], true))), "F has no /init");
        assert_eq!(
            error(&gzip(&newc(&[("init", b"#!/bin/sh\n")], false))),
            "F ends at byte 128 of its archive, before the TRAILER!!! entry"
        );
        let mut cut = newc(&[("init", b"#!/bin/sh\n")], false);
        cut.truncate(120);
        assert_eq!(
            error(&gzip(&cut)),
            "F has an archive entry at byte 0 cut short"
        );
    }
}
