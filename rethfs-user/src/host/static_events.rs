//! The events the host already has, so the model starts from the same tree.

use std::path::Path;

use super::getdents::getdents64;
use crate::{
    interface::FileKind,
    model::{InstanceEntry, StaticEvent},
};

fn subdirs(dir: &Path) -> Vec<String> {
    entries(dir, FileKind::Dir)
}

/// Every entry of `dir` but `.` and `..`, with its kind, in listing order.
fn listed(dir: &Path) -> Vec<(String, FileKind)> {
    let Ok(f) = std::fs::OpenOptions::new().read(true).open(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Ok(batch) = getdents64(&f, 65536) {
        if batch.is_empty() {
            break;
        }
        out.extend(
            batch
                .into_iter()
                .filter(|d| d.name != "." && d.name != "..")
                .map(|d| (d.name, d.kind)),
        );
    }
    out
}

/// Entries of `dir` of one kind in the kernel's listing order (eventfs lists children in
/// creation order, which the model reproduces by creating them in this order).
fn entries(dir: &Path, kind: FileKind) -> Vec<String> {
    listed(dir)
        .into_iter()
        .filter(|(_, k)| *k == kind)
        .map(|(n, _)| n)
        .collect()
}

/// Every `group/event` under `events/` except rethfs's own groups.
pub fn static_events(root: &Path) -> Vec<StaticEvent> {
    let events = root.join("events");
    subdirs(&events)
        .into_iter()
        .filter(|g| super::cleanup::owner_pid(g).is_none())
        .flat_map(|g| {
            let group = events.join(&g);
            subdirs(&group).into_iter().map(move |e| StaticEvent {
                files: Some(entries(&group.join(&e), FileKind::File)),
                ..StaticEvent::new(&g, &e)
            })
        })
        .collect()
}

/// What a new instance looks like, read off a short-lived instance of this run
/// (`rethfs_<pid>_order`): its `events/` group order, and its directory's entries in creation
/// order (tracefs lists them newest first). Empty if one cannot be made.
pub fn instance_layout(root: &Path) -> (Vec<String>, Vec<InstanceEntry>) {
    let dir = root
        .join("instances")
        .join(format!("rethfs_{}_order", std::process::id()));
    if std::fs::create_dir(&dir).is_err() {
        return (Vec::new(), Vec::new());
    }
    let groups = subdirs(&dir.join("events"));
    let mut entries: Vec<InstanceEntry> = listed(&dir)
        .into_iter()
        .map(|(name, kind)| {
            use std::os::unix::fs::MetadataExt;
            let is_dir = kind == FileKind::Dir;
            let meta = std::fs::metadata(dir.join(&name)).ok();
            InstanceEntry {
                perm: meta.as_ref().map_or(0o640, |m| m.mode() & 0o7777),
                nlink: meta.map_or(if is_dir { 2 } else { 1 }, |m| m.nlink()),
                dir: is_dir,
                name,
            }
        })
        .collect();
    entries.reverse();
    if let Err(e) = std::fs::remove_dir(&dir) {
        log::warn!("{}: {e} (rethfs cleanup removes it)", dir.display());
    }
    let groups = groups
        .into_iter()
        .filter(|g| super::cleanup::owner_pid(g).is_none())
        .collect();
    (groups, entries)
}

/// The order of the files in an event directory and in `events/`, as this kernel lists them
/// (taken from the event with the most files, and from `events/`).
pub fn entry_orders(
    root: &Path,
    events: &[StaticEvent],
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let event = events
        .iter()
        .filter_map(|e| e.files.clone())
        .max_by_key(Vec::len);
    let top = entries(&root.join("events"), FileKind::File);
    (event, (!top.is_empty()).then_some(top))
}
