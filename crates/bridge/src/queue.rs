//! A session's queue of routed messages: bounded, filled by the router from
//! any connection's task, emptied by the session's own.
//!
//! A `VecDeque` behind a mutex rather than a channel: an idle session's queue
//! holds no memory at all (a tokio channel allocates a block of 32 slots up
//! front, about 3 KiB here), and a drained queue gives back what a burst grew.

use crate::router::Delivery;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// Capacity a drained queue may keep; beyond it, it is given back.
const KEEP_WHEN_EMPTY: usize = 32;

#[derive(Debug)]
pub struct SessionQueue {
    items: Mutex<VecDeque<Delivery>>,
    ready: Notify,
    limit: usize,
    closed: AtomicBool,
}

impl SessionQueue {
    pub fn new(limit: usize) -> Self {
        SessionQueue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            limit: limit.max(1),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Delivery>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Adds a message, or hands it back when the queue is full.
    pub fn try_push(&self, delivery: Delivery) -> Result<(), Delivery> {
        {
            let mut items = self.lock();
            if items.len() >= self.limit {
                return Err(delivery);
            }
            items.push_back(delivery);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// Moves up to `max` messages into `out`, waiting for one if there are
    /// none; 0 once the queue is closed. Cancel-safe: nothing is taken out
    /// unless this returns.
    pub async fn recv_many(&self, out: &mut Vec<Delivery>, max: usize) -> usize {
        loop {
            let notified = self.ready.notified();
            {
                let mut items = self.lock();
                if !items.is_empty() {
                    let n = max.min(items.len());
                    out.extend(items.drain(..n));
                    if items.is_empty() && items.capacity() > KEEP_WHEN_EMPTY {
                        *items = VecDeque::new();
                    }
                    return n;
                }
            }
            if self.closed.load(Ordering::Acquire) {
                return 0;
            }
            notified.await;
        }
    }

    /// Ends the queue: its reader gets 0 once it is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::Publish;

    fn delivery(n: u8) -> Delivery {
        Delivery {
            stored: None,
            publish: Publish::new("t", [n]),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn bounded_in_order_and_closable() {
        let queue = SessionQueue::new(2);
        assert!(queue.try_push(delivery(1)).is_ok());
        assert!(queue.try_push(delivery(2)).is_ok());
        assert!(queue.try_push(delivery(3)).is_err(), "full");
        let mut out = Vec::new();
        assert_eq!(queue.recv_many(&mut out, 10).await, 2);
        let got: Vec<u8> = out.iter().map(|d| d.publish.payload()[0]).collect();
        assert_eq!(got, [1, 2]);
        queue.close();
        assert_eq!(queue.recv_many(&mut out, 10).await, 0);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_a_push() {
        let queue = std::sync::Arc::new(SessionQueue::new(8));
        let reader = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                queue.recv_many(&mut out, 8).await
            })
        };
        tokio::task::yield_now().await;
        assert!(queue.try_push(delivery(7)).is_ok());
        assert_eq!(reader.await.expect("reader"), 1);
    }
}
