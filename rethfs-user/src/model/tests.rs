//! One test per modelled rule, each naming the kernel behaviour it pins.

use super::{Model, ModelConfig, Policy};
use crate::interface::{
    Action, ControlFile, Errno, LifetimeKind, OpenMode, Outcome, Target, Value,
};

const FILE_INO: u64 = 19_680_823;

fn model(policy: Policy) -> Model {
    Model::new(policy, ModelConfig::default())
}

/// A regular file for uprobes to name: this test binary.
fn exe() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

fn ok(m: &mut Model, a: Action) -> Value {
    match m.apply(&a) {
        Outcome::Ok(v) => v,
        o => panic!("{a:?} failed: {o}"),
    }
}

fn err(m: &mut Model, a: Action) -> Errno {
    match m.apply(&a) {
        Outcome::Err(e) => e,
        o => panic!("{a:?} did not fail: {o}"),
    }
}

fn uprobe(m: &mut Model, spec: &str) {
    ok(
        m,
        Action::Control {
            file: ControlFile::UprobeEvents,
            line: format!("p:{spec} {}:0x1000", exe()),
        },
    );
}

/// `echo -:SPEC >> uprobe_events`: the errno, if refused.
fn remove(m: &mut Model, spec: &str) -> Result<(), Errno> {
    match m.apply(&Action::Control {
        file: ControlFile::UprobeEvents,
        line: format!("-:{spec}"),
    }) {
        Outcome::Err(e) => Err(e),
        _ => Ok(()),
    }
}

fn stat(m: &mut Model, path: &str) -> super::super::interface::StatInfo {
    match ok(m, Action::Stat { path: path.into() }) {
        Value::Stat(s) => s,
        v => panic!("{v:?}"),
    }
}

fn open(m: &mut Model, path: &str, mode: OpenMode, handle: &str) {
    ok(
        m,
        Action::Open {
            path: path.into(),
            mode,
            handle: handle.into(),
        },
    );
}

fn read(m: &mut Model, handle: &str) -> Outcome {
    m.apply(&Action::Read {
        handle: handle.into(),
        len: 4096,
    })
}

fn getdents(
    m: &mut Model,
    handle: &str,
    buffer: usize,
) -> Result<Vec<crate::interface::Dirent>, Errno> {
    match m.apply(&Action::Getdents {
        handle: handle.into(),
        buffer,
    }) {
        Outcome::Ok(Value::Dirents { entries }) => Ok(entries),
        Outcome::Err(e) => Err(e),
        o => panic!("{o:?}"),
    }
}

fn count(m: &mut Model, kind: LifetimeKind, path: &str) -> usize {
    m.lifetimes
        .iter()
        .filter(|l| l.kind == kind && l.path == path)
        .count()
}

#[test]
fn every_eventfs_file_shares_eventfs_file_inode_ino() {
    // lookup_file: inode->i_ino = EVENTFS_FILE_INODE_INO (6.8+).
    let mut m = model(Policy::V6_17);
    assert_eq!(
        stat(&mut m, "events/sched/sched_switch/enable").ino,
        FILE_INO
    );
    assert_eq!(
        stat(&mut m, "events/syscalls/sys_exit_openat/format").ino,
        FILE_INO
    );
    assert_eq!(stat(&mut m, "events/enable").ino, FILE_INO);
    // Before 6.8 every inode drew its own number.
    let mut old = model(Policy::V6_6);
    let a = stat(&mut old, "events/sched/sched_switch/enable").ino;
    let b = stat(&mut old, "events/sched/sched_wakeup/enable").ino;
    assert!(a != b && a != FILE_INO);
}

