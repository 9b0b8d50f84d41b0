//! The process itself: no core dumps (they would hold keys and plaintext),
//! whether standard output can be written, clap's own output, and signals:
//! temporary files removed before the process ends, or a gentle stop when a
//! command asks for one.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Result, bail};
use ce_crypt::files;

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

/// Fails if standard output is open for reading only (`1< FILE`): every
/// write would fail with EBADF, which `io::Stdout` reports as success.
///
/// A closed standard output (`>&-`) is not detected: Rust's runtime opens
/// /dev/null in its place before `main`, read-write, exactly as `1<>/dev/null`
/// or a parent's `DEVNULL` opens it, so the two cannot be told apart, and
/// the output goes nowhere, as into /dev/null.
#[cfg(unix)]
pub fn check_stdout_open() -> Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl};
    let mode = fcntl_getfl(io::stdout()).map(|flags| flags & OFlags::RWMODE);
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

/// Prints clap's help or version (or usage error) and exits as clap does,
/// except that help that cannot be written (`--help > /dev/full`) is an
/// error, exit status 1, where clap would ignore it; a closed pipe
/// (`--help | head -1`) ends quietly.
pub fn clap_exit(error: clap::Error) -> ! {
    if error.use_stderr() {
        error.exit();
    }
    let printed = error.print().and_then(|()| io::stdout().flush());
    match printed {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("error: could not write to standard output: {e}");
            std::process::exit(1);
        }
        _ => std::process::exit(error.exit_code()),
    }
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

/// From now on, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGABRT remove the
/// temporary files of outputs not yet in place, say what became of each
/// output, and end the process (unless a command asked to wind down
/// first: see [`stop_flag`]); so does a panic, before it aborts the process
/// (release builds have `panic = "abort"`). Only SIGKILL, or a crash, can
/// leave a temporary file.
///
/// The exit status is 128 + the signal's number, as a shell gives, while
/// an output was left as it was; once every output is in place, whole, the
/// command's work is done: it says so and exits 0.
///
/// Started by the first output file or command that needs it, once: a
/// command that writes only to standard output keeps the default handling
/// and spawns no thread for it.
pub fn clean_up_on_signals() -> Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        use signal_hook::consts::{SIGABRT, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let mut signals =
            signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT])
                .map_err(|e| e.to_string())?;
        clean_up_on_panic();
        thread::spawn(move || {
            for signal in signals.forever() {
                if matches!(signal, SIGINT | SIGTERM | SIGHUP) && interrupt_gently(signal) {
                    continue;
                }
                // Held until the exit: no output can be put in place after this.
                let abandoned = files::abandon_replacements();
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
                let finished = tell_outputs(&abandoned, &format!("interrupted by {name}"));
                let code = if finished && !GENTLE.load(Ordering::SeqCst) {
                    0
                } else {
                    128 + signal
                };
                std::process::exit(code);
            }
        });
        Ok(())
    });
    match started {
        Ok(()) => Ok(()),
        Err(cause) => bail!("could not set up signal handling: {cause}"),
    }
}

/// Says what became of each output; true if every one is in place, whole.
fn tell_outputs(abandoned: &files::Abandoned, why: &str) -> bool {
    let mut stderr = io::stderr().lock();
    let mut untouched = false;
    for (path, existed) in abandoned.untouched() {
        untouched = true;
        let state = if existed {
            "was left as it was"
        } else {
            "was not created"
        };
        let _ = writeln!(stderr, "error: {why}: {} {state}", path.display());
    }
    if untouched {
        return false;
    }
    for path in abandoned.replaced() {
        let _ = writeln!(
            stderr,
            "note: {why}, after {} was written whole: it is complete",
            path.display()
        );
    }
    !abandoned.replaced().is_empty()
}

/// Before a panic aborts the process (`panic = "abort"`), removes the
/// temporary files of outputs not yet in place. Where a panic unwinds
/// instead (debug builds), dropping the files removes them, and a helper
/// thread's panic may even be recovered from, so nothing is done here.
fn clean_up_on_panic() {
    if !cfg!(panic = "abort") {
        return;
    }
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A commit under way on another thread ends within moments; this
        // thread's own would never, hence the bound.
        for _ in 0..100 {
            if let Some(abandoned) = files::try_abandon_replacements() {
                tell_outputs(&abandoned, "ce-crypt failed");
                // Kept until the abort: nothing is put in place after this.
                std::mem::forget(abandoned);
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        default(info);
    }));
}

/// From now on, the first SIGINT, SIGTERM or SIGHUP sets the returned flag
/// (the command winds down and exits itself); a second one ends the process.
pub fn stop_flag() -> Result<&'static AtomicBool> {
    clean_up_on_signals()?;
    GENTLE.store(true, Ordering::SeqCst);
    Ok(&STOP)
}

/// The signal that set the stop flag, if one did.
pub fn stop_signal() -> Option<i32> {
    Some(STOP_SIGNAL.load(Ordering::SeqCst)).filter(|s| *s != 0)
}

/// Called by the signal thread: true if `signal` only asks the command to stop.
fn interrupt_gently(signal: i32) -> bool {
    if !GENTLE.load(Ordering::SeqCst) || STOP.swap(true, Ordering::SeqCst) {
        return false;
    }
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
    eprintln!(
        "\nstopping: no new requests; waiting for those in flight (interrupt again to quit at once)"
    );
    true
}
