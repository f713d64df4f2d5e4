//! The request-memory pool: `queued.max.request.bytes` of credit shared by
//! every connection, taken before a request frame's bytes are read off the
//! socket and given back when the frame is dropped.
//!
//! Rules (Kafka's `SimpleMemoryPool` bounds the same thing; the admission
//! rules are strom's, made so that an honest client keeps working while
//! others hold partial frames, and so that nothing can deadlock):
//! - A frame that fits in the credit free right now is reserved whole, up
//!   front, and read into one allocation of its size: it never waits again and
//!   is never copied as it grows.
//! - Frames over [`SMALL_FRAME_BYTES`] may not take the last quarter of the
//!   pool ([`Inner::headroom`]): small requests (metadata, fetches, ordinary
//!   produce batches) still find credit while large partial frames fill the
//!   rest.
//! - A frame that does not fit is *over-size*. Over-size frames take turns,
//!   one at a time (a FIFO lock), and the one whose turn it is takes credit as
//!   it reads: at most half of what is free at each step, waiting when none is
//!   free — so reading pauses on that socket (backpressure) instead of
//!   refusing anything Kafka would accept. While it waits for credit, no new
//!   frame is admitted whole, so it cannot be starved.
//! - When the over-size frame holds every byte of credit in use (nothing else
//!   is in flight) it takes the rest of its size at once, beyond the pool if
//!   need be: one frame up to `socket.request.max.bytes` is always admitted.
//!
//! Invariants: credit in use never exceeds the pool, except by the one
//! over-size frame that runs alone, so memory of request frames stays below
//! max(pool, one frame); every waiter waits only for credit held by frames
//! that need nothing more, so the pool cannot deadlock; credit is returned by
//! [`Credit`]'s `Drop`, i.e. when the last slice of the frame is dropped.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::sync::{Notify, OwnedMutexGuard};

/// Frames up to this size may use the pool's headroom.
pub const SMALL_FRAME_BYTES: usize = 1024 * 1024;

/// An over-size frame's credit steps are at least this large (or all that is free).
const MIN_STEP_BYTES: usize = 64 * 1024;

/// The pool; cheap to clone.
#[derive(Clone)]
pub struct RequestPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// `queued.max.request.bytes`; `None`: unbounded (only counted).
    capacity: Option<usize>,
    state: Mutex<State>,
    /// Signalled whenever credit is returned.
    freed: Notify,
    /// The over-size turn.
    turn: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct State {
    in_use: usize,
    /// The over-size frame whose turn it is waits for credit.
    growing: bool,
    /// Credit held by requests that wait: read frames waiting for their
    /// decoded form's credit, and the over-size frame while it waits. When
    /// every byte in use is such credit nothing else can free any, so one
    /// waiter goes on beyond the pool (no deadlock).
    blocked: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counts are still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The part of the pool large frames leave to small ones.
    fn headroom(capacity: usize) -> usize {
        capacity / 4
    }

    /// Credit free right now for a frame of `len` bytes.
    fn free_for(&self, s: &State, len: usize) -> usize {
        match self.capacity {
            None => usize::MAX,
            Some(cap) => {
                let usable = if len > SMALL_FRAME_BYTES {
                    cap - Self::headroom(cap)
                } else {
                    cap
                };
                usable.saturating_sub(s.in_use)
            }
        }
    }

    fn add(&self, s: &mut State, bytes: usize) {
        s.in_use = s.in_use.saturating_add(bytes);
        crate::metrics::request_pool_in_use(s.in_use);
    }

    fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        {
            let mut s = self.lock();
            s.in_use = s.in_use.saturating_sub(bytes);
            crate::metrics::request_pool_in_use(s.in_use);
        }
        // Waiters: the over-size frame whose turn it is, and frames waiting
        // for their decoded form's credit; each re-checks.
        self.freed.notify_waiters();
    }
}

