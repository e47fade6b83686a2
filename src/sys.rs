//! The only module allowed `unsafe`: fork, raw signal handlers, the shared heartbeat
//! mapping, a TCP socket's counters. Everything else in the crate calls the safe wrappers here.
//!
//! Each `unsafe` block carries a `// SAFETY:` line saying why it is sound.
#![allow(unsafe_code)]

use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::ForkResult;

/// Write end of the master's self-pipe; -1 when no pipe is installed. A static because
/// a signal handler can reach nothing else.
static SELF_PIPE_WR: AtomicI32 = AtomicI32::new(-1);

extern "C" fn wake_master(signum: libc::c_int) {
    let fd = SELF_PIPE_WR.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signum as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` lives for the call; the fd is the
        // non-blocking pipe installed by `install_master_handlers` (a full pipe just drops
        // the byte, which is fine: the loop drains whole queues and wakes once a second).
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Routes `signals` to the self-pipe whose write end is `pipe_wr`: the handlers only
/// write the signal number, the master loop does the work (Gunicorn's and unicorn's
/// design: nothing non-reentrant ever runs inside a handler).
pub(crate) fn install_master_handlers(
    pipe_wr: &OwnedFd,
    signals: &'static [Signal],
) -> nix::Result<()> {
    SELF_PIPE_WR.store(pipe_wr.as_raw_fd(), Ordering::Relaxed);
    *MASTER_SIGNALS.lock().unwrap_or_else(|e| e.into_inner()) = signals;
    // SA_RESTART so a signal never surfaces as EINTR in the master's blocking calls
    // other than the poll that waits for it.
    let action = SigAction::new(
        SigHandler::Handler(wake_master),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for &sig in signals {
        // SAFETY: `wake_master` only performs an atomic load and write(2), both
        // async-signal-safe.
        unsafe { nix::sys::signal::sigaction(sig, &action) }?;
    }
    Ok(())
}

/// The signals `install_master_handlers` routed to the self-pipe (a forked worker or an
/// exec'd successor resets them without having to know the master's list).
static MASTER_SIGNALS: std::sync::Mutex<&'static [Signal]> = std::sync::Mutex::new(&[]);

/// Restores the default disposition of the signals the master handles and detaches the
/// self-pipe (used in a freshly forked worker before it installs its own handling, and
/// before exec).
pub(crate) fn reset_master_handlers() {
    SELF_PIPE_WR.store(-1, Ordering::Relaxed);
    let signals = *MASTER_SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for &sig in signals {
        // SAFETY: installing SIG_DFL runs no code of ours in signal context.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &dfl) };
    }
}

/// Ignores `signals` (a worker must not die from a HUP or TTIN sent to its whole
/// process group).
pub(crate) fn ignore_signals(signals: &[Signal]) {
    let ign = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for &sig in signals {
        // SAFETY: installing SIG_IGN runs no code of ours in signal context.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &ign) };
    }
}

extern "C" fn exit_on_abort(_: libc::c_int) {
    // SAFETY: _exit(2) is async-signal-safe and does not unwind or run destructors.
    unsafe { libc::_exit(1) }
}

/// On SIGABRT (the master's heartbeat-timeout signal) exit at once with status 1, even
/// when the worker's threads are wedged, and without leaving a core dump behind.
pub(crate) fn exit_on_sigabrt() {
    let action = SigAction::new(
        SigHandler::Handler(exit_on_abort),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls _exit(2), which is async-signal-safe.
    let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGABRT, &action) };
    // The master's timeout must reach a worker even while the rest stay blocked (boot).
    let mut abrt = SigSet::empty();
    abrt.add(Signal::SIGABRT);
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
        Some(&abrt),
        None,
    );
}

/// The write end of the pipe SIGABRT is turned into (see `sigabrt_to_pipe`); -1: none.
static ABORT_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn abort_to_pipe(_: libc::c_int) {
    let fd = ABORT_PIPE.load(Ordering::Relaxed);
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is a static byte.
    unsafe {
        if fd < 0 || libc::write(fd, b"a".as_ptr().cast(), 1) != 1 {
            libc::_exit(1)
        }
    }
}

/// Turns SIGABRT into a byte on a pipe, for a worker whose `worker_abort` hook must run
/// before it exits (no Python can run in a signal handler). Returns the read end; a
/// thread waits on it. If the byte cannot be written the handler exits at once, as
/// `exit_on_sigabrt` does.
pub(crate) fn sigabrt_to_pipe() -> nix::Result<OwnedFd> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // The write end lives as long as the process: the handler may use it at any time.
    ABORT_PIPE.store(std::os::fd::IntoRawFd::into_raw_fd(wr), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(abort_to_pipe),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls write(2) and _exit(2), which are async-signal-safe.
    unsafe { nix::sys::signal::sigaction(Signal::SIGABRT, &action) }?;
    Ok(rd)
}

/// Ends the process at once with `code`: no destructors, no atexit handlers (other
/// threads may be wedged inside the app).
pub(crate) fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit(2) never returns and touches no state of ours.
    unsafe { libc::_exit(code) }
}

/// Hands the allocator's free memory back to the system (glibc keeps what it freed in
/// its arenas; after a burst of cut-off connections that can be hundreds of MB). A no-op
/// on other C libraries.
pub(crate) fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim(3) only walks the allocator's own arenas under their locks; it
    // takes no pointers of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Number of threads in this process, from /proc (None where unavailable).
pub(crate) fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Whether a fork happened and which side we are on.
pub(crate) enum Forked {
    /// In the parent; the child's pid.
    Parent(nix::unistd::Pid),
    /// In the child.
    Child,
}

/// The signal mask in force before [`fork`] blocked everything, restored by
/// [`unblock_signals`] in the child and right away in the parent.
static SAVED_MASK: std::sync::Mutex<Option<SigSet>> = std::sync::Mutex::new(None);

/// fork(2) for the single-threaded master.
///
/// Every signal is blocked across the fork and stays blocked in the child until it calls
/// [`unblock_signals`]: otherwise a signal aimed at the new child before it replaced the
/// master's handlers would run the master's handler there and be lost (or, through the
/// inherited self-pipe, be taken for a signal to the master). Pending signals are
/// delivered once the child has installed its own handling.
///
/// The child must never return into the caller's stack frames that expect to be the
/// master: callers run the child's work and then `std::process::exit`.
pub(crate) fn fork() -> nix::Result<Forked> {
    use nix::sys::signal::{SigmaskHow, pthread_sigmask};
    debug_assert!(
        thread_count().is_none_or(|n| n == 1),
        "fork from a multi-threaded process: the master must never start threads"
    );
    let mut old = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )?;
    *SAVED_MASK.lock().unwrap_or_else(|e| e.into_inner()) = Some(old);
    #[cfg(feature = "python")]
    let python = python_fork::before();
    // SAFETY: the master is single-threaded (no tokio runtime, no helper threads; checked
    // by the debug_assert above; a thread a Python config file or a preloaded app starts
    // is warned about), so no lock can be held by another thread at fork time and the
    // child may allocate freely before it builds its own runtime. CPython's own locks are
    // taken by PyOS_BeforeFork just above and released on both sides below.
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Ok(ForkResult::Parent { child }) => {
            #[cfg(feature = "python")]
            python_fork::after_in_parent(python);
            unblock_signals();
            Ok(Forked::Parent(child))
        }
        Ok(ForkResult::Child) => {
            #[cfg(feature = "python")]
            python_fork::after_in_child(python);
            Ok(Forked::Child)
        }
        Err(e) => {
            #[cfg(feature = "python")]
            python_fork::after_in_parent(python);
            unblock_signals();
            Err(e)
        }
    }
}

/// The bracket CPython's own `os.fork` puts around fork(2) when this process runs an
/// interpreter (a Python config file, `--preload`, a master hosted by Python): take the
/// GIL, `PyOS_BeforeFork` (the `os.register_at_fork` *before* hooks, the import lock and,
/// on 3.13+, stopping the world), then `PyOS_AfterFork_Parent` or `PyOS_AfterFork_Child`
/// (re-creating the GIL and locks in the child, reseeding `random`, the *after* hooks).
/// Without it, 3.13's child aborts unlocking a mutex its thread does not own.
#[cfg(feature = "python")]
mod python_fork {
    use pyo3::ffi;

    pub(super) fn before() -> Option<ffi::PyGILState_STATE> {
        if !super::python_is_initialized() {
            return None;
        }
        // SAFETY: the interpreter is initialised; PyGILState_Ensure attaches this thread
        // (or nests if it already holds the GIL), and PyOS_BeforeFork is then called with
        // the GIL held on the thread that will fork, as its documentation requires.
        unsafe {
            let state = ffi::PyGILState_Ensure();
            ffi::PyOS_BeforeFork();
            Some(state)
        }
    }

    pub(super) fn after_in_parent(state: Option<ffi::PyGILState_STATE>) {
        if let Some(state) = state {
            // SAFETY: paired with `before` on this thread, which still holds the GIL.
            unsafe {
                ffi::PyOS_AfterFork_Parent();
                ffi::PyGILState_Release(state);
            }
        }
    }

    pub(super) fn after_in_child(state: Option<ffi::PyGILState_STATE>) {
        if let Some(state) = state {
            // SAFETY: in the freshly forked child, on the thread that called `before` (the
            // only thread the child has), still attached: what PyOS_AfterFork_Child needs.
            // It re-initialises the GIL as held by this thread, so the release is paired.
            unsafe {
                ffi::PyOS_AfterFork_Child();
                ffi::PyGILState_Release(state);
            }
        }
    }
}

/// Restores the signal mask saved by [`fork`] (call in the child once its own signal
/// handling is in place, and before exec: the mask survives exec).
pub(crate) fn unblock_signals() {
    use nix::sys::signal::{SigmaskHow, pthread_sigmask};
    let old = SAVED_MASK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(SigSet::empty);
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
}

/// Marks `fd` inheritable across exec (clears FD_CLOEXEC); used for USR2 hand-over and
/// daemon/systemd fds.
pub(crate) fn set_inheritable(
    borrowed: std::os::fd::BorrowedFd<'_>,
    inheritable: bool,
) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let flags = FdFlag::from_bits_truncate(fcntl(borrowed, FcntlArg::F_GETFD)?);
    let flags = if inheritable {
        flags - FdFlag::FD_CLOEXEC
    } else {
        flags | FdFlag::FD_CLOEXEC
    };
    fcntl(borrowed, FcntlArg::F_SETFD(flags)).map(drop)
}

/// Takes ownership of an inherited file descriptor number (`GUNICORN_FD`, `LISTEN_FDS`,
/// `fd://N`). Returns None when `fd` is not open, is one of the standard streams (which
/// the process already uses), or was adopted before (a number named twice must not get
/// two owners that would each close it).
pub(crate) fn adopt_fd(fd: RawFd) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    static ADOPTED: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());
    if fd <= 2 {
        return None;
    }
    let mut adopted = ADOPTED.lock().unwrap_or_else(|e| e.into_inner());
    if adopted.contains(&fd) {
        return None;
    }
    // SAFETY: fcntl(F_GETFD) on any integer is harmless; it fails with EBADF when the
    // descriptor is not open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    adopted.push(fd);
    // SAFETY: the descriptor is open, is not a standard stream, was handed to us by the
    // configuration or the parent process that exec'd us, and is adopted at most once
    // (checked above under the lock), so nothing else in this process owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A zero-filled `MAP_SHARED | MAP_ANONYMOUS` region of `T`s that lives for the rest of
