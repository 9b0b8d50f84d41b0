//! Differential test against the `openssl` command, an implementation nobody here wrote.
//!
//! 256 generated payloads (every length mod 16, non-ASCII text, escapes, nesting)
//! under random keys: our Base64 must equal `openssl enc -aes-256-cbc -a -A`, and
//! our decryption of openssl's output must give the exact bytes back.
#![cfg(feature = "cli")]

mod common;
use common::*;

/// A small deterministic generator for test data (not for keys in the tool).
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn json_value(g: &mut Gen, depth: u32) -> String {
    const STRINGS: &[&str] = &[
        "Page Browse",
        "héllo wörld",
        "日本語のテキスト",
        "emoji 🎉🚀",
        "quote \\\" and \\\\ backslash",
        "tab\\tnewline\\n",
        "\\u00e9\\u2603",
        "",
        "web",
        "app",
        "2025-08-26T12:05:43Z",
        "Ω≈ç√∫",
    ];
    match if depth > 3 { g.below(4) } else { g.below(7) } {
        0 => format!("\"{}\"", g.pick(STRINGS)),
        1 => format!("{}", g.next() as i64 % 100_000),
        2 => g
            .pick(&["true", "false", "null", "1.5e-3", "-0.0"])
            .to_owned(),
        3 => format!("\"{}\"", "x".repeat(g.below(40))),
        4 | 5 => {
            let n = g.below(4);
            let fields: Vec<String> = (0..n)
                .map(|i| format!("\"k{i}{}\": {}", g.pick(STRINGS), json_value(g, depth + 1)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => {
            let n = g.below(4);
            let items: Vec<String> = (0..n).map(|_| json_value(g, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

fn alphanumeric(g: &mut Gen, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| ALPHABET[g.below(62)] as char).collect()
}

#[test]
fn ce_crypt_and_openssl_agree_on_256_payloads() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut lengths_mod_16 = [0u32; 16];
    let mut non_ascii = 0;
    let dir = tempfile::tempdir().unwrap();
    for case in 0..256 {
        let key = alphanumeric(&mut g, 32);
        let iv = alphanumeric(&mut g, 16);
        let mut payload = format!("[{}]", json_value(&mut g, 0));
        // Pad with spaces (still the same JSON) to walk through every length mod 16.
        while payload.len() % 16 != case % 16 {
            payload.push(' ');
        }
        lengths_mod_16[payload.len() % 16] += 1;
        non_ascii += u32::from(!payload.is_ascii());

        let ours = ce()
            .args(["encrypt", "--key", &key, "--iv", &iv, &payload])
            .output()
            .unwrap();
        assert!(
            ours.status.success(),
            "case {case}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let theirs = openssl_encrypt(&key, &iv, payload.as_bytes());
        assert_eq!(
            String::from_utf8(ours.stdout).unwrap(),
            format!("{theirs}\n"),
            "case {case}: {payload}"
        );

        let file = dir.path().join("ct");
        std::fs::write(&file, &theirs).unwrap();
        let back = ce()
            .args(["decrypt", "--key", &key, "--iv", &iv, "-i"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(back.status.success(), "case {case}");
        assert_eq!(back.stdout, payload.as_bytes(), "case {case}");
    }
    assert!(
        lengths_mod_16.iter().all(|&n| n == 16),
        "{lengths_mod_16:?}"
    );
    assert!(non_ascii > 50, "only {non_ascii} non-ASCII payloads");
}

#[test]
fn openssl_decrypts_what_ce_crypt_encrypts() {
    let ciphertext = ce_keyed()
        .args(["encrypt", SAMPLE])
        .output()
        .unwrap()
        .stdout;
    let plain = openssl_cbc(&["-d", "-a", "-A"], &ciphertext);
    assert_eq!(plain, SAMPLE.as_bytes());
}
