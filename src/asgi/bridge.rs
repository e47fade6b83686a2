//! The crossing between the tokio edge and the worker's event-loop thread: one queue of
//! [`Event`]s and one wake-up socket the loop watches (`loop.add_reader`).
//!
//! The edge never takes the GIL. It pushes an event and writes one byte to the wake-up
//! socket only when the queue was empty, so a burst of requests costs one wake-up and one
//! GIL acquisition on the loop side (the loop thread holds the GIL anyway while it runs
//! and drains the whole queue in one callback). The way back needs no wake-up of its
//! own: the loop thread answers through tokio channels, which wake tokio without Python.
//!
//! Per request the shared state is a [`Link`]: the request body as the edge received it
//! (bounded: the edge stops reading while the app has not taken what is there), whether
//! the client is gone, whether the response is complete, and the future a `receive()`
//! waits on.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use pyo3::prelude::*;

/// Bytes of request body the edge reads ahead of the app.
pub(super) const READ_AHEAD: usize = 64 * 1024;

/// What the edge hands the loop thread.
pub(super) enum Event {
    /// A new request.
    Request(Box<super::Pending>),
    /// A link has something its waiting `receive()` can take.
    Poke(Arc<Link>),
    /// A `send()` that waited for room in a full response channel: resolve its future
    /// (`false`: the client left, raise `ClientDisconnected`).
    Resolve(Py<PyAny>, bool),
    /// The client of a request whose response is not complete left: start the grace
    /// period before its task is cancelled.
    Gone(Arc<Link>),
    /// A new WebSocket handshake.
    WsConnect(Box<super::ws::WsPending>),
    /// A socket has a message its waiting `receive()` can take.
    WsPoke(Arc<super::ws::WsLink>),
    /// The worker stops: leave the loop (then lifespan shutdown runs).
    Shutdown,
}

/// The queue and its wake-up socket.
pub(super) struct Bridge {
    queue: Mutex<Vec<Event>>,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
}

