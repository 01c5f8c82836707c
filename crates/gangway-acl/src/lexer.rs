//! Splits configuration text into words the way HAProxy does: whitespace separated,
//! `"double"` quotes with backslash escapes, `'single'` quotes taken literally,
//! backslash escapes outside quotes, and `#` comments.

use crate::error::{Error, Position};

/// One word of configuration text, unquoted and unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word after removing quotes and escapes.
    pub(crate) text: String,
    /// Where the word starts in the text.
    pub(crate) position: Position,
    /// Whether any part was quoted or escaped: such a word is never an operator.
    pub(crate) literal: bool,
}

impl Word {
    /// Whether this word is the operator or keyword `op` (quoted words never are).
    pub(crate) fn is(&self, op: &str) -> bool {
        !self.literal && self.text == op
    }
}

/// Splits `text` into words.
pub(crate) fn words(text: &str) -> Result<Vec<Word>, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'#' {
            // A comment runs to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let mut word = Vec::new();
        let mut literal = false;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            match bytes[i] {
                b'"' => {
                    literal = true;
                    let open = i;
                    i += 1;
                    loop {
                        match bytes.get(i) {
                            None => {
                                return Err(Error::syntax(
                                    Position::of(text, open),
                                    "\"",
                                    "a closing `\"` before the end of the text",
                                ));
                            }
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') if i + 1 < bytes.len() => {
                                word.push(unescape(bytes[i + 1]));
                                i += 2;
                            }
                            Some(&c) => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                b'\'' => {
                    literal = true;
                    let open = i;
                    i += 1;
                    loop {
                        match bytes.get(i) {
                            None => {
                                return Err(Error::syntax(
                                    Position::of(text, open),
                                    "'",
                                    "a closing `'` before the end of the text",
                                ));
                            }
                            Some(b'\'') => {
                                i += 1;
                                break;
                            }
                            Some(&c) => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                b'\\' if i + 1 < bytes.len() => {
                    literal = true;
                    word.push(unescape(bytes[i + 1]));
                    i += 2;
                }
                c => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        // Only ASCII bytes were removed or replaced, so the word stays valid UTF-8.
        let text_word = String::from_utf8(word)
            .map_err(|_| Error::syntax(Position::of(text, start), "\\", "valid UTF-8"))?;
        out.push(Word {
            text: text_word,
            position: Position::of(text, start),
            literal,
        });
    }
    Ok(out)
}

fn unescape(c: u8) -> u8 {
    match c {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        other => other,
    }
}

/// Position just after the last character of `text` (for "unexpected end of input").
pub(crate) fn end_position(text: &str) -> Position {
    Position::of(text, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        words(s).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_and_unquotes() {
        let cases: &[(&str, &[&str])] = &[
            ("path_beg /ws", &["path_beg", "/ws"]),
            ("  a\tb\nc  ", &["a", "b", "c"]),
            ("hdr(x) \"a b\" 'c d'", &["hdr(x)", "a b", "c d"]),
            ("a\\ b", &["a b"]),
            ("\"a\\\"b\"", &["a\"b"]),
            ("'a\\b'", &["a\\b"]),
            ("x # comment\ny", &["x", "y"]),
            ("pre\"mid\"post", &["premidpost"]),
            ("", &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(texts(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn positions_are_line_and_column() {
        let w = words("a\n  bc d").unwrap();
        assert_eq!(w[1].position, Position { line: 2, column: 3 });
        assert_eq!(w[2].position, Position { line: 2, column: 6 });
    }

    #[test]
    fn quoted_words_are_literal() {
        let w = words("|| \"||\"").unwrap();
        assert!(w[0].is("||"));
        assert!(!w[1].is("||"));
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let err = words("path \"abc").unwrap_err();
        assert_eq!(err.position(), Some(Position { line: 1, column: 6 }));
    }
}