impl RequestPool {
    /// A pool of `capacity` bytes; `None` counts but never limits.
    pub fn new(capacity: Option<u64>) -> Self {
        let capacity = capacity.map(|c| usize::try_from(c).unwrap_or(usize::MAX));
        crate::metrics::request_pool_capacity(capacity);
        RequestPool {
            inner: Arc::new(Inner {
                capacity,
                state: Mutex::new(State::default()),
                freed: Notify::new(),
                turn: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    /// Credit in use now.
    pub fn in_use(&self) -> usize {
        self.inner.lock().in_use
    }

    /// The whole credit of a `len`-byte frame, if it is free now and no
    /// over-size frame is waiting for credit.
    pub fn try_whole(&self, len: usize) -> Option<Credit> {
        let mut s = self.inner.lock();
        if s.growing || self.inner.free_for(&s, len) < len {
            return None;
        }
        self.inner.add(&mut s, len);
        Some(Credit {
            inner: self.inner.clone(),
            bytes: len,
        })
    }

    /// Credit for the decoded form of a request whose frame, already read,
    /// holds `held` bytes: `extra` more bytes, waiting until they are free.
    /// A frame's decoded form (kafka-protocol's structs) may be larger than
    /// its bytes (at most `protocol::bounded::decoded_bound`), and it is
    /// memory in flight too. When all credit in use belongs to waiters
    /// (this one included) the reservation goes on beyond the pool, as the
    /// one over-size frame does, so waiting can never deadlock.
    pub async fn reserve_decoded(&self, held: usize, extra: usize) -> Credit {
        let inner = self.inner.clone();
        loop {
            let notified = inner.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = inner.lock();
                let fits = !s.growing && inner.free_for(&s, extra) >= extra;
                if fits || s.in_use <= s.blocked + held {
                    inner.add(&mut s, extra);
                    return Credit {
                        inner: inner.clone(),
                        bytes: extra,
                    };
                }
                s.blocked += held;
            }
            let _unblock = Unblock {
                inner: &inner,
                bytes: held,
            };
            notified.await;
        }
    }

    /// Waits for the over-size turn of a `len`-byte frame.
    pub async fn oversize(&self, len: usize) -> Oversize {
        let turn = self.inner.turn.clone().lock_owned().await;
        Oversize {
            credit: Credit {
                inner: self.inner.clone(),
                bytes: 0,
            },
            len,
            _turn: turn,
        }
    }
}

impl crate::protocol::DecodedMemory for RequestPool {
    fn reserve(
        &self,
        held: usize,
        extra: usize,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Box<dyn std::any::Any + Send>> + Send + '_>,
    > {
        Box::pin(async move {
            Box::new(self.reserve_decoded(held, extra).await) as Box<dyn std::any::Any + Send>
        })
    }
}

/// A waiter's held credit counted as blocked while it waits (also when the
/// wait is abandoned).
struct Unblock<'a> {
    inner: &'a Inner,
    bytes: usize,
}

impl Drop for Unblock<'_> {
    fn drop(&mut self) {
        let mut s = self.inner.lock();
        s.blocked = s.blocked.saturating_sub(self.bytes);
    }
}

/// Credit held; returned to the pool on drop.
pub struct Credit {
    inner: Arc<Inner>,
    bytes: usize,
}

impl Credit {
    /// Bytes of credit held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.inner.release(self.bytes);
    }
}

/// The over-size frame whose turn it is.
pub struct Oversize {
    credit: Credit,
    len: usize,
    _turn: OwnedMutexGuard<()>,
}

impl Oversize {
    /// Credit held so far.
    pub fn granted(&self) -> usize {
        self.credit.bytes
    }

    /// Waits until credit is free and takes a step of it (more than zero
    /// bytes, never past the frame's size); returns the bytes added.
    pub async fn grow(&mut self) -> usize {
        let inner = self.credit.inner.clone();
        let want = self.len.saturating_sub(self.credit.bytes);
        if want == 0 {
            return 0;
        }
        loop {
            let notified = inner.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = inner.lock();
                let free = inner.free_for(&s, self.len);
                let step = if free > 0 {
                    let step = if free <= MIN_STEP_BYTES {
                        free
                    } else {
                        (free / 2).max(MIN_STEP_BYTES)
                    };
                    step.min(want)
                } else if s.in_use <= s.blocked + self.credit.bytes {
                    // Alone in the pool, or beside waiters only: the one
                    // frame always admitted.
                    want
                } else {
                    0
                };
                if step > 0 {
                    s.growing = false;
                    inner.add(&mut s, step);
                    self.credit.bytes += step;
                    return step;
                }
                s.growing = true;
                s.blocked += self.credit.bytes;
            }
            let _unblock = Unblock {
                inner: &inner,
                bytes: self.credit.bytes,
            };
            notified.await;
        }
    }