#[test]
fn directory_numbers_live_in_the_ei_until_it_is_freed() {
    // eventfs_dir_ino: drawn once, kept across dentry eviction, new after recreate.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    let first = stat(&mut m, "events/rt/ev").ino;
    ok(&mut m, Action::DropCaches);
    assert_eq!(
        stat(&mut m, "events/rt/ev").ino,
        first,
        "stable across drop_caches"
    );
    assert_eq!(remove(&mut m, "rt/ev"), Ok(()));
    uprobe(&mut m, "rt/ev");
    assert_ne!(
        stat(&mut m, "events/rt/ev").ino,
        first,
        "renewed after recreate"
    );
}

#[test]
fn readdir_draws_directory_numbers_and_agrees_with_stat() {
    // eventfs_iterate calls eventfs_dir_ino for each child: d_ino == st_ino.
    let mut m = model(Policy::V6_17);
    open(&mut m, "events", OpenMode::Directory, "d");
    let entries = getdents(&mut m, "d", 32768).unwrap();
    let sched = entries.iter().find(|e| e.name == "sched").unwrap();
    assert_eq!(stat(&mut m, "events/sched").ino, sched.ino);
    let enable = entries.iter().find(|e| e.name == "enable").unwrap();
    assert_eq!(enable.ino, FILE_INO);
    assert_eq!(
        entries.iter().find(|e| e.name == ".").unwrap().ino,
        stat(&mut m, "events").ino
    );
}

#[test]
fn eventfs_directories_have_one_link() {
    // d_instantiate with nlink untouched: "tells userspace not to trust the link number" (6.8+).
    let mut m = model(Policy::V6_10);
    assert_eq!(stat(&mut m, "events").nlink, 1);
    assert_eq!(stat(&mut m, "events/sched").nlink, 1);
    let mut old = model(Policy::PreEventfs);
    assert_eq!(stat(&mut old, "events/sched").nlink, 2 + 3);
}

#[test]
fn a_removed_event_is_gone_for_new_lookups_and_its_stale_dentry_dies() {
    // tracefs_d_revalidate fails for a freed ei; the walk invalidates and looks up again.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    stat(&mut m, "events/rt/ev/enable");
    assert_eq!(remove(&mut m, "rt/ev"), Ok(()));
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "events/rt/ev/enable".into()
            }
        ),
        Errno::ENOENT
    );
    assert_eq!(
        count(&mut m, LifetimeKind::RevalidateFailed, "events/rt"),
        1
    );
    assert_eq!(
        count(&mut m, LifetimeKind::DentryKilled, "events/rt/ev/enable"),
        1
    );
    // The stale dentry, then the negative one the fresh ->lookup made and nobody keeps.
    assert_eq!(count(&mut m, LifetimeKind::DentryKilled, "events/rt"), 2);
    assert_eq!(count(&mut m, LifetimeKind::DentryBorn, "events/rt"), 2);
    // The group's ei, its event's ei: released once their dentries died.
    assert!(
        m.eis
            .iter()
            .filter(|e| e.path.starts_with("events/rt"))
            .all(|e| e.released)
    );
}

#[test]
fn open_files_outlive_removal_with_enodev_and_id_keeps_its_number() {
    // EVENT_FILE_FL_FREED: enable/filter/format refuse; id stores the number in i_private.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    open(&mut m, "events/rt/ev/enable", OpenMode::ReadWrite, "en");
    open(&mut m, "events/rt/ev/id", OpenMode::Read, "id");
    open(&mut m, "events/rt/ev/format", OpenMode::Read, "fmt");
    let id = read(&mut m, "id");
    assert_eq!(
        remove(&mut m, "rt/ev"),
        Ok(()),
        "an open enable file does not block removal"
    );
    ok(
        &mut m,
        Action::Seek {
            handle: "id".into(),
            pos: 0,
        },
    );
    assert_eq!(read(&mut m, "id"), id);
    assert_eq!(read(&mut m, "en"), Outcome::Err(Errno::ENODEV));
    assert_eq!(
        err(
            &mut m,
            Action::Write {
                handle: "en".into(),
                data: "1".into()
            }
        ),
        Errno::ENODEV
    );
    assert_eq!(
        err(
            &mut m,
            Action::Write {
                handle: "en".into(),
                data: "2".into()
            }
        ),
        Errno::EINVAL,
        "the value is checked first"
    );
    assert_eq!(read(&mut m, "fmt"), Outcome::Err(Errno::ENODEV));
    for h in ["en", "id", "fmt"] {
        ok(&mut m, Action::Close { handle: h.into() });
    }
}

