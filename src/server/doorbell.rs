//! A wake-up of an app host's thread, rung once per pass of the edge's scheduler rather
//! than once per request.
//!
//! The WSGI app threads wait on a channel: each request sent to an idle thread is a futex
//! wake-up, and on the one core a loaded worker gets the woken thread preempts the edge at
//! once, takes the single request queued so far, answers it and lets the edge run again:
//! the two threads ping-pong once per request. A [`Doorbell`] queued by the first request
//! of a pass rings after the tasks already runnable on the edge's current-thread runtime
//! have run (its ringer task waits at the back of that run queue), so the requests that
//! arrived together go over in one wake-up. It waits for nothing but those tasks: under a
//! load that keeps the runtime from ever parking, it still rings once per pass. (The
//! gevent hub and the ASGI loop need none: they take everything queued per wake-up, and a
//! wake-up is written only when their queue was empty; measured, a doorbell in front of
//! them changed nothing.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A wake-up rung once per pass of the runtime that created it (see the module docs).
pub(crate) struct Doorbell {
    /// A ring is queued and has not run yet: further requests need none.
    queued: AtomicBool,
    ringer: Notify,
}

impl Doorbell {
    /// A doorbell whose ring calls `ring` on the current runtime's thread. Its ringer task
    /// lives as long as that runtime (a worker's hosts live as long too).
    pub(crate) fn new(mut ring: impl FnMut() + Send + 'static) -> Arc<Doorbell> {
        let bell = Arc::new(Doorbell {
            queued: AtomicBool::new(false),
            ringer: Notify::new(),
        });
        let b = bell.clone();
        tokio::spawn(async move {
            loop {
                // A Notify keeps one permit: a ring queued before this wait is not lost.
                b.ringer.notified().await;
                // Cleared first: a request queued while `ring` runs queues the next ring.
                b.queued.store(false, Ordering::Release);
                ring();
            }
        });
        bell
    }

    /// Rings once the tasks runnable now have run; any number of calls before that ring
    /// once.
    pub(crate) fn ring_soon(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ringer.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    #[test]
    fn requests_of_one_pass_ring_once_after_the_tasks_already_runnable() {
        runtime().block_on(async {
            let rings = Arc::new(AtomicUsize::new(0));
            let r = rings.clone();
            let bell = Doorbell::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
            // Let the ringer task start and wait.
            tokio::task::yield_now().await;
            let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
            for i in 0..10 {
                let bell = bell.clone();
                let rings = rings.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    bell.ring_soon();
                    // Every task of the pass runs before the ring.
                    done.send((i, rings.load(Ordering::SeqCst))).unwrap();
                });
            }
            drop(done_tx);
            let mut seen = Vec::new();
            while let Some(x) = done_rx.recv().await {
                seen.push(x);
            }
            assert_eq!(seen.len(), 10);
            assert!(seen.iter().all(|&(_, r)| r == 0), "rang early: {seen:?}");
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert_eq!(rings.load(Ordering::SeqCst), 1);
            // A later pass rings again.
            bell.ring_soon();
            bell.ring_soon();
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert_eq!(rings.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn a_ring_from_another_thread_still_rings() {
        runtime().block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let tx = std::sync::Mutex::new(Some(tx));
            let bell = Doorbell::new(move || {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            });
            let b = bell.clone();
            std::thread::spawn(move || b.ring_soon()).join().unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(5), rx)
                .await
                .expect("rang")
                .unwrap();
        });
    }
}