    /// Ends the turn, keeping the credit.
    pub fn into_credit(mut self) -> Credit {
        let bytes = std::mem::take(&mut self.credit.bytes);
        Credit {
            inner: self.credit.inner.clone(),
            bytes,
        }
    }
}

impl Drop for Oversize {
    fn drop(&mut self) {
        // A frame abandoned while it waited for credit must not block others.
        let mut s = self.credit.inner.lock();
        s.growing = false;
    }
}

/// A request frame read under credit: the credit goes back when the last
/// `Bytes` slice of it is dropped.
pub fn pooled_frame(buf: BytesMut, credit: Credit) -> Bytes {
    Bytes::from_owner(PooledFrame {
        buf,
        _credit: credit,
    })
}

struct PooledFrame {
    buf: BytesMut,
    _credit: Credit,
}

impl AsRef<[u8]> for PooledFrame {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIB: usize = 1024 * 1024;

    fn pool(mib: usize) -> RequestPool {
        RequestPool::new(Some((mib * MIB) as u64))
    }

    #[test]
    fn whole_frames_reserve_and_release() {
        let p = pool(8);
        let a = p.try_whole(3 * MIB).unwrap();
        let b = p.try_whole(MIB).unwrap();
        assert_eq!(p.in_use(), 4 * MIB);
        // Large frames leave the last quarter (2 MiB) to small ones.
        assert!(p.try_whole(3 * MIB).is_none());
        let c = p.try_whole(2 * MIB).unwrap();
        let d = p.try_whole(MIB).unwrap(); // small: may use the headroom
        assert_eq!(p.in_use(), 7 * MIB);
        drop((a, b, c));
        assert_eq!(p.in_use(), MIB);
        drop(d);
        assert_eq!(p.in_use(), 0);
    }

    #[tokio::test]
    async fn decoded_credit_waits_for_free_credit_and_never_deadlocks() {
        let p = pool(4);
        // Fits: taken at once.
        let a = p.try_whole(MIB).unwrap();
        let da = p.reserve_decoded(MIB, MIB).await;
        assert_eq!(p.in_use(), 2 * MIB);
        // Two more frames fill the pool; their decoded forms do not fit.
        let b = p.try_whole(MIB).unwrap();
        let c = p.try_whole(MIB).unwrap();
        let (p1, p2) = (p.clone(), p.clone());
        let wb = tokio::spawn(async move { p1.reserve_decoded(MIB, 3 * MIB).await });
        let wc = tokio::spawn(async move { p2.reserve_decoded(MIB, 3 * MIB).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !wb.is_finished() && !wc.is_finished(),
            "nothing is free: both wait"
        );
        // The first request is served and drops frame and decoded form:
        // now all credit in use is the waiters', so one goes on beyond the
        // pool, and the other once that one is done.
        drop((da, a));
        let first = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if wb.is_finished() || wc.is_finished() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            first.is_ok(),
            "a waiter must go on when only waiters hold credit"
        );
        let (done, other, other_frame, done_frame) = if wb.is_finished() {
            (wb.await.unwrap(), wc, c, b)
        } else {
            (wc.await.unwrap(), wb, b, c)
        };
        assert_eq!(done.bytes(), 3 * MIB);
        assert_eq!(p.in_use(), 5 * MIB, "one goes on beyond the pool");
        drop((done, done_frame));
        let d = tokio::time::timeout(Duration::from_secs(5), other)
            .await
            .expect("the second waiter goes on")
            .unwrap();
        assert_eq!(p.in_use(), 4 * MIB);
        drop((d, other_frame));
        assert_eq!(p.in_use(), 0);
    }

