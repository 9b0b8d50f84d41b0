//! Reading helpers shared by the streaming decoders.

use std::io::{self, Read};

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

/// A reader that gives at most `step` bytes per read, so that tests cut a
/// stream at every place.
#[cfg(test)]
pub(crate) struct Trickle<'a> {
    pub bytes: &'a [u8],
    pub step: usize,
}

#[cfg(test)]
impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}
