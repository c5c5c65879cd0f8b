//! Content hashing that moves to a second thread once the content is large, so that
//! hashing overlaps with encoding and encryption on a machine with two cores or more.
//!
//! Small contents (below [`THREAD_AFTER`]) are hashed inline: a thread costs more than
//! it saves there. So is every content of a writer told to
//! ([`Hashing::on_this_thread`]): one whose output already has a thread of its own
//! (encryption) on a machine with two cores, where a third busy thread only adds
//! copies and waits. Chunks cross to the hashing thread through a bounded channel (at
//! most [`QUEUE`] chunks in flight), so memory stays bounded.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use mss_algs::digest::{DigestAlgorithm, Hasher};

use crate::CmsError;

/// Content bytes hashed inline before the hashing moves to its own thread.
pub const THREAD_AFTER: u64 = 1024 * 1024;

/// Batches queued for the hashing thread at most (2 MiB: more than a scheduler time
/// slice of work).
const QUEUE: usize = 8;

/// Bytes gathered before they cross to the hashing thread (fewer wake-ups).
const BATCH: usize = 256 * 1024;

enum State {
    Inline(Vec<Hasher>),
    Threaded {
        tx: SyncSender<Vec<u8>>,
        handle: JoinHandle<Vec<Hasher>>,
        batch: Vec<u8>,
        /// Hashed batches coming back, to be filled again.
        spare: Receiver<Vec<u8>>,
    },
}

/// Hashes a content with one or more digest algorithms.
pub(crate) struct Hashing {
    state: State,
    total: u64,
    /// May the hashing move to its own thread?
    threaded: bool,
}

impl Hashing {
    pub(crate) fn new(hashers: Vec<Hasher>) -> Self {
        Hashing {
            state: State::Inline(hashers),
            total: 0,
            threaded: true,
        }
    }

    /// Keep hashing on the calling thread whatever the size of the content (before any
    /// content is hashed).
    pub(crate) fn on_this_thread(&mut self) {
        self.threaded = false;
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        if let State::Inline(hashers) = &mut self.state {
            if self.total < THREAD_AFTER || hashers.is_empty() || !self.threaded {
                for h in hashers.iter_mut() {
                    h.update(data);
                }
                return;
            }
            let mut moved = std::mem::take(hashers);
            let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
            let (back, spare) = sync_channel::<Vec<u8>>(QUEUE + 1);
            let handle = std::thread::spawn(move || {
                for mut chunk in rx {
                    for h in moved.iter_mut() {
                        h.update(&chunk);
                    }
                    chunk.clear();
                    // Back for reuse; dropped if nobody takes it.
                    let _ = back.try_send(chunk);
                }
                moved
            });
            self.state = State::Threaded {
                tx,
                handle,
                batch: Vec::with_capacity(BATCH),
                spare,
            };
        }
        if let State::Threaded {
            tx, batch, spare, ..
        } = &mut self.state
        {
            batch.extend_from_slice(data);
            if batch.len() >= BATCH {
                let next = spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                // A failed send means the thread is gone: `finish` reports it.
                let _ = tx.send(std::mem::replace(batch, next));
            }
        }
    }

    /// The digests, in the order of the hashers given to [`Hashing::new`].
    pub(crate) fn finish(self) -> Result<Vec<(DigestAlgorithm, Vec<u8>)>, CmsError> {
        let hashers = match self.state {
            State::Inline(h) => h,
            State::Threaded {
                tx, handle, batch, ..
            } => {
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                drop(tx);
                handle
                    .join()
                    .map_err(|_| CmsError::Encoding("the hashing thread failed".into()))?
            }
        };
        Ok(hashers
            .into_iter()
            .map(|h| (h.algorithm(), h.finalize()))
            .collect())
    }
}
