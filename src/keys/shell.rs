//! The value of a key-file assignment, read as POSIX sh reads `NAME=VALUE`
//! without expanding anything.
//!
//! The quoting rules are `shlex`'s (single quotes, double quotes with `\`
//! escapes, backslashes, parts written side by side); what `shlex` leaves to
//! its caller is checked here: text sh would expand (`$NAME`, `$(…)`,
//! backquotes, a leading `~`) or run (`;`, `|`, a second word) is refused
//! rather than read differently from the shell.

use zeroize::Zeroizing;

use crate::secret::SecretString;

/// Why a value is not one sh reads as written. Each text is a problem of the
/// line it is on, and never quotes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueProblem {
    /// A quote is not closed, or the value ends with a lone backslash.
    Unclosed,
    /// `$` or a backquote that sh would expand.
    Expansion,
    /// A `~` where sh would put a home folder.
    Tilde,
    /// `;`, `&`, `|`, `<`, `>`, `(` or `)` outside quotes.
    Operator,
    /// A blank outside quotes, followed by more than a comment.
    Blank,
}

impl ValueProblem {
    /// The end of "line N of the key file …".
    pub(super) fn text(self) -> &'static str {
        match self {
            ValueProblem::Unclosed => "has a quote that is not closed, or ends with a backslash",
            ValueProblem::Expansion => {
                "has a $ or a backquote that sh would expand: put the value in single quotes \
                 ('…')"
            }
            ValueProblem::Tilde => {
                "starts with ~, which sh would expand to a home folder: put the value in single \
                 quotes ('…')"
            }
            ValueProblem::Operator => {
                "has ; & | < > ( or ) outside quotes, which sh would read as a command: put the \
                 value in single quotes ('…')"
            }
            ValueProblem::Blank => {
                "has a space outside quotes, where sh would end the value: put the value in \
                 quotes"
            }
        }
    }
}

/// The value after `NAME=`, as sh assigns it; a trailing ` # comment` is
/// dropped. `loose` is for `NAME = VALUE` (blanks around `=`, which sh would
/// not take as an assignment but the file's author plainly meant as one):
/// blanks before the value are then skipped rather than ending it.
pub(super) fn value(text: &str, loose: bool) -> Result<SecretString, ValueProblem> {
    let text = if loose || text.starts_with([' ', '\t']) {
        // `NAME= # note` assigns nothing; `NAME= value` is taken as
        // `NAME=value`, as ce-crypt always has.
        let rest = text.trim_start_matches([' ', '\t']);
        if rest.starts_with('#') {
            return Ok(SecretString::default());
        }
        rest
    } else {
        text
    };
    let (word, quoted) = scan(text)?;
    if !quoted {
        // Bare text, as keygen writes it: taken as it stands, with no copy
        // left behind in freed memory.
        return match word.contains([' ', '\t']) {
            true => Err(ValueProblem::Blank),
            false => Ok(SecretString::from(word)),
        };
    }
    // shlex would take a `#` at the start of the text for a comment, where
    // sh, reading `NAME=#…`, is in the middle of a word: a letter in front
    // keeps it there.
    let mut prefixed = Zeroizing::new(String::with_capacity(word.len() + 1));
    prefixed.push('x');
    prefixed.push_str(word);
    let words: Vec<SecretString> = shlex::split(&prefixed)
        .ok_or(ValueProblem::Unclosed)?
        .into_iter()
        .map(SecretString::new)
        .collect();
    match <[SecretString; 1]>::try_from(words) {
        Ok([only]) => Ok(SecretString::from(&only.expose()[1..])),
        Err(_) => Err(ValueProblem::Blank),
    }
}

