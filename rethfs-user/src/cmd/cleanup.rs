//! `rethfs cleanup`: removes what killed runs left behind (probes and instances named
//! `rethfs_<pid>` whose process is gone), and nothing else.

use std::path::Path;

use crate::{
    error::{Error, Result, require_root},
    host::{Tracefs, cleanup},
};

pub fn run(tracefs: Option<&Path>) -> Result<()> {
    require_root("cleanup")?;
    let root = Tracefs::open(tracefs)?.root;
    let cleanup::Swept { removed, errors } = cleanup::sweep_dead_runs(&root);
    for r in &removed {
        println!("removed {r}");
    }
    if removed.is_empty() && errors.is_empty() {
        println!("nothing left by earlier runs");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(anyhow::anyhow!(
            "could not remove:\n  {}",
            errors.join("\n  ")
        )))
    }
}
