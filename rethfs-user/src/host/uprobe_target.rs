//! The function rethfs's uprobes attach to: one in rethfs's own executable, found by its ELF
//! symbol and turned into the file offset `uprobe_events` wants, never guessed.

use std::{fs, path::PathBuf};

/// Never called by rethfs; it only gives uprobes a place in a binary rethfs controls.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn rethfs_uprobe_target() -> u64 {
    std::hint::black_box(0x7265_7468)
}

const SYMBOL: &str = "rethfs_uprobe_target";

/// `PATH:0xOFFSET` of [`rethfs_uprobe_target`] in the running executable, found once (every
/// scenario with `{uprobe}` asks, and the executable does not change while it runs).
pub fn uprobe_target() -> Result<String, String> {
    static TARGET: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    TARGET
        .get_or_init(|| {
            // Taking its address keeps the linker from dropping the otherwise unused function.
            std::hint::black_box(rethfs_uprobe_target as *const ());
            let exe =
                fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
            let offset = symbol_file_offset(&exe, SYMBOL)?;
            Ok(format!("{}:{offset:#x}", exe.display()))
        })
        .clone()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The file offset of `symbol` in the 64-bit little-endian ELF `path`: its value from
/// `.symtab` (or `.dynsym`), mapped through the PT_LOAD segment that contains it.
pub fn symbol_file_offset(path: &PathBuf, symbol: &str) -> Result<u64, String> {
    let b = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |what: &str| format!("{}: {what}", path.display());
    if b.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err(bad("not a 64-bit little-endian ELF file"));
    }
    let (phoff, shoff) = (
        u64_at(&b, 32).ok_or(bad("short header"))? as usize,
        u64_at(&b, 40).ok_or(bad("short header"))? as usize,
    );
    let (phnum, shnum) = (
        u16_at(&b, 56).ok_or(bad("short header"))? as usize,
        u16_at(&b, 60).ok_or(bad("short header"))? as usize,
    );
    let section = |i: usize| shoff + i * 64;
    let mut value = None;
    // SHT_SYMTAB (2), then SHT_DYNSYM (11); each names its string table in sh_link.
    for wanted in [2u32, 11] {
        for i in 0..shnum {
            let sh = section(i);
            if u32_at(&b, sh + 4) != Some(wanted) {
                continue;
            }
            let (off, size) = (
                u64_at(&b, sh + 24).unwrap_or(0) as usize,
                u64_at(&b, sh + 32).unwrap_or(0) as usize,
            );
            let strtab = section(u32_at(&b, sh + 40).unwrap_or(0) as usize);
            let str_off = u64_at(&b, strtab + 24).unwrap_or(0) as usize;
            for sym in (off..off + size).step_by(24) {
                let name_at = str_off + u32_at(&b, sym).unwrap_or(0) as usize;
                let name = b
                    .get(name_at..)
                    .and_then(|t| t.split(|&c| c == 0).next())
                    .unwrap_or_default();
                if name == symbol.as_bytes() {
                    value = u64_at(&b, sym + 8);
                    break;
                }
            }
            if value.is_some() {
                break;
            }
        }
        if value.is_some() {
            break;
        }
    }
    let vaddr = value.ok_or_else(|| bad(&format!("no symbol {symbol}")))?;
    for i in 0..phnum {
        let ph = phoff + i * 56;
        if u32_at(&b, ph) != Some(1) {
            continue;
        }
        let (p_offset, p_vaddr, p_filesz) = (
            u64_at(&b, ph + 8).unwrap_or(0),
            u64_at(&b, ph + 16).unwrap_or(0),
            u64_at(&b, ph + 32).unwrap_or(0),
        );
        if (p_vaddr..p_vaddr + p_filesz).contains(&vaddr) {
            return Ok(vaddr - p_vaddr + p_offset);
        }
    }
    Err(bad(&format!(
        "{symbol} ({vaddr:#x}) is in no loadable segment"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_function_in_its_own_binary() {
        let target = uprobe_target().unwrap();
        let (_, off) = target.rsplit_once(':').unwrap();
        let off = u64::from_str_radix(off.trim_start_matches("0x"), 16).unwrap();
        // The bytes at that offset are the function's code: compare with memory.
        let exe = fs::read("/proc/self/exe").unwrap();
        let code = unsafe { std::slice::from_raw_parts(rethfs_uprobe_target as *const u8, 8) };
        assert_eq!(&exe[off as usize..off as usize + 8], code);
    }

    #[test]
    fn refuses_what_is_not_elf_or_lacks_the_symbol() {
        assert!(
            symbol_file_offset(&PathBuf::from("/proc/self/status"), SYMBOL)
                .unwrap_err()
                .contains("not a 64-bit")
        );
        let exe = fs::read_link("/proc/self/exe").unwrap();
        assert!(
            symbol_file_offset(&exe, "no_such_symbol_here")
                .unwrap_err()
                .contains("no symbol")
        );
    }
}
