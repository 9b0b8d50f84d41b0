//! Throughput of the pieces ce-crypt is made of: `cargo bench`.
//!
//! - each method end to end (encrypt to text, decrypt from text) at 1 KiB, 1 MiB, 64 MiB;
//! - the JSON check;
//! - the stages of a streamed file, each alone, at 1 MiB and 64 MiB: `stage_read`
//!   (a file through the page cache), `stage_check`, `stage_check_parallel`
//!   and `stage_check_parts` (the streamed JSON check on one thread, with its
//!   two helpers, and a file's parts on a thread each),
//!   `stage_encrypt_*` / `stage_decrypt_*` (the cipher alone, a piece at a
//!   time through `hazmat`'s one-shot functions: the streams `Cipher` uses
//!   are not public, so each piece is a message of its own here, padded or
//!   tagged, and encryption copies it into a new buffer),
//!   `stage_encode` (Base64), `stage_write` (a new file), and `streamed_*`
//!   (all of them at once, on their threads), so that a regression points
//!   at its stage;
//! - Base64 and hex encoding, with the `base64` crate's SIMD and scalar engines and
//!   `base64-simd` side by side (the comparison behind the choice of encoder).

use base64::Engine as _;
use ce_crypt::hazmat;
use ce_crypt::{Cipher, Iv, Key, Method, TextEncoding, payload};
use divan::counter::BytesCount;
use divan::{Bencher, black_box};

const SIZES: &[usize] = &[1024, 1024 * 1024, 64 * 1024 * 1024];

fn main() {
    divan::main();
}

fn cipher(method: Method) -> Cipher {
    let key = Key::new(*b"Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU");
    Cipher::new(method, key, Some(Iv::new(*b"Qw5Er7Ty9Ui2Op4A"))).unwrap()
}

/// A JSON array of events about `size` bytes long.
fn json_payload(size: usize) -> Vec<u8> {
    let event = r#"{"asset_id":"ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1","activity_name":"Page Browse","timestamp":"2025-08-26T12:05:43Z","identity":"user@example.com","activity_source":"web","activity_params":{"page_url":"https://www.example.com/p?c=red","price":59.99,"tags":["new","sale"]}}"#;
    let mut out = b"[".to_vec();
    while out.len() + event.len() + 2 < size {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(event.as_bytes());
    }
    out.push(b']');
    out
}

fn methods() -> [Method; 3] {
    Method::ALL
}

#[divan::bench(args = SIZES, consts = [0, 1, 2], sample_count = 10)]
fn encrypt<const M: usize>(bencher: Bencher, size: usize) {
    let cipher = cipher(methods()[M]);
    let payload = json_payload(size);
    let mut out = Vec::with_capacity(size * 2 + 64);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| {
            out.clear();
            cipher.encrypt_to(black_box(&payload), &mut out).unwrap();
        });
}

#[divan::bench(args = SIZES, consts = [0, 1, 2], sample_count = 10)]
fn decrypt<const M: usize>(bencher: Bencher, size: usize) {
    let cipher = cipher(methods()[M]);
    let payload = json_payload(size);
    let ciphertext = cipher.encrypt(&payload).unwrap();
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| cipher.decrypt(black_box(ciphertext.as_bytes())).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn json_check(bencher: Bencher, size: usize) {
    let payload = json_payload(size);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| payload::check_json(black_box(&payload)).unwrap());
}

fn random_bytes(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect()
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn base64_encode_ce_crypt(bencher: Bencher, size: usize) {
    let bytes = random_bytes(size);
    bencher
        .counter(BytesCount::new(size))
        .bench_local(|| hazmat::encode_to_string(black_box(&bytes), TextEncoding::Base64));
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn base64_encode_scalar_engine(bencher: Bencher, size: usize) {
    let bytes = random_bytes(size);
    bencher
        .counter(BytesCount::new(size))
        .bench_local(|| base64::engine::general_purpose::STANDARD.encode(black_box(&bytes)));
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn base64_encode_base64_simd(bencher: Bencher, size: usize) {
    let bytes = random_bytes(size);
    bencher
        .counter(BytesCount::new(size))
        .bench_local(|| base64_simd::STANDARD.encode_to_string(black_box(&bytes)));
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn base64_decode_ce_crypt(bencher: Bencher, size: usize) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(random_bytes(size));
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        hazmat::decode(black_box(encoded.as_bytes()), TextEncoding::Base64).unwrap()
    });
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn base64_decode_base64_simd(bencher: Bencher, size: usize) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(random_bytes(size));
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        base64_simd::STANDARD
            .decode_to_vec(black_box(encoded.as_bytes()))
            .unwrap()
    });
}