#[test]
fn format_after_removal_read_freed_memory_before_6_10() {
    // b1560408 (6.11-rc3, 6.10.y): before it format's i_private was the call and no check ran.
    let mut m = model(Policy::V6_8);
    uprobe(&mut m, "rt/ev");
    open(&mut m, "events/rt/ev/format", OpenMode::Read, "fmt");
    remove(&mut m, "rt/ev").unwrap();
    assert!(read(&mut m, "fmt").is_ok());
}

#[test]
fn removal_while_enabled_is_ebusy_until_disabled() {
    // probe_remove_event_call: EVENT_FILE_FL_ENABLED in any trace array is -EBUSY.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    ok(
        &mut m,
        Action::Mkdir {
            path: "instances/i1".into(),
        },
    );
    ok(
        &mut m,
        Action::WriteFile {
            path: "instances/i1/events/rt/ev/enable".into(),
            data: "1".into(),
        },
    );
    assert_eq!(remove(&mut m, "rt/ev"), Err(Errno::EBUSY));
    ok(
        &mut m,
        Action::WriteFile {
            path: "instances/i1/events/rt/ev/enable".into(),
            data: "0".into(),
        },
    );
    assert_eq!(remove(&mut m, "rt/ev"), Ok(()));
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "instances/i1/events/rt".into()
            }
        ),
        Errno::ENOENT
    );
    ok(
        &mut m,
        Action::Rmdir {
            path: "instances/i1".into(),
        },
    );
}

#[test]
fn instance_rmdir_is_blocked_only_by_files_that_pin_the_instance() {
    // __remove_instance: tr->ref > 1 (enable, filter, events/enable, trace...) or trace_ref.
    for (path, blocks) in [
        ("instances/i/events/sched/sched_switch/enable", true),
        ("instances/i/events/sched/sched_switch/filter", true),
        ("instances/i/events/sched/enable", true),
        ("instances/i/events/enable", true),
        ("instances/i/trace_pipe", true),
        ("instances/i/events/sched/sched_switch/format", false),
        ("instances/i/events/sched/sched_switch/id", false),
        ("instances/i/events/sched/sched_switch/trigger", false),
        ("instances/i/events/sched", false),
    ] {
        let mut m = model(Policy::V6_17);
        ok(
            &mut m,
            Action::Mkdir {
                path: "instances/i".into(),
            },
        );
        let mode = if path.ends_with("sched") {
            OpenMode::Directory
        } else {
            OpenMode::Read
        };
        open(&mut m, path, mode, "h");
        let r = m.apply(&Action::Rmdir {
            path: "instances/i".into(),
        });
        assert_eq!(r == Outcome::Err(Errno::EBUSY), blocks, "{path}: {r}");
        ok(&mut m, Action::Close { handle: "h".into() });
        if blocks {
            ok(
                &mut m,
                Action::Rmdir {
                    path: "instances/i".into(),
                },
            );
        }
        assert_eq!(
            err(
                &mut m,
                Action::Stat {
                    path: "instances/i".into()
                }
            ),
            Errno::ENOENT
        );
    }
}

