//! The process itself: no core dumps (they would hold keys and plaintext),
//! whether standard output is still there to write to, and stopping gently
//! on a signal when a command asks to.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{Result, bail};

/// Turns core dumps off for this process: a crash (`panic = "abort"` raises
/// SIGABRT) must not write keys and plaintext to disk, nor let another
/// process of the same user read our memory through ptrace or /proc.
#[cfg(target_os = "linux")]
pub fn disable_core_dumps() {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    // Best effort: neither can fail for an unprivileged process lowering its own limits.
    let _ = setrlimit(Resource::Core, none);
    let _ = set_dumpable_behavior(DumpableBehavior::NotDumpable);
}

/// Turns core dumps off (only the limit, where prctl does not exist).
#[cfg(all(unix, not(target_os = "linux")))]
pub fn disable_core_dumps() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = setrlimit(Resource::Core, none);
}

#[cfg(not(unix))]
pub fn disable_core_dumps() {}

/// Fails if standard output was closed when ce-crypt started (`>&-`), or
/// opened for reading only (`1< FILE`).
///
/// Rust's runtime opens /dev/null, read-write, on a closed descriptor 0, 1 or
/// 2 before `main`, so writes would vanish and report success. A shell's own
/// `> /dev/null` opens it write-only, which is told apart here.
#[cfg(unix)]
pub fn check_stdout_open() -> Result<()> {
    use rustix::fs::{FileType, OFlags, fcntl_getfl, fstat, major, minor};
    let stdout = io::stdout();
    let Ok(stat) = fstat(&stdout) else {
        bail!("standard output is closed: redirect it to a file, or write to one with -o FILE");
    };
    let is_dev_null = FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice
        && (major(stat.st_rdev), minor(stat.st_rdev)) == (1, 3);
    let mode = fcntl_getfl(&stdout).map(|flags| flags & OFlags::RWMODE);
    if is_dev_null && mode == Ok(OFlags::RDWR) {
        bail!("standard output is closed: redirect it to a file, or write to one with -o FILE");
    }
    // `1< FILE`: every write would fail with EBADF, which `io::Stdout` reports as success.
    if mode == Ok(OFlags::RDONLY) {
        bail!(
            "standard output is open for reading only: redirect it with > FILE, or write to a file with -o FILE"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_stdout_open() -> Result<()> {
    Ok(())
}

/// Asks for a 1 MiB pipe buffer when standard output is a pipe (Linux's
/// default is 64 KiB): a large output then wakes the reader a sixteenth as
/// often. Best effort: a pipe that cannot grow stays as it is.
#[cfg(target_os = "linux")]
pub fn widen_stdout_pipe() {
    widen_pipe(io::stdout());
}

/// Widens standard input to 1 MiB if it is a pipe, so that a fast writer
/// fills whole reads: `--lines` shares a chunk between cores only when it
/// is large. Best effort, as for standard output.
#[cfg(target_os = "linux")]
pub fn widen_stdin_pipe() {
    widen_pipe(io::stdin());
}

#[cfg(target_os = "linux")]
fn widen_pipe(end: impl std::os::fd::AsFd) {
    use rustix::fs::{FileType, fstat};
    if fstat(&end).is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Fifo) {
        let _ = rustix::pipe::fcntl_setpipe_size(&end, ce_crypt::tuning::PIPE_BUFFER);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn widen_stdout_pipe() {}

#[cfg(not(target_os = "linux"))]
pub fn widen_stdin_pipe() {}

/// Whether the first signal should only set [`STOP`].
static GENTLE: AtomicBool = AtomicBool::new(false);
/// Set by the first SIGINT, SIGTERM or SIGHUP once [`stop_flag`] was called.
static STOP: AtomicBool = AtomicBool::new(false);
/// The signal that set [`STOP`].
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// From now on, the first SIGINT, SIGTERM or SIGHUP sets the returned flag
/// (the command winds down and exits itself); a second one ends the process.
pub fn stop_flag() -> Result<&'static AtomicBool> {
    super::output::clean_up_on_signals()?;
    GENTLE.store(true, Ordering::SeqCst);
    Ok(&STOP)
}

/// The signal that set the stop flag, if one did.
pub fn stop_signal() -> Option<i32> {
    Some(STOP_SIGNAL.load(Ordering::SeqCst)).filter(|s| *s != 0)
}

/// Called by the signal thread: true if `signal` only asks the command to stop.
pub fn interrupt_gently(signal: i32) -> bool {
    if !GENTLE.load(Ordering::SeqCst) || STOP.swap(true, Ordering::SeqCst) {
        return false;
    }
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
    eprintln!(
        "\nstopping: no new requests; waiting for those in flight (interrupt again to quit at once)"
    );
    true
}
