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