#[test]
fn readdir_offsets_repeat_the_kernels_child_loop_quirk() {
    // eventfs_iterate bumps ctx->pos before emitting a child: the entry before the first
    // directory carries d_off one too far, and seeking there skips that directory. Seen on
    // 6.18: filter@3 enable@5 ev1@5 for a group with one event.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev1");
    open(&mut m, "events/rt", OpenMode::Directory, "d");
    let all = getdents(&mut m, "d", 32768).unwrap();
    let offs: Vec<(&str, i64)> = all.iter().map(|e| (e.name.as_str(), e.off)).collect();
    assert_eq!(
        offs,
        [
            (".", 1),
            ("..", 2),
            ("filter", 3),
            ("enable", 5),
            ("ev1", 5)
        ]
    );
    ok(
        &mut m,
        Action::Seek {
            handle: "d".into(),
            pos: 5,
        },
    );
    assert_eq!(getdents(&mut m, "d", 32768).unwrap(), vec![]);
    // A buffer that ends after `enable` leaves f_pos at 4, where the next call resumes.
    ok(
        &mut m,
        Action::Seek {
            handle: "d".into(),
            pos: 0,
        },
    );
    let first = getdents(&mut m, "d", 120).unwrap();
    assert_eq!(
        first.last().map(|e| (e.name.as_str(), e.off)),
        Some(("enable", 4))
    );
    assert_eq!(getdents(&mut m, "d", 120).unwrap()[0].name, "ev1");
}

#[test]
fn a_buffer_too_small_for_one_entry_is_einval() {
    // filldir64 sets -EINVAL and nothing was copied.
    let mut m = model(Policy::V6_17);
    open(&mut m, "events", OpenMode::Directory, "d");
    assert_eq!(getdents(&mut m, "d", 16), Err(Errno::EINVAL));
}

#[test]
fn a_removed_directory_lists_its_dots_then_einval() {
    // eventfs_iterate: dir_emit_dots first, then -EINVAL for a freed ei.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    open(&mut m, "events/rt/ev", OpenMode::Directory, "d");
    remove(&mut m, "rt/ev").unwrap();
    let names: Vec<String> = getdents(&mut m, "d", 32768)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, [".", ".."]);
    assert_eq!(getdents(&mut m, "d", 32768), Err(Errno::EINVAL));
    assert_eq!(
        err(
            &mut m,
            Action::OpenAt {
                dir: "d".into(),
                path: "enable".into(),
                as_handle: "x".into()
            }
        ),
        Errno::ENOENT
    );
}

#[test]
fn a_cwd_inside_a_removed_event_finds_nothing_and_sees_the_recreated_one_by_path() {
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    ok(
        &mut m,
        Action::Chdir {
            path: "events/rt/ev".into(),
        },
    );
    remove(&mut m, "rt/ev").unwrap();
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "./enable".into()
            }
        ),
        Errno::ENOENT
    );
    uprobe(&mut m, "rt/ev");
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "./enable".into()
            }
        ),
        Errno::ENOENT,
        "the old ei stays freed"
    );
    assert_eq!(stat(&mut m, "events/rt/ev/enable").ino, FILE_INO);
    ok(
        &mut m,
        Action::Chdir {
            path: "events".into(),
        },
    );
}

#[test]
fn ownership_is_saved_in_the_ei_and_lost_with_the_event() {
    // eventfs_set_attr: update_attr into ei->attr / entry_attrs; survives dentry eviction.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    ok(
        &mut m,
        Action::Chmod {
            path: "events/rt/ev/enable".into(),
            mode: 0o600,
        },
    );
    ok(
        &mut m,
        Action::Chown {
            path: "events/rt/ev".into(),
            uid: Some(1000),
            gid: Some(100),
        },
    );
    ok(&mut m, Action::DropCaches);
    assert_eq!(stat(&mut m, "events/rt/ev/enable").perm, 0o600);
    let dir = stat(&mut m, "events/rt/ev");
    assert_eq!((dir.uid, dir.gid), (1000, 100));
    remove(&mut m, "rt/ev").unwrap();
    uprobe(&mut m, "rt/ev");
    assert_eq!(stat(&mut m, "events/rt/ev/enable").perm, 0o640);
    assert_eq!(stat(&mut m, "events/rt/ev").uid, 0);
}

