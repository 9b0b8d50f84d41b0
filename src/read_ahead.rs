//! Reading input on a second thread, so that copying it from the kernel
//! overlaps the work done on it.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

/// Reads once, retrying on interruption; `None` at the end of the input.
pub(crate) fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Pieces of an input, read ahead on a second thread into recycled buffers.
pub(crate) struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
}

impl ReadAhead {
    /// The pieces, in order, until the input ends or a read fails.
    pub(crate) fn iter(&self) -> impl Iterator<Item = io::Result<Vec<u8>>> + '_ {
        self.full.iter()
    }

    /// Hands a piece's buffer back for the next read.
    pub(crate) fn recycle(&self, buffer: Vec<u8>) {
        let _ = self.empty.try_send(buffer);
    }
}

/// Starts reading `reader` on its own thread, `piece_len` bytes at a time.
///
/// The thread is not joined: if the consumer stops early (an error), it may be
/// blocked on a read that never ends (a terminal, a pipe), and the process must
/// still be free to exit. At most four pieces exist at once: two queued, one
/// being read, one being consumed.
pub(crate) fn read_ahead<R: Read + Send + 'static>(reader: R, piece_len: usize) -> ReadAhead {
    let (full_tx, full) = sync_channel(2);
    let (empty, empty_rx) = sync_channel::<Vec<u8>>(1);
    thread::spawn(move || {
        let mut reader = reader;
        loop {
            let mut buffer = empty_rx.try_recv().unwrap_or_default();
            buffer.resize(piece_len, 0);
            let sent = match read_some(&mut reader, &mut buffer) {
                Ok(None) => return,
                Ok(Some(n)) => {
                    buffer.truncate(n);
                    full_tx.send(Ok(buffer))
                }
                Err(error) => {
                    let _ = full_tx.send(Err(error));
                    return;
                }
            };
            if sent.is_err() {
                return; // the consumer is gone
            }
        }
    });
    ReadAhead { full, empty }
}
