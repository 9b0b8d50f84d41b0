//! `ce-crypt man`: a roff page covering every subcommand.
#![cfg(feature = "cli")]

mod common;
use common::*;

#[test]
fn the_man_page_is_roff_covering_every_subcommand() {
    let out = ce().arg("man").stdout_ok();
    let page = String::from_utf8(out).unwrap();
    assert!(page.starts_with(".TH ce-crypt 1"), "{}", &page[..80]);
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"CE-CRYPT {}\"", sub.to_uppercase())),
            "{sub}"
        );
    }
    assert!(page.contains("\\-\\-key\\-file"));
    assert!(page.contains("CE_API_KEY"));
}