#[test]
fn remount_sets_every_gid_but_only_the_roots_uid_before_eventfs() {
    // tracefs_apply_options: set_gid(sb->s_root, gid) walks the dcache; i_uid is the root's.
    let mut m = model(Policy::PreEventfs);
    ok(
        &mut m,
        Action::Chown {
            path: "events/sched/sched_switch".into(),
            uid: Some(1234),
            gid: Some(1234),
        },
    );
    ok(
        &mut m,
        Action::Remount {
            options: "uid=4321,gid=4321".into(),
        },
    );
    let dir = stat(&mut m, "events/sched/sched_switch");
    let file = stat(&mut m, "events/sched/sched_switch/enable");
    assert_eq!(
        (dir.uid, dir.gid, file.uid, file.gid),
        (1234, 4321, 0, 4321)
    );
    assert_eq!((stat(&mut m, "").uid, stat(&mut m, "").gid), (4321, 4321));
}

#[test]
fn remount_resets_saved_owners_since_6_10() {
    // eventfs_set_attrs (340f0c70): SAVE_UID cleared and the new uid stored tree-wide.
    let mut m = model(Policy::V6_10);
    ok(
        &mut m,
        Action::Chown {
            path: "events/sched/sched_switch/enable".into(),
            uid: Some(1000),
            gid: None,
        },
    );
    ok(
        &mut m,
        Action::Remount {
            options: "uid=2000".into(),
        },
    );
    assert_eq!(stat(&mut m, "events/sched/sched_switch/enable").uid, 2000);
    ok(&mut m, Action::DropCaches);
    assert_eq!(
        stat(&mut m, "events/sched/sched_switch/enable").uid,
        2000,
        "also for rebuilt inodes"
    );
    assert_eq!(
        err(
            &mut m,
            Action::Remount {
                options: "colour=blue".into()
            }
        ),
        Errno::EINVAL
    );
}

#[test]
fn a_remount_frees_the_unused_dentries_first() {
    // Seen in the 6.12 and 7.2 VMs: reconfigure_super's shrink_dcache_sb kills what a stat
    // left cached, and the next stat looks it up again.
    let mut m = model(Policy::V6_17);
    stat(&mut m, "events/sched/sched_switch/enable");
    m.take_lifetimes();
    ok(
        &mut m,
        Action::Remount {
            options: "uid=0".into(),
        },
    );
    let killed: Vec<String> = m
        .take_lifetimes()
        .into_iter()
        .filter(|l| l.kind == LifetimeKind::DentryKilled)
        .map(|l| l.path)
        .collect();
    assert!(
        killed.contains(&"events/sched/sched_switch/enable".to_owned()),
        "{killed:?}"
    );
    // A refused option shrinks nothing: the mount call fails before reconfigure_super.
    stat(&mut m, "events/sched/sched_switch/enable");
    m.take_lifetimes();
    err(
        &mut m,
        Action::Remount {
            options: "colour=blue".into(),
        },
    );
    assert!(m.take_lifetimes().is_empty());
}

#[test]
fn namespace_operations_are_refused_as_the_vfs_refuses_them() {
    let mut m = model(Policy::V6_17);
    assert_eq!(
        err(
            &mut m,
            Action::Mkdir {
                path: "events/newgroup".into()
            }
        ),
        Errno::EPERM
    );
    assert_eq!(
        err(
            &mut m,
            Action::Mkdir {
                path: "events/sched".into()
            }
        ),
        Errno::EEXIST
    );
    assert_eq!(
        err(
            &mut m,
            Action::Rmdir {
                path: "events/sched".into()
            }
        ),
        Errno::EPERM
    );
    assert_eq!(
        err(
            &mut m,
            Action::Unlink {
                path: "events/enable".into()
            }
        ),
        Errno::EPERM
    );
    assert_eq!(
        err(
            &mut m,
            Action::Unlink {
                path: "events/sched".into()
            }
        ),
        Errno::EISDIR
    );
    assert_eq!(
        err(
            &mut m,
            Action::Rename {
                from: "events/sched".into(),
                to: "events/x".into()
            }
        ),
        Errno::EPERM
    );
    assert_eq!(
        err(
            &mut m,
            Action::Open {
                path: "events/newfile".into(),
                mode: OpenMode::Create,
                handle: "h".into()
            }
        ),
        Errno::EACCES
    );
}