impl Bridge {
    pub(super) fn new() -> std::io::Result<Bridge> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Bridge {
            queue: Mutex::new(Vec::with_capacity(64)),
            wake_tx,
            wake_rx,
        })
    }

    /// The descriptor the loop watches.
    pub(super) fn wake_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.wake_rx.as_raw_fd()
    }

    /// Queues an event; wakes the loop if it may be asleep (the queue was empty).
    pub(super) fn post(&self, ev: Event) {
        let was_empty = {
            let mut q = lock(&self.queue);
            let e = q.is_empty();
            q.push(ev);
            e
        };
        if was_empty {
            // WouldBlock: the socket already holds unread bytes, so the loop will wake.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }

    /// Everything queued (called on the loop thread when the wake-up socket is readable).
    /// The wake-up bytes are consumed first: an event posted after that writes a new one.
    pub(super) fn take(&self, into: &mut Vec<Event>) {
        let mut sink = [0u8; 256];
        while let Ok(n) = (&self.wake_rx).read(&mut sink) {
            if n < sink.len() {
                break;
            }
        }
        std::mem::swap(&mut *lock(&self.queue), into);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request's state shared by the edge and the loop thread.
pub(super) struct Link {
    inbox: Mutex<Inbox>,
    /// The app took body bytes, or the exchange ended: the edge may read on.
    pub(super) credit: tokio::sync::Notify,
}

#[derive(Default)]
pub(super) struct Inbox {
    pub chunks: VecDeque<Bytes>,
    pub buffered: usize,
    /// The edge has read the whole body.
    pub body_done: bool,
    /// The app has received the final `http.request` (`more_body` false).
    pub end_delivered: bool,
    /// The client is gone (or the response ended and the connection moved on).
    pub gone: bool,
    /// The app sent the whole response (or failed, or returned).
    pub finished: bool,
    /// The future of a `receive()` waiting for the next message.
    pub waiter: Option<Py<PyAny>>,
    /// The app's task until its response is complete: cancelled
    /// `--asgi-disconnect-grace-period` seconds after its client left (the reference is
    /// dropped at completion, so no cycle outlives the request).
    pub task: Option<Py<PyAny>>,
}

/// The next message a `receive()` gets.
pub(super) enum Message {
    /// `http.request` with a chunk and `more_body`.
    Body(Bytes, bool),
    /// `http.disconnect`.
    Disconnect,
}

impl Inbox {
    /// Takes the next message, if one is due.
    pub(super) fn next(&mut self) -> Option<Message> {
        if let Some(c) = self.chunks.pop_front() {
            self.buffered -= c.len();
            let more = !(self.chunks.is_empty() && self.body_done);
            self.end_delivered |= !more;
            return Some(Message::Body(c, more));
        }
        if self.body_done && !self.end_delivered && !self.gone {
            self.end_delivered = true;
            return Some(Message::Body(Bytes::new(), false));
        }
        // After the response, `receive()` answers at once (Django asserts on it; a
        // long-poll that outlives its own response would never end otherwise).
        // A body the app never finished reading is not read on after the response (the
        // edge stops pumping it), so it ends in a disconnect too.
        if self.gone || (self.finished && (self.end_delivered || !self.body_done)) {
            return Some(Message::Disconnect);
        }
        None
    }
}

impl Link {
    /// A link whose body is `body` already complete (`None`: the edge will pump it).
    pub(super) fn new(body: Option<Bytes>) -> Arc<Link> {
        let mut inbox = Inbox::default();
        if let Some(b) = body {
            inbox.body_done = true;
            if !b.is_empty() {
                inbox.buffered = b.len();
                inbox.chunks.push_back(b);
            }
        }
        Arc::new(Link {
            inbox: Mutex::new(inbox),
            credit: tokio::sync::Notify::new(),
        })
    }

    pub(super) fn inbox(&self) -> MutexGuard<'_, Inbox> {
        lock(&self.inbox)
    }

    /// Edge side: records an event and pokes the loop if a `receive()` waits for it.
    pub(super) fn update(self: &Arc<Self>, bridge: &Bridge, f: impl FnOnce(&mut Inbox)) {
        let poke = {
            let mut ib = self.inbox();
            f(&mut ib);
            ib.waiter.is_some()
        };
        if poke {
            bridge.post(Event::Poke(self.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(m: Option<Message>) -> Option<(Vec<u8>, bool)> {
        match m {
            Some(Message::Body(b, more)) => Some((b.to_vec(), more)),
            _ => None,
        }
    }

    #[test]
    fn a_complete_body_comes_in_one_message_then_disconnect_after_the_response() {
        let link = Link::new(Some(Bytes::from_static(b"abc")));
        let mut ib = link.inbox();
        assert_eq!(body(ib.next()), Some((b"abc".to_vec(), false)));
        assert!(
            ib.next().is_none(),
            "no disconnect while the response is pending"
        );
        ib.finished = true;
        assert!(matches!(ib.next(), Some(Message::Disconnect)));
    }

    #[test]
    fn an_empty_body_is_one_empty_final_message() {
        let link = Link::new(Some(Bytes::new()));
        let mut ib = link.inbox();
        assert_eq!(body(ib.next()), Some((Vec::new(), false)));
        assert!(ib.next().is_none());
    }

    #[test]
    fn pumped_chunks_say_more_until_the_edge_saw_the_end() {
        let link = Link::new(None);
        let mut ib = link.inbox();
        assert!(ib.next().is_none(), "nothing read yet");
        ib.chunks.push_back(Bytes::from_static(b"12"));
        ib.buffered = 2;
        assert_eq!(body(ib.next()), Some((b"12".to_vec(), true)));
        assert_eq!(ib.buffered, 0);
        ib.chunks.push_back(Bytes::from_static(b"3"));
        ib.buffered = 1;
        ib.body_done = true;
        assert_eq!(body(ib.next()), Some((b"3".to_vec(), false)));
        assert!(ib.end_delivered);
    }

    #[test]
    fn a_client_that_left_or_an_unread_body_after_the_response_is_a_disconnect() {
        let link = Link::new(None);
        let mut ib = link.inbox();
        ib.gone = true;
        assert!(matches!(ib.next(), Some(Message::Disconnect)));
        let link = Link::new(None);
        let mut ib = link.inbox();
        ib.finished = true;
        assert!(matches!(ib.next(), Some(Message::Disconnect)));
    }

    #[test]
    fn one_wake_up_byte_per_burst() {
        let b = Bridge::new().unwrap();
        let mut buf = [0u8; 8];
        b.post(Event::Shutdown);
        b.post(Event::Shutdown);
        assert_eq!(
            (&b.wake_rx).read(&mut buf).unwrap(),
            1,
            "one byte for two events"
        );
        let mut got = Vec::new();
        b.take(&mut got);
        assert_eq!(got.len(), 2);
        assert!((&b.wake_rx).read(&mut buf).is_err(), "nothing more to read");
        b.post(Event::Shutdown);
        assert_eq!(
            (&b.wake_rx).read(&mut buf).unwrap(),
            1,
            "an empty queue wakes again"
        );
    }
}
