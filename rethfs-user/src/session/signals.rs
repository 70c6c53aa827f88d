//! SIGINT, SIGTERM and SIGHUP turned into an orderly stop: the handler only sets a flag, the
//! session stops after the current step and removes what it made on its way out.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::error::{Error, Result};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handler; from here on every exit goes through the session's cleanup.
pub fn catch() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(sig, &action) }.map_err(|e| Error::Failed(e.into()))?;
    }
    Ok(())
}

/// Whether a stop was asked for.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The error a stopped command ends with, after its cleanup.
pub fn interrupted() -> Error {
    Error::Environment("interrupted by a signal; what the run created was removed".into())
}
