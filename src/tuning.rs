//! Every number ce-crypt tunes its speed and memory with, in one place, each
//! with the measurement behind it ("not measured" where none was made; the
//! runs are in docs/BENCHMARKS.md, by the stop of issue 15 named).
//!
//! Not here: formats and the API's rules (block, nonce and tag lengths, 1000
//! events a request, nesting limits), which live with the code they define,
//! and the bulk sender's batching and retry numbers, in `upload::bulk`.
//!
//! Not part of the library's API.

use std::time::Duration;

// Streams: encryption and decryption of any length (`cipher::stream`,
// `pipeline`, `hazmat::text`).

/// Payload bytes per piece of a stream, encrypted or decrypted in one call
/// and Base64-encoded in one call: 192 KiB took 64 MiB `encrypt --raw` to a
/// pipe from 82.2 to 74.8 ms against 48 KiB; 512 KiB gave nothing more
/// (ninth stop). The stage benches (benches/throughput.rs) cut their input
/// in it too.
pub(crate) const PIECE: usize = 192 * 1024;
const _: () = assert!(
    PIECE.is_multiple_of(48),
    "whole AES blocks and Base64 groups"
);

/// Buffers going round a stream's stages: memory of about four pieces;
/// not measured.
pub(crate) const STREAM_BUFFERS: usize = 4;

/// Work on fewer bytes stays on the calling thread: streams, the JSON check
/// beside encryption in memory, and the CLI's reading ahead; not measured
/// (waking a thread costs about 10 us on these VMs, ninth stop).
pub(crate) const THREAD_MIN: u64 = 1024 * 1024;

/// The least room a read of ciphertext text is given, so that short reads
/// (pipes, sockets) do not zero a whole piece each; not measured.
pub(crate) const READ_MIN_ROOM: usize = 512;

/// Ciphertext text read at a time when it is decoded whole, in memory; not
/// measured.
pub(crate) const DECODE_READ_LEN: usize = 1024 * 1024;

/// The CLI's output buffer: one piece's Base64 text (256 KiB) fills it and
/// then passes straight through; a small file's output bounds it (small
/// payload 1.98 -> 1.71 ms, seventh stop).
pub(crate) const OUTPUT_BUFFER: usize = 256 * 1024;

/// The pipe buffer the CLI asks for on a standard input or output that is a
/// pipe (Linux's default: 64 KiB): a fast writer then fills whole
/// [`LINES_READ_LEN`] reads (308 reads of 259 KB on average, eighth stop).
pub(crate) const PIPE_BUFFER: usize = 1024 * 1024;

/// Regular files from this size on are streamed by `encrypt` and `decrypt`
/// in memory of fixed size (the help texts say "1 MiB"); not measured.
pub(crate) const STREAM_MIN: u64 = 1024 * 1024;

/// Bytes `decrypt` reads ahead on a second thread for an input held whole;
/// not measured.
pub(crate) const READ_AHEAD_LEN: usize = 1024 * 1024;

/// `decrypt`'s buffer in front of an input held whole, enough to tell a
/// request body from bare text at its start; not measured.
pub(crate) const DECRYPT_READ_BUFFER: usize = 64 * 1024;

// The JSON check of a payload read in pieces (`json_stream`).

/// Bytes the JSON check reads at a time: 64 KiB and 256 KiB were within
/// the spread (193.0 and 190.4 ms against 199.6 ms to a pipe, fourth stop;
/// 22-37 ms in every setting, ninth stop).
pub(crate) const JSON_READ_LEN: usize = 1024 * 1024;

/// Bytes of one element held at most before the rest is checked as a
/// stream, far more than any element the API takes: a 200 MiB string then
/// peaks at 13.6-14.0 MiB of memory, not 205 MiB.
pub(crate) const JSON_HOLD_MAX: usize = 8 * 1024 * 1024;

/// Bytes handed to serde_json at a time past [`JSON_HOLD_MAX`]; not measured.
pub(crate) const JSON_WINDOW_LEN: usize = 64 * 1024;

/// Runs of elements in flight to the check's two helper threads (memory for
/// as many reads): helpers took 64 MiB to a pipe from 238 to 207 ms; the
/// count itself not measured.
pub(crate) const JSON_IN_FLIGHT: usize = 4;

/// A regular file from this size on is checked in parts, a thread each:
/// the JSON check (`stage_check_parts`, 64 MiB: 50.4 ms against 100.1 on one
/// thread) and the ciphertext text check; the threshold not measured.
pub(crate) const PARTS_MIN: u64 = 2 * 1024 * 1024;

/// Parts at most, whatever the cores: each takes a read buffer of its own;
/// not measured.
pub(crate) const PARTS_MAX: usize = 4;

/// Bytes read where a part of a JSON payload is to start, to find the cut
/// it starts after; not measured.
pub(crate) const CUT_WINDOW: usize = 64 * 1024;

/// Bytes before a read's end searched for a cut between elements; not
/// measured.
pub(crate) const CUT_LOOK_BACK: usize = 256 * 1024;

/// Bytes read at a payload's start to learn how its elements start: cuts
/// where that recurs took 160 MiB of events with item arrays from 1104 to
/// 560 ms to a pipe (fourth stop); the length not measured.
pub(crate) const HEAD_LEN: usize = 64 * 1024;

// The check of ciphertext text before plaintext is released (`cipher::seekable`).

/// Bytes each part reads at a time: 64 KiB judged 85 MiB of text in 16-24
/// ms; 32 KiB 22-25, 128 KiB 36-43, 1 MiB 38-49 ms (fourth stop).
pub(crate) const TEXT_READ_LEN: usize = 64 * 1024;

/// Bytes read at the text's end for its padding and whitespace; more
/// whitespace than this takes the full check instead. Not measured.
pub(crate) const TEXT_END_LEN: u64 = 4096;

// One payload per line (`lines`, `lines::parts`, the CLI's `check --lines`).

/// Bytes of lines read at a time: 1 MiB reads were faster only with a
/// barrier between chunks, at 20 MiB peak RSS (eighth stop).
pub(crate) const LINES_READ_LEN: usize = 256 * 1024;

/// Parts of a chunk of lines are at least this long: handing one over costs
/// about as much as encrypting a few KiB; not measured alone.
pub(crate) const LINES_MIN_PART: usize = 16 * 1024;

/// A chunk that may stall (not read from a regular file) is shared between
/// cores only from this length: every 64 KiB chunk of a pipe paying for a
/// wait took `cat | encrypt --lines` to 190.6-213.1 ms, against 137.4-148.0
/// on one thread (eighth stop).
pub(crate) const LINES_MIN_WAITED: usize = 128 * 1024;

/// Parts of a chunk of lines at most, whatever the cores; not measured.
pub(crate) const LINES_MAX_PARTS: usize = 8;

/// How long a thread waiting for another spins before it sleeps: waking a
/// sleeping thread takes tens of microseconds here; waiting so after short
/// reads, 200,000 lines took 109.2-109.4 ms against 124.9-125.4 on one
/// thread (eighth stop); 50 us itself not measured against others.
pub(crate) const LINES_SPIN: Duration = Duration::from_micros(50);

// Re-indenting a plaintext (`pretty`).

/// Bytes of indented JSON handed to the writer at once; not measured.
pub(crate) const PRETTY_CHUNK: usize = 64 * 1024;
