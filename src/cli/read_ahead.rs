//! Reading on a second thread, so that copying input from the kernel, or
//! splitting lines, overlaps the work done on it.
//!
//! The threads are not joined: if the consumer stops early (an error), a
//! reader may be blocked on a read that never ends (a terminal, a pipe whose
//! writer stays open), and the process must still be free to exit. That is
//! why this lives in the binary and not in the library.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use ce_crypt::lines::{LineChunk, LineChunks, LinesError};

use super::process;

/// Runs `items` on its own thread; its items arrive in order, at most
/// `queued` of them waiting at once.
pub fn in_background<T: Send + 'static>(
    items: impl Iterator<Item = T> + Send + 'static,
    queued: usize,
) -> impl Iterator<Item = T> {
    let (sender, receiver) = sync_channel(queued);
    thread::spawn(move || {
        for item in items {
            if sender.send(item).is_err() {
                return; // the consumer is gone
            }
        }
    });
    receiver.into_iter()
}

/// The chunks of `lines`, read and split on their own thread. A regular
/// file never makes a read wait; other input, most likely a pipe on standard
/// input, has that pipe widened so that a fast writer fills whole reads.
pub fn line_chunks(
    lines: LineChunks<impl Read + Send + 'static>,
    from_file: bool,
) -> impl Iterator<Item = Result<LineChunk, LinesError>> {
    let lines = if from_file {
        lines.reads_never_wait()
    } else {
        process::widen_stdin_pipe();
        lines
    };
    in_background(lines, 4)
}

/// A reader whose input is read ahead on a second thread, `piece_len` bytes
/// at a time, into recycled buffers: at most four pieces exist at once (two
/// queued, one being read, one being consumed).
pub struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
}

impl ReadAhead {
    /// Starts reading `reader` on its own thread.
    pub fn new<R: Read + Send + 'static>(mut reader: R, piece_len: usize) -> ReadAhead {
        let (full_tx, full) = sync_channel(2);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(2);
        thread::spawn(move || {
            loop {
                let mut buffer = empty_rx.try_recv().unwrap_or_default();
                buffer.resize(piece_len, 0);
                let piece = match read_once(&mut reader, &mut buffer) {
                    Ok(0) => return,
                    Ok(n) => {
                        buffer.truncate(n);
                        Ok(buffer)
                    }
                    Err(error) => Err(error),
                };
                let failed = piece.is_err();
                if full_tx.send(piece).is_err() || failed {
                    return;
                }
            }
        });
        ReadAhead {
            full,
            empty,
            current: Vec::new(),
            position: 0,
        }
    }
}

fn read_once(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buffer) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.current.len() {
            let Ok(next) = self.full.recv() else {
                return Ok(0); // the input ended
            };
            let used = std::mem::replace(&mut self.current, next?);
            let _ = self.empty.try_send(used);
            self.position = 0;
        }
        let n = buf.len().min(self.current.len() - self.position);
        buf[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_gives_every_byte_in_order() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        ReadAhead::new(io::Cursor::new(data.clone()), 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn read_errors_arrive_after_the_bytes_before_them() {
        struct FailsAfter(usize);
        impl Read for FailsAfter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = self.0.min(buf.len());
                buf[..n].fill(b'x');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let err = ReadAhead::new(FailsAfter(10_000), 4096)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(out.len(), 10_000);
    }

    #[test]
    fn background_items_keep_their_order() {
        let got: Vec<u32> = in_background(0..10_000u32, 4).collect();
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    }
}
