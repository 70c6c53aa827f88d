//! `rethfs observe`: stream tracefs dentry records until a duration, Ctrl-C or SIGTERM.

use std::{
    io::{self, Write},
    time::Duration,
};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    error::{Error, Result, require_root},
    observe::{HookSet, Observer, Reconstructor, Session},
    profile::{KernelProfile, ProfileOptions},
    report::records::Printer,
};

pub fn run(
    opts: &ProfileOptions,
    attach: Option<Observer>,
    hooks: HookSet,
    duration: Option<Duration>,
    json: bool,
) -> Result<()> {
    require_root("observe")?;
    let profile = KernelProfile::compute(opts)?;
    let problems = profile.problems();
    if !problems.is_empty() {
        return Err(Error::Environment(problems.join("\n")));
    }
    let observer = Observer::choose(&profile.backends, attach, profile.config.preemptible())?;
    if let Some(root) = &profile.tracefs.path {
        crate::host::cleanup::sweep_before(root, "observe");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let session = Session::start(observer, hooks, &opts.btf, true)?;
        for h in session.hooks.iter().filter(|h| !h.attached && !h.left_out) {
            eprintln!(
                "rethfs: not seen: {} ({} not attached: {})",
                h.sees, h.function, h.detail
            );
        }
        eprintln!(
            "rethfs: observing {} with {} ({}); Ctrl-C stops",
            profile
                .tracefs
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            observer.name(),
            duration.map_or("no time limit".to_owned(), |d| format!(
                "for {:.1} s",
                d.as_secs_f64()
            )),
        );
        let mut printer = Printer::new(io::stdout().lock(), json);
        // Follows pointers so records that carry only a name print their whole path.
        let mut paths = Reconstructor::for_hooks(&session.hooks);
        let summary = session
            .run(stop_signal(duration)?, |mut r| {
                paths.resolve(&mut r);
                paths.feed(&r);
                printer.print(&r)
            })
            .await?;
        io::stdout().flush().ok();
        eprintln!(
            "rethfs: {} records, {} lost in the kernel (ring buffer full, missed returns, skipped runs)",
            summary.records, summary.lost
        );
        if summary.lost > 0 {
            log::warn!(
                "{} records were lost: the output above is incomplete",
                summary.lost
            );
        }
        Ok(())
    })
}

/// Completes on Ctrl-C, SIGTERM, SIGHUP or after `duration`.
fn stop_signal(duration: Option<Duration>) -> Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    Ok(async move {
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
            () = timer => {}
        }
    })
}