#[test]
fn kref_counts_existence_plus_referencing_dentries() {
    // "We count only references from dentries" plus one for existence until removal.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    stat(&mut m, "events/rt/ev/enable");
    stat(&mut m, "events/rt/ev/id");
    let ev = m.eis.iter().position(|e| e.path == "events/rt/ev").unwrap();
    // Its own directory dentry and two file dentries.
    assert_eq!(m.eis[ev].kref, 1 + 3);
    ok(&mut m, Action::DropCaches);
    assert_eq!(m.eis[ev].kref, 1);
}

#[test]
fn sibling_probes_share_one_event_and_go_together() {
    // append_trace_uprobe: same GRP/EVENT, new place joins; `-:GRP/EVENT` frees them all.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/ev");
    ok(
        &mut m,
        Action::Control {
            file: ControlFile::UprobeEvents,
            line: format!("p:rt/ev {}:0x1010", exe()),
        },
    );
    assert_eq!(
        m.apply(&Action::Control {
            file: ControlFile::UprobeEvents,
            line: format!("p:rt/ev {}:0x1010", exe())
        }),
        Outcome::Err(Errno::EEXIST),
        "the exact same probe"
    );
    assert_eq!(m.probes.len(), 2);
    assert_eq!(remove(&mut m, "rt/ev"), Ok(()));
    assert!(m.probes.is_empty());
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "events/rt".into()
            }
        ),
        Errno::ENOENT,
        "the group goes with its last event"
    );
    assert_eq!(remove(&mut m, "rt/ev"), Err(Errno::ENOENT));
}

#[test]
fn a_user_event_is_made_once_per_field_list_and_freed_by_its_fields() {
    // user_event_parse: the same name and fields find the event made; other fields are
    // EADDRINUSE. user_event_match: `!u:NAME FIELDS` frees it only with exactly its fields.
    let mut m = model(Policy::V6_17);
    let line = |l: &str| Action::Control {
        file: ControlFile::DynamicEvents,
        line: l.into(),
    };
    ok(&mut m, line("u:ue u32 count; char msg"));
    ok(&mut m, line("u:ue u32 count;char msg"));
    assert_eq!(err(&mut m, line("u:ue u64 count")), Errno::EADDRINUSE);
    assert_eq!(err(&mut m, line("u:bad-name")), Errno::EINVAL);
    stat(&mut m, "events/user_events/ue/format");
    assert_eq!(err(&mut m, line("!u:ue u32 count")), Errno::ENOENT);
    ok(&mut m, line("!u:ue u32 count; char msg"));
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "events/user_events".into()
            }
        ),
        Errno::ENOENT,
        "the group goes with its last event"
    );
    let without = ModelConfig {
        user_events: false,
        ..ModelConfig::default()
    };
    assert_eq!(
        err(&mut Model::new(Policy::V6_17, without), line("u:ue")),
        Errno::EINVAL,
        "no CONFIG_USER_EVENTS: no dyn_event_operations claims the line (-ECANCELED)"
    );
}

#[test]
fn dynamic_events_appear_in_every_instance() {
    // __add_event_to_tracers and __trace_add_event_dirs.
    let mut m = model(Policy::V6_17);
    uprobe(&mut m, "rt/before");
    ok(
        &mut m,
        Action::Mkdir {
            path: "instances/i".into(),
        },
    );
    uprobe(&mut m, "rt/after");
    stat(&mut m, "instances/i/events/rt/before/enable");
    stat(&mut m, "instances/i/events/rt/after/enable");
    assert_eq!(
        err(
            &mut m,
            Action::Mkdir {
                path: "instances/i".into()
            }
        ),
        Errno::EEXIST
    );
}