/// The value's text up to a comment, and whether it holds quotes or
/// backslashes; or what sh would do with it other than assign it.
fn scan(text: &str) -> Result<(&str, bool), ValueProblem> {
    #[derive(PartialEq)]
    enum In {
        Bare,
        Single,
        Double,
    }
    let mut state = In::Bare;
    let mut quoted = false;
    let mut after_blank = false;
    let mut previous = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, c)| c);
        match state {
            In::Single => {
                if c == '\'' {
                    state = In::Bare;
                }
            }
            In::Double => match c {
                '\\' => {
                    chars.next();
                }
                '"' => state = In::Bare,
                '`' => return Err(ValueProblem::Expansion),
                '$' if expands(next, false) => return Err(ValueProblem::Expansion),
                _ => {}
            },
            In::Bare => match c {
                '#' if after_blank => return Ok((text[..at].trim_end(), quoted)),
                ' ' | '\t' => {}
                '\\' => {
                    quoted = true;
                    chars.next();
                }
                '\'' => (state, quoted) = (In::Single, true),
                '"' => (state, quoted) = (In::Double, true),
                '`' => return Err(ValueProblem::Expansion),
                '$' if expands(next, true) => return Err(ValueProblem::Expansion),
                '~' if matches!(previous, None | Some(':')) => return Err(ValueProblem::Tilde),
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => return Err(ValueProblem::Operator),
                _ => {}
            },
        }
        after_blank = state == In::Bare && matches!(c, ' ' | '\t');
        previous = Some(c);
    }
    match state {
        In::Bare => Ok((text.trim_end(), quoted)),
        In::Single | In::Double => Err(ValueProblem::Unclosed),
    }
}

/// Whether sh expands a `$` followed by `next`: a name, a digit, a special
/// parameter, `${`, `$(`; outside double quotes also bash's `$'…'` and
/// `$"…"`. A `$` before anything else is a plain character.
fn expands(next: Option<char>, bare: bool) -> bool {
    match next {
        Some(c) if c.is_ascii_alphanumeric() || "_@*#?!$-{(".contains(c) => true,
        Some('\'' | '"') => bare,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<String, ValueProblem> {
        value(text, false).map(|v| v.expose().to_owned())
    }

    #[test]
    fn quoting_as_sh_reads_it() {
        let cases = [
            ("abc", "abc"),
            ("'a b'", "a b"),
            ("\"a b\"", "a b"),
            (r#""a\"b\\c\$d\x""#, r#"a"b\c$d\x"#),
            (r"'ab'\''cd'", "ab'cd"),
            (r"ab\'cd\ ef", "ab'cd ef"),
            ("'a'\"b\"c", "abc"),
            ("'$HOME `x` $(y)'", "$HOME `x` $(y)"),
            ("a#b", "a#b"),
            ("#ab", "#ab"),
            ("#'a b'", "#a b"),
            ("abc # note", "abc"),
            ("'a b' # it's a note", "a b"),
            ("a$", "a$"),
            ("a$%", "a$%"),
            ("\"a$\"", "a$"),
            ("a~b", "a~b"),
            ("'~'", "~"),
            ("", ""),
            (" # only a note", ""),
        ];
        for (text, want) in cases {
            assert_eq!(read(text).as_deref(), Ok(want), "{text}");
        }
        assert_eq!(value(" 'a b'", true).unwrap().expose(), "a b");
    }

    #[test]
    fn what_sh_would_expand_or_run_is_refused() {
        let cases = [
            ("$HOME", ValueProblem::Expansion),
            ("a${b}", ValueProblem::Expansion),
            ("\"a$b\"", ValueProblem::Expansion),
            ("$(id)", ValueProblem::Expansion),
            ("`id`", ValueProblem::Expansion),
            ("\"`id`\"", ValueProblem::Expansion),
            ("$'a'", ValueProblem::Expansion),
            ("a$1", ValueProblem::Expansion),
            ("~", ValueProblem::Tilde),
            ("~/k", ValueProblem::Tilde),
            ("a:~b", ValueProblem::Tilde),
            ("a;b", ValueProblem::Operator),
            ("a|b", ValueProblem::Operator),
            ("a b", ValueProblem::Blank),
            ("'a' b", ValueProblem::Blank),
            ("'ab", ValueProblem::Unclosed),
            ("\"ab", ValueProblem::Unclosed),
            ("ab\\", ValueProblem::Unclosed),
        ];
        for (text, want) in cases {
            assert_eq!(read(text), Err(want), "{text}");
        }
    }
}
