//! Text from elsewhere (a server's answer) on its way to a terminal: its
//! control characters written as escapes, so they cannot move the cursor,
//! change colours, retitle the window or reorder what is shown.

use std::borrow::Cow;

/// `text` with every control character but newline and tab written as an
/// escape (`\x1b`, `\r`, `\u{9b}`), and the Unicode controls that reorder
/// text (bidirectional overrides, isolates and marks) as `\u{202e}` and the
/// like. Text without any comes back borrowed.
///
/// For a body printed to a terminal; a file or pipe gets the bytes as they are.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_obeyed() {
        assert!(matches!(
            escape_controls("{\"ok\":1}\n\tfine"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            escape_controls("a\u{1b}[2J\u{1b}]0;title\u{7}b\r\n"),
            "a\\x1b[2J\\x1b]0;title\\x07b\\r\n"
        );
        assert_eq!(escape_controls("\u{9b}31m \u{7f}"), "\\u{9b}31m \\x7f");
        assert_eq!(
            escape_controls("user\u{202e}gnp.exe\u{2066}"),
            "user\\u{202e}gnp.exe\\u{2066}"
        );
        assert_eq!(escape_controls("café ✓"), "café ✓");
    }
}
