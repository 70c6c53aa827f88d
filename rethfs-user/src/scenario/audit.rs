//! The `audit` scenario, made from the host's own tree: every group and event directory and
//! every event file, at the top level and in a fresh instance, looked up and listed.

use super::{Scenario, Step};
use crate::{interface::Action, model::StaticEvent};

pub const DESCRIPTION: &str = "Every entry of the events tree, top level and an instance: stat and getdents of each \
     directory and stat of each event file, so shared file numbers, unique directory numbers, \
     d_ino = st_ino and modes are checked against the model everywhere.";

const FILES: [&str; 5] = ["enable", "filter", "trigger", "format", "id"];

/// The audit of `events` (the host's static events), with an instance named `instance`.
pub fn audit(events: &[StaticEvent], instance: &str) -> Scenario {
    let mut steps = vec![Action::Mkdir {
        path: format!("instances/{instance}"),
    }];
    for base in ["events".to_owned(), format!("instances/{instance}/events")] {
        steps.push(Action::Stat { path: base.clone() });
        steps.push(Action::list(base.clone()));
        let mut last_group = None;
        for e in events {
            let group = format!("{base}/{}", e.group);
            if last_group.as_ref() != Some(&group) {
                steps.push(Action::Stat {
                    path: group.clone(),
                });
                steps.push(Action::list(group.clone()));
                last_group = Some(group.clone());
            }
            let dir = format!("{group}/{}", e.name);
            steps.push(Action::Stat { path: dir.clone() });
            steps.push(Action::list(dir.clone()));
            steps.extend(FILES.iter().map(|f| Action::Stat {
                path: format!("{dir}/{f}"),
            }));
        }
    }
    steps.push(Action::Rmdir {
        path: format!("instances/{instance}"),
    });
    Scenario {
        name: "audit".into(),
        description: DESCRIPTION.into(),
        steps: steps
            .into_iter()
            .map(|action| Step { action, line: 0 })
            .collect(),
        threads: Vec::new(),
        // Every event directory is listed to the end: 1e4624eb5a0e's duplicate names.
        cves: vec!["1e4624eb5a0e".into()],
    }
}
