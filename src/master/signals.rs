//! The master's signals: handlers only write the signal number to a self-pipe; the loop
//! reads them back as [`Signal`]s and dispatches `handle_*` (Gunicorn's queue, unicorn's
//! self-pipe).

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
pub(crate) use nix::sys::signal::Signal;

/// Signals the master handles.
pub(crate) const HANDLED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

/// The self-pipe and the queue of signals read from it but not yet handled.
#[derive(Debug)]
pub(crate) struct SignalQueue {
    rd: std::fs::File,
    // Kept open for the handlers; closed when the master exits.
    _wr: OwnedFd,
    queue: VecDeque<Signal>,
}

impl SignalQueue {
    /// Creates the pipe and routes every signal in [`HANDLED`] to it.
    pub(crate) fn install() -> nix::Result<SignalQueue> {
        let (rd, wr) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        crate::sys::install_master_handlers(&wr, HANDLED)?;
        // A full log file (RLIMIT_FSIZE) must fail writes, not kill the master.
        crate::sys::ignore_signals(&[Signal::SIGXFSZ]);
        Ok(SignalQueue {
            rd: std::fs::File::from(rd),
            _wr: wr,
            queue: VecDeque::new(),
        })
    }

    /// Waits up to `timeout_ms` for signals, then returns the next queued one.
    pub(crate) fn wait(&mut self, timeout_ms: u16) -> Option<Signal> {
        if self.queue.is_empty() {
            let mut fds = [PollFd::new(self.rd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(timeout_ms));
            self.drain();
        }
        self.queue.pop_front()
    }

    /// [`wait`](Self::wait), also waking when one of `extra` is ready (the metrics
    /// endpoint's sockets); the caller checks those itself.
    pub(crate) fn wait_with(&mut self, timeout_ms: u16, extra: Vec<PollFd<'_>>) -> Option<Signal> {
        if extra.is_empty() {
            return self.wait(timeout_ms);
        }
        if self.queue.is_empty() {
            let mut fds = vec![PollFd::new(self.rd.as_fd(), PollFlags::POLLIN)];
            fds.extend(extra);
            let _ = poll(&mut fds, PollTimeout::from(timeout_ms));
            drop(fds);
            self.drain();
        }
        self.queue.pop_front()
    }

    /// Returns a queued signal without waiting.
    pub(crate) fn pop(&mut self) -> Option<Signal> {
        self.drain();
        self.queue.pop_front()
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = self.rd.read(&mut buf) {
            for &b in &buf[..n] {
                if let Ok(sig) = Signal::try_from(i32::from(b)) {
                    // Coalesce CHLD: one reap pass handles every exited child.
                    if sig != Signal::SIGCHLD || !self.queue.contains(&sig) {
                        self.queue.push_back(sig);
                    }
                }
            }
        }
    }
}

/// Gunicorn's lower-case signal name for `Handling signal: ...`.
pub(crate) fn name(sig: Signal) -> String {
    sig.as_str().trim_start_matches("SIG").to_ascii_lowercase()
}