#[test]
fn negative_plain_dentries_are_cached_until_6_17() {
    // tracefs_d_delete (6.17) returns d_fsdata == NULL: misses in plain dirs are not kept.
    for (policy, births) in [(Policy::V6_10, 1), (Policy::V6_17, 2)] {
        let mut m = model(policy);
        for _ in 0..2 {
            assert_eq!(
                err(
                    &mut m,
                    Action::Stat {
                        path: "instances/nope".into()
                    }
                ),
                Errno::ENOENT
            );
        }
        assert_eq!(
            count(&mut m, LifetimeKind::DentryBorn, "instances/nope"),
            births,
            "{policy}"
        );
    }
}

#[test]
fn a_live_file_is_born_once_however_often_it_is_used() {
    // The thread's worry: stat then open/write/close must reuse the cached dentry.
    let mut m = model(Policy::V6_17);
    for _ in 0..5 {
        stat(&mut m, "events/sched/sched_switch/enable");
        ok(
            &mut m,
            Action::WriteFile {
                path: "events/sched/sched_switch/enable".into(),
                data: "0".into(),
            },
        );
    }
    assert_eq!(
        count(
            &mut m,
            LifetimeKind::DentryBorn,
            "events/sched/sched_switch/enable"
        ),
        1
    );
}

#[test]
fn before_eventfs_dentries_are_pinned_and_removed_with_the_event() {
    let mut m = model(Policy::PreEventfs);
    uprobe(&mut m, "rt/ev");
    let before = stat(&mut m, "events/rt/ev/enable").ino;
    ok(&mut m, Action::DropCaches);
    assert_eq!(
        stat(&mut m, "events/rt/ev/enable").ino,
        before,
        "pinned: never evicted"
    );
    assert_eq!(
        count(&mut m, LifetimeKind::DentryKilled, "events/rt/ev/enable"),
        0
    );
    remove(&mut m, "rt/ev").unwrap();
    assert_eq!(
        count(&mut m, LifetimeKind::DentryKilled, "events/rt/ev/enable"),
        1
    );
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "events/rt/ev".into()
            }
        ),
        Errno::ENOENT
    );
}

#[test]
fn an_events_files_come_from_the_host_where_known() {
    // event_callback's choices depend on event flags; a host-seeded event lists its files.
    let mut config = ModelConfig::default();
    config.events.push(super::StaticEvent {
        files: Some(vec!["format".into()]),
        ..super::StaticEvent::new("ftrace", "timerlat")
    });
    let mut m = Model::new(Policy::V6_17, config);
    assert_eq!(
        err(
            &mut m,
            Action::Stat {
                path: "events/ftrace/timerlat/id".into()
            }
        ),
        Errno::ENOENT
    );
    assert_eq!(stat(&mut m, "events/ftrace/timerlat/format").ino, FILE_INO);
    assert_eq!(
        stat(&mut m, "events/ftrace/print/id").ino,
        FILE_INO,
        "unseeded: the rule decides"
    );
}

#[test]
fn the_alive_sets_follow_every_kill_eviction_and_release() {
    use crate::scenario::{CATALOGUE, RACES, Scenario};
    for policy in Policy::ALL {
        for (name, _) in CATALOGUE.iter().chain(RACES) {
            let mut m = model(policy);
            for s in Scenario::resolve(name).unwrap().sequential().steps {
                m.apply(&s.action);
            }
            let live = |flags: Vec<bool>| -> std::collections::BTreeSet<usize> {
                (0..flags.len()).filter(|&i| !flags[i]).collect()
            };
            let a = &m.alive;
            assert_eq!(
                a.dentries,
                live(m.dentries.iter().map(|d| d.killed).collect())
            );
            assert_eq!(a.inodes, live(m.inodes.iter().map(|i| i.evicted).collect()));
            assert_eq!(
                a.eis,
                live(m.eis.iter().map(|e| e.released).collect()),
                "{name}"
            );
        }
    }
}