/// the process and is shared with every child forked afterwards.
///
/// `T` must be valid when all-zero and safe to share between processes: the heartbeat
/// table uses plain atomics only.
pub(crate) fn shared_zeroed_slice<T: ZeroableShared>(len: usize) -> nix::Result<&'static [T]> {
    let bytes = std::mem::size_of::<T>()
        .checked_mul(len)
        .and_then(NonZeroUsize::new);
    let Some(bytes) = bytes else { return Ok(&[]) };
    // SAFETY: a fresh anonymous mapping with no address hint aliases nothing; the kernel
    // zero-fills it.
    let ptr = unsafe {
        nix::sys::mman::mmap_anonymous(
            None,
            bytes,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
    }?;
    // SAFETY: the mapping is page-aligned (so aligned for T), `len * size_of::<T>()` bytes
    // long, zero-filled (a valid T by the ZeroableShared contract), never unmapped (so
    // 'static), and only accessed through shared references to atomics.
    Ok(unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<T>(), len) })
}

/// Types that are valid when all bytes are zero and contain only atomics (so concurrent
/// access from several processes is defined).
///
/// # Safety
/// Implementors must be `repr(C)` structs of atomic integers only.
pub(crate) unsafe trait ZeroableShared: Sync {}

// SAFETY: Slot is repr(C), made of atomic integers only, and all-zero is a valid FREE slot.
unsafe impl ZeroableShared for crate::scoreboard::heartbeat::Slot {}

