//! The README's runnable shell blocks, run as written against a loopback server.
//!
//! Convention: a block that opens with ```` ```sh runnable ```` is run; plain
//! ```` ```sh ```` blocks are shown only. The runnable blocks run in order, each
//! with `sh -eu`, in one temporary folder holding `events.json` (a payload of
//! over 256 KiB, past the argument-list limit), with `ce-crypt` first on `PATH`
//! and `CE_ENDPOINT` pointing at a loopback server. A block must not reach any
//! other host: the server must see every request.
#![cfg(feature = "cli")]

mod common;
use common::net::{self as loopback, TestServer};
use common::*;

/// The runnable blocks of `markdown`, in order.
fn runnable_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_end() == "```sh runnable" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed runnable block");
    blocks
}

/// A valid payload of more than `size` bytes: one asset, many events.
fn big_payload(size: usize) -> String {
    let event = &SAMPLE[1..SAMPLE.len() - 1];
    let count = size / event.len() + 1;
    format!("[{}]", vec![event; count].join(","))
}

#[test]
fn the_readmes_runnable_blocks_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = runnable_blocks(&readme);
    assert!(blocks.len() >= 2, "no runnable blocks found");
    let server = TestServer::start(loopback::always(loopback::json(200, r#"{"status":"ok"}"#)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.json"), big_payload(256 << 10)).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ce-crypt"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config = tempfile::tempdir().unwrap(); // where `keygen --profile` writes
    let mut sent = 0;
    for block in &blocks {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-eu", "-c", block])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("CE_ENDPOINT", server.url())
            .env("CE_API_KEY", "test-api-key")
            .env("XDG_CONFIG_HOME", config.path());
        for var in [
            "CE_SECRET_KEY",
            "CE_SECRET_IV",
            "CE_KEY_ENCODING",
            "CE_PROFILE",
            "CE_REGION",
        ] {
            cmd.env_remove(var);
        }
        loopback::clear_proxy_env_std(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "this README block failed:\n{block}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        sent += block.matches("ce-crypt send").count();
    }
    assert!(sent > 0, "no runnable block sends");
    // Every request reached the loopback server, none went elsewhere.
    let requests = server.requests();
    assert!(!requests.is_empty(), "nothing reached the loopback server");
}

#[test]
fn only_marked_blocks_are_picked() {
    let md = "```sh\nnot this\n```\n```sh runnable\na\nb\n```\ntext\n```sh runnable\nc\n```\n";
    assert_eq!(runnable_blocks(md), ["a\nb\n", "c\n"]);
}

/// The measured figures in `markdown`: a number directly followed by ` ms`
/// or `×`, as (value, unit, decimals written).
fn figures(markdown: &str) -> Vec<(f64, &'static str, usize)> {
    let mut found = Vec::new();
    for unit in [" ms", "×"] {
        for (at, _) in markdown.match_indices(unit) {
            let head = &markdown[..at];
            let start = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                .map_or(0, |i| i + head[i..].chars().next().unwrap().len_utf8());
            let text = head[start..].replace(',', "");
            if let Ok(value) = text.parse::<f64>() {
                let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                found.push((value, unit.trim(), decimals));
            }
        }
    }
    found
}

#[test]
fn every_figure_in_the_readme_is_one_from_the_benchmarks_page() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let benchmarks = std::fs::read_to_string(format!("{root}/docs/BENCHMARKS.md")).unwrap();
    let measured = figures(&benchmarks);
    assert!(measured.len() > 10, "the benchmarks page has figures");
    for (value, unit, decimals) in figures(&readme) {
        // The README may round a figure to fewer decimals, never invent one.
        let scale = 10f64.powi(decimals as i32);
        let agrees = measured
            .iter()
            .any(|&(m, u, _)| u == unit && (m * scale).round() == (value * scale).round());
        assert!(
            agrees,
            "README figure {value} {unit} is not in docs/BENCHMARKS.md"
        );
    }
}

#[test]
fn figures_are_read_with_their_units() {
    let md = "took 1,204.5 ms, then 150 ms; 0.23× openssl; 3 minutes";
    assert_eq!(
        figures(md),
        [(1204.5, "ms", 1), (150.0, "ms", 0), (0.23, "×", 2)]
    );
}