#[divan::bench(args = SIZES, sample_count = 10)]
fn hex_encode(bencher: Bencher, size: usize) {
    let bytes = random_bytes(size);
    bencher
        .counter(BytesCount::new(size))
        .bench_local(|| hazmat::encode_to_string(black_box(&bytes), TextEncoding::Hex));
}

/// The piece size of `Cipher::encrypt_stream` (`PIECE` in src/tuning.rs):
/// what each stage works on at a time.
const PIECE: usize = 192 * 1024;
const STAGE_SIZES: &[usize] = &[1024 * 1024, 64 * 1024 * 1024];

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_read(bencher: Bencher, size: usize) {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payload.json");
    std::fs::write(&path, json_payload(size)).unwrap();
    let mut piece = vec![0u8; PIECE];
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        let mut file = std::fs::File::open(&path).unwrap();
        while file.read(&mut piece).unwrap() > 0 {}
    });
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_check(bencher: Bencher, size: usize) {
    let payload = json_payload(size);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| payload::check_json_reader(black_box(&payload[..])).unwrap());
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_check_parallel(bencher: Bencher, size: usize) {
    let payload = json_payload(size);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| payload::check_json_reader_parallel(black_box(&payload[..])).unwrap());
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_check_parts(bencher: Bencher, size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payload.json");
    let payload = json_payload(size);
    std::fs::write(&path, &payload).unwrap();
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| {
            payload::check_json_seekable(payload.len() as u64, || std::fs::File::open(&path))
                .unwrap()
        });
}

fn stage_key() -> Key {
    Key::new(*b"Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU")
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_encrypt_cbc(bencher: Bencher, size: usize) {
    let buffer = random_bytes(size);
    let iv = Iv::new(*b"Qw5Er7Ty9Ui2Op4A");
    let key = stage_key();
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        for piece in buffer.chunks(PIECE) {
            black_box(hazmat::cbc_encrypt(&key, &iv, piece));
        }
    });
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_decrypt_cbc(bencher: Bencher, size: usize) {
    let iv = Iv::new(*b"Qw5Er7Ty9Ui2Op4A");
    let key = stage_key();
    let pieces: Vec<Vec<u8>> = random_bytes(size)
        .chunks(PIECE)
        .map(|piece| hazmat::cbc_encrypt(&key, &iv, piece))
        .collect();
    bencher
        .counter(BytesCount::new(size))
        .with_inputs(|| pieces.clone())
        .bench_local_values(|mut pieces| {
            for piece in &mut pieces {
                hazmat::cbc_decrypt_in_place(&key, &iv, piece).unwrap();
            }
            pieces
        });
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_encrypt_gcm(bencher: Bencher, size: usize) {
    let buffer = random_bytes(size);
    let key = stage_key();
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        for (i, piece) in buffer.chunks(PIECE).enumerate() {
            // A nonce of its own for every piece, as for every message.
            let mut nonce = [0; 12];
            nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
            black_box(hazmat::gcm_seal(&key, &nonce, piece).unwrap());
        }
    });
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_encode(bencher: Bencher, size: usize) {
    let bytes = random_bytes(size);
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        for piece in bytes.chunks(PIECE) {
            black_box(hazmat::encode_to_string(piece, TextEncoding::Base64));
        }
    });
}

#[divan::bench(args = STAGE_SIZES, sample_count = 10)]
fn stage_write(bencher: Bencher, size: usize) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.enc");
    // Base64 text is 4/3 of the ciphertext.
    let text = vec![b'A'; size / 3 * 4];
    bencher.counter(BytesCount::new(size)).bench_local(|| {
        let mut file = std::fs::File::create(&path).unwrap();
        for piece in text.chunks(PIECE / 3 * 4) {
            file.write_all(piece).unwrap();
        }
    });
}

#[divan::bench(args = STAGE_SIZES, consts = [0, 2], sample_count = 10)]
fn streamed_encrypt<const M: usize>(bencher: Bencher, size: usize) {
    let cipher = cipher(methods()[M]);
    let payload = json_payload(size);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| {
            cipher
                .encrypt_stream(
                    black_box(&payload[..]),
                    Some(payload.len() as u64),
                    std::io::sink(),
                )
                .unwrap()
        });
}

#[divan::bench(args = STAGE_SIZES, consts = [0, 2], sample_count = 10)]
fn streamed_decrypt<const M: usize>(bencher: Bencher, size: usize) {
    let cipher = cipher(methods()[M]);
    let payload = json_payload(size);
    let text = cipher.encrypt(&payload).unwrap();
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| {
            cipher
                .decrypt_stream(
                    black_box(text.as_bytes()),
                    Some(text.len() as u64),
                    std::io::sink(),
                )
                .unwrap()
        });
}