// SAFETY: metrics::Slot is repr(C), made of atomic integers and arrays of them only (its
// `Edge` part likewise), and all-zero is a valid empty slot.
unsafe impl ZeroableShared for crate::scoreboard::counters::Slot {}

/// Sends each of `msgs` (at most 8) as its own datagram on the connected datagram socket
/// `fd` with one `sendmmsg(2)`, without blocking; returns how many went out. StatsD sends
/// three metrics per request, one per datagram as Gunicorn does; one syscall instead of
/// three keeps that cheaper on the request path.
pub(crate) fn send_datagrams(
    fd: std::os::fd::BorrowedFd<'_>,
    msgs: &[&[u8]],
) -> std::io::Result<usize> {
    const MAX: usize = 8;
    let n = msgs.len().min(MAX);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain C structs for which all-zero (null pointers,
    // zero lengths) is a valid value.
    let mut iov: [libc::iovec; MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MAX] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        iov[i].iov_base = msgs[i].as_ptr() as *mut libc::c_void;
        iov[i].iov_len = msgs[i].len();
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `hdrs[..n]` point at `iov[..n]`, which point into `msgs`; all outlive the
    // call, and the kernel only reads the buffers (msg_name is null: the socket is
    // connected). The kernel writes `msg_len` of each header, which we own mutably.
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Marks the calling thread `SCHED_BATCH`: the scheduler stops letting it preempt the
/// thread that woke it. Used for the ASGI event-loop thread, which the edge's thread wakes
/// per burst of requests: without it, on a busy core the loop thread runs at the first
/// wake-up byte and takes one request per switch instead of the whole burst. And for the
/// edge's thread of a worker hosting Python, which each finished response wakes.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) fn set_thread_batch() -> std::io::Result<()> {
    // SAFETY: sched_param is a plain C struct (all-zero = priority 0, the only valid one
    // for SCHED_BATCH); pid 0 is the calling thread; the call reads the struct only.
    let rc = unsafe {
        let param: libc::sched_param = std::mem::zeroed();
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Connections waiting in a TCP listener's accept queue (`TCP_INFO.tcpi_unacked` on a
/// listening socket, which Gunicorn's `get_backlog` reads); None for other sockets or
/// when the kernel does not say.
pub(crate) fn listen_queue_len(fd: std::os::fd::BorrowedFd<'_>) -> Option<u32> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable buffer of `len` bytes that outlives the call; the kernel
    // writes at most `len` bytes and updates `len`; a bad or non-TCP fd only makes the call
    // fail.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: zero-initialised and partly overwritten by the kernel: every bit pattern is a
    // valid tcp_info (plain integers).
    let info = unsafe { info.assume_init() };
    // TCP_LISTEN is state 10 on Linux: other states use the field for something else.
    (info.tcpi_state == 10).then_some(info.tcpi_unacked)
}

/// Sets environment variables (`-e/--env`) in a freshly forked worker.
///
/// Only for the child branch of [`fork`], before it starts any thread: mutating the
/// environment races with any concurrent reader, and a just-forked child of the
/// single-threaded master has no other thread.
pub(crate) fn set_env_in_fresh_child(vars: &[(String, String)]) {
    debug_assert!(thread_count().is_none_or(|n| n == 1));
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            continue;
        }
        // SAFETY: called in a single-threaded process (a worker right after fork, before
        // its runtime exists), so nothing can read the environment concurrently.
        #[allow(clippy::disallowed_methods)]
        unsafe {
            std::env::set_var(k, v)
        };
    }
}

/// Initialises the embedded CPython interpreter (the `python` feature), with an explicit
/// program name and home so it finds the standard library and site-packages of the
/// installation we linked against, then releases the GIL (pyo3's convention: a thread
/// takes it with `Python::attach`).
///
/// `program_name` is the Python executable the interpreter should behave as (a venv's
/// `bin/python` makes CPython's own path logic read its `pyvenv.cfg`); `home` pins
/// `sys.prefix`. Environment variables (PYTHONPATH, PYTHONHOME...) are honoured as the
/// `python` command does. Python installs no signal handlers: the worker owns signals.
///
/// Called once per process: in a worker after fork, or in the master for `--preload`,
/// where CPython starts no thread (checked by `fork`'s debug assertion).
#[cfg(feature = "python")]
pub(crate) fn init_python(program_name: Option<&str>, home: Option<&str>) -> Result<(), String> {
    use pyo3::ffi;
    use std::ffi::{CStr, CString};
    let to_c = |s: &str| CString::new(s).map_err(|_| format!("NUL byte in {s:?}"));
    let (program_name, home) = (
        program_name.map(to_c).transpose()?,
        home.map(to_c).transpose()?,
    );
    let status_err = |st: ffi::PyStatus| -> String {
        if st.err_msg.is_null() {
            "Python initialisation failed".to_string()
        } else {
            // SAFETY: a non-null err_msg is a static NUL-terminated string from CPython.
            unsafe { CStr::from_ptr(st.err_msg) }
                .to_string_lossy()
                .into_owned()
        }
    };
    // SAFETY: the PyConfig is initialised by PyConfig_InitPythonConfig before any other
    // use, only CPython's own setters write its string fields (copying our CStrings,
    // which outlive the calls), it is cleared exactly once, and Py_InitializeFromConfig
    // runs at most once per process (guarded by Py_IsInitialized). The GIL taken by
    // initialisation is released with PyEval_SaveThread, as pyo3's own initialise does.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        let mut status = ffi::PyStatus_Ok();
        if let Some(p) = &program_name {
            status =
                ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, p.as_ptr());
        }
        if ffi::PyStatus_Exception(status) == 0
            && let Some(h) = &home
        {
            status = ffi::PyConfig_SetBytesString(&mut config, &mut config.home, h.as_ptr());
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(&config);
        }
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_err(status));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Whether CPython is initialised in this process (possibly inherited through fork).
#[cfg(feature = "python")]
pub(crate) fn python_is_initialized() -> bool {
    // SAFETY: Py_IsInitialized only reads a runtime flag; it may be called at any time,
    // before initialisation and without the GIL.
    unsafe { pyo3::ffi::Py_IsInitialized() != 0 }
}

/// Bytes the peer of TCP socket `fd` has acknowledged over the connection's life
/// (`tcpi_bytes_acked`, Linux 4.1+); None when `fd` is no TCP socket (a unix socket) or
/// the kernel does not say. The caller owns `fd` (a connection it serves).
pub(crate) fn tcp_bytes_acked(fd: RawFd) -> Option<u64> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes and `len` is a valid socklen_t; the
    // kernel writes at most `len` bytes and sets `len` to what it wrote. A bad or
    // non-TCP descriptor only makes the call fail.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
    if r != 0 || (len as usize) < end {
        return None;
    }
    // SAFETY: the struct started zeroed (every field is an integer, so any bytes are a
    // valid value) and the kernel filled its first `len` bytes.
    Some(unsafe { info.assume_init() }.tcpi_bytes_acked)
}
