//! Project Wycheproof vectors through the library's CBC and GCM code.
//!
//! The number of cases run is asserted, so a filter bug cannot pass silently.

use ce_crypt::hazmat::{self, NONCE_LEN};
use ce_crypt::{Iv, Key};
use wycheproof::{aead, cipher};

#[test]
fn aes_256_cbc_pkcs5() {
    let set = cipher::TestSet::load(cipher::TestName::AesCbcPkcs5).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups.iter().filter(|g| g.key_size == 256) {
        assert_eq!(group.nonce_size, 128);
        for test in &group.tests {
            let key = Key::try_from(&test.key[..]).unwrap();
            let iv = Iv::try_from(&test.nonce[..]).unwrap();
            let mut buffer = test.ct.to_vec();
            let opened = hazmat::cbc_decrypt_in_place(&key, &iv, &mut buffer);
            if test.result.must_fail() {
                assert!(
                    opened.is_err(),
                    "tc {} ({}) was accepted",
                    test.tc_id,
                    test.comment
                );
                assert!(
                    buffer.is_empty(),
                    "tc {}: plaintext left behind",
                    test.tc_id
                );
                invalid += 1;
            } else {
                assert!(
                    opened.is_ok(),
                    "tc {} ({}): {opened:?}",
                    test.tc_id,
                    test.comment
                );
                assert_eq!(&buffer[..], &test.pt[..], "tc {} decrypt", test.tc_id);
                let ciphertext = hazmat::cbc_encrypt(&key, &iv, &test.pt);
                assert_eq!(&ciphertext[..], &test.ct[..], "tc {} encrypt", test.tc_id);
                valid += 1;
            }
        }
    }
    assert_eq!((valid, invalid), (24, 48));
}

#[test]
fn aes_256_gcm_96_bit_nonce_128_bit_tag_no_aad() {
    let set = aead::TestSet::load(aead::TestName::AesGcm).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set
        .test_groups
        .iter()
        .filter(|g| g.key_size == 256 && g.nonce_size == 96 && g.tag_size == 128)
    {
        for test in group.tests.iter().filter(|t| t.aad.is_empty()) {
            let key = Key::try_from(&test.key[..]).unwrap();
            // Netcore's layout: nonce ‖ ciphertext ‖ tag.
            let mut sealed = [&test.nonce[..], &test.ct[..], &test.tag[..]].concat();
            let opened = hazmat::gcm_open_in_place(&key, &mut sealed);
            if test.result.must_fail() {
                assert!(
                    opened.is_err(),
                    "tc {} ({}) was accepted",
                    test.tc_id,
                    test.comment
                );
                assert!(
                    sealed.is_empty(),
                    "tc {}: plaintext left behind",
                    test.tc_id
                );
                invalid += 1;
            } else {
                assert!(
                    opened.is_ok(),
                    "tc {} ({}): {opened:?}",
                    test.tc_id,
                    test.comment
                );
                assert_eq!(&sealed[..], &test.pt[..], "tc {} decrypt", test.tc_id);
                let nonce: [u8; NONCE_LEN] = test.nonce[..].try_into().unwrap();
                let resealed = hazmat::gcm_seal(&key, &nonce, &test.pt).unwrap();
                assert_eq!(
                    resealed,
                    [&test.nonce[..], &test.ct[..], &test.tag[..]].concat(),
                    "tc {} encrypt",
                    test.tc_id
                );
                valid += 1;
            }
        }
    }
    // 66 cases have this key, nonce and tag size; 48 of them have no AAD.
    assert_eq!((valid, invalid), (21, 27));
}