    #[test]
    fn credit_returns_when_the_last_slice_is_dropped() {
        let p = pool(8);
        let credit = p.try_whole(100).unwrap();
        let mut buf = BytesMut::with_capacity(100);
        buf.extend_from_slice(&[7u8; 100]);
        let frame = pooled_frame(buf, credit);
        let slice = frame.slice(10..20);
        drop(frame);
        assert_eq!(p.in_use(), 100);
        assert_eq!(&slice[..], &[7u8; 10]);
        drop(slice);
        assert_eq!(p.in_use(), 0);
    }

    #[test]
    fn unbounded_pool_admits_everything() {
        let p = RequestPool::new(None);
        let a = p.try_whole(usize::MAX / 4).unwrap();
        assert!(p.try_whole(usize::MAX / 4).is_some());
        drop(a);
    }

    #[tokio::test]
    async fn oversize_frame_grows_then_runs_alone() {
        let p = pool(8);
        let small = p.try_whole(MIB).unwrap();
        // 20 MiB: larger than the whole pool.
        let mut over = p.oversize(20 * MIB).await;
        // Steps of half of what is free, until only the small frame's credit
        // stands in the way: then growing waits.
        let mut steps = 0;
        while steps < 100
            && tokio::time::timeout(Duration::from_millis(50), over.grow())
                .await
                .is_ok()
        {
            steps += 1;
        }
        assert!(steps > 1);
        assert!(
            over.granted() < 20 * MIB,
            "must wait while another frame holds credit"
        );
        assert!(p.in_use() <= 8 * MIB);
        // While it waits, nothing is admitted whole ahead of it.
        let waiting = tokio::spawn({
            let p = p.clone();
            async move {
                let mut over = over;
                while over.granted() < 20 * MIB {
                    over.grow().await;
                }
                (over.granted(), p.in_use())
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            p.try_whole(1).is_none(),
            "a waiting over-size frame is not overtaken"
        );
        drop(small);
        let (granted, in_use) = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("freed credit wakes the waiter")
            .unwrap();
        // Alone in the pool, it took the rest of its size, beyond the pool.
        assert_eq!(granted, 20 * MIB);
        assert_eq!(in_use, 20 * MIB);
        assert_eq!(p.in_use(), 0, "dropped with its task");
    }

    #[tokio::test]
    async fn oversize_frames_take_turns_and_small_ones_pass() {
        let p = pool(8);
        let mut first = p.oversize(100 * MIB).await;
        let got = first.grow().await;
        // At most half of what large frames may use (6 MiB).
        assert_eq!(got, 3 * MIB);
        // A second over-size frame waits for the turn …
        let second = tokio::spawn({
            let p = p.clone();
            async move {
                let mut o = p.oversize(100 * MIB).await;
                o.grow().await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished());
        // … while a small frame still fits (the first one is stalled on its
        // socket, not waiting for credit).
        let small = p.try_whole(512 * 1024).unwrap();
        drop(small);
        let credit = first.into_credit();
        let got = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .unwrap()
            .unwrap();
        assert!(got > 0);
        drop(credit);
        assert_eq!(p.in_use(), 0);
    }

    #[tokio::test]
    async fn many_stalled_frames_do_not_deadlock() {
        // 50 connections announce 4 MiB frames into a 16 MiB pool; each takes
        // its credit step by step; all complete.
        let p = pool(16);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let len = 4 * MIB;
                let credit = match p.try_whole(len) {
                    Some(c) => c,
                    None => {
                        let mut o = p.oversize(len).await;
                        while o.granted() < len {
                            o.grow().await;
                            tokio::task::yield_now().await;
                        }
                        o.into_credit()
                    }
                };
                assert!(p.in_use() <= 16 * MIB);
                tokio::time::sleep(Duration::from_millis(1)).await;
                drop(credit);
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("no deadlock")
                .unwrap();
        }
        assert_eq!(p.in_use(), 0);
    }

    #[tokio::test]
    async fn abandoned_waiter_unblocks_others() {
        let p = pool(4);
        let held: Vec<_> = (0..4).map(|_| p.try_whole(MIB).unwrap()).collect();
        let mut over = p.oversize(2 * MIB).await;
        assert!(tokio::time::timeout(Duration::from_millis(20), over.grow())
            .await
            .is_err());
        drop(over);
        drop(held);
        assert!(p.try_whole(MIB).is_some());
    }
}
