//! The events the host already has, so the model starts from the same tree.

use std::path::Path;

use super::getdents::getdents64;
use crate::model::StaticEvent;

/// Subdirectories of `dir` in the kernel's listing order (eventfs lists children in creation
/// order, which the model reproduces by creating them in this order).
fn subdirs(dir: &Path) -> Vec<String> {
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
                .filter(|d| {
                    d.kind == crate::target::FileKind::Dir && d.name != "." && d.name != ".."
                })
                .map(|d| d.name),
        );
    }
    out
}

/// Every `group/event` under `events/` except rethfs's own groups.
pub fn static_events(root: &Path) -> Vec<StaticEvent> {
    let events = root.join("events");
    subdirs(&events)
        .into_iter()
        .filter(|g| super::cleanup::owner_pid(g).is_none())
        .flat_map(|g| {
            subdirs(&events.join(&g))
                .into_iter()
                .map(move |e| StaticEvent::new(&g, &e))
        })
        .collect()
}
