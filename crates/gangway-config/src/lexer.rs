//! Splits one HAProxy config line into words: whitespace separates, `#` starts a comment,
//! `\` escapes, `"..."` keeps spaces (with escapes and `${VAR}`), `'...'` is fully literal.

/// One word of a line: its value after unquoting and its text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    /// The word with quotes removed, escapes and `${VAR}` resolved.
    pub(crate) value: String,
    /// The word exactly as written.
    pub(crate) raw: &'a str,
    /// The word as written with quotes kept and `${VAR}` resolved (outside single quotes),
    /// the value escaped: conditions and ACLs go on to the ACL parser in this form.
    pub(crate) expanded: String,
}

/// Splits `line` into words; the error says what is malformed.
pub(crate) fn split_line<'a>(
    line: &'a str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Word<'a>>, String> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        while pos < bytes.len()
            && (bytes[pos] == b' ' || bytes[pos] == b'\t' || bytes[pos] == b'\r')
        {
            pos += 1;
        }
        if pos >= bytes.len() || bytes[pos] == b'#' {
            break;
        }
        let start = pos;
        let mut value = String::new();
        let mut expanded = String::new();
        let mut quote: Option<u8> = None;
        while pos < bytes.len() {
            let byte = bytes[pos];
            let at = pos;
            match (quote, byte) {
                (None, b' ' | b'\t' | b'\r') => break,
                (None, b'#') => break,
                (None, b'"' | b'\'') => {
                    quote = Some(byte);
                    pos += 1;
                }
                (Some(open), _) if byte == open => {
                    quote = None;
                    pos += 1;
                }
                (Some(b'\''), _) => {
                    let next = next_char_len(line, pos);
                    value.push_str(&line[pos..pos + next]);
                    pos += next;
                }
                (_, b'\\') => {
                    let (text, used) = unescape(line, pos)?;
                    value.push_str(&text);
                    pos += used;
                }
                (_, b'$') if bytes.get(pos + 1) == Some(&b'{') => {
                    let close = line[pos..]
                        .find('}')
                        .ok_or_else(|| "unterminated '${' in variable reference".to_owned())?;
                    // `${NAME-DEFAULT}`: DEFAULT when NAME is unset (not when it is empty).
                    let (name, default) = match line[pos + 2..pos + close].split_once('-') {
                        Some((name, default)) => (name, Some(default)),
                        None => (&line[pos + 2..pos + close], None),
                    };
                    if name.is_empty() {
                        return Err("empty variable name in '${}'".to_owned());
                    }
                    let resolved = env(name)
                        .or_else(|| default.map(str::to_owned))
                        .unwrap_or_default();
                    escape_into(&mut expanded, &resolved);
                    value.push_str(&resolved);
                    pos += close + 1;
                    continue;
                }
                _ => {
                    let next = next_char_len(line, pos);
                    value.push_str(&line[pos..pos + next]);
                    pos += next;
                }
            }
            expanded.push_str(&line[at..pos]);
        }
        if let Some(open) = quote {
            return Err(format!("unmatched quote ({})", open as char));
        }
        words.push(Word {
            value,
            raw: &line[start..pos],
            expanded,
        });
    }
    // As HAProxy: an empty last word (`""`, an unset `${VAR}`) is dropped like trailing spaces;
    // an empty word before others would end the arguments there, so the line is refused.
    while words.last().is_some_and(|w| w.value.is_empty()) {
        words.pop();
    }
    if let Some((index, word)) = words.iter().enumerate().find(|(_, w)| w.value.is_empty()) {
        let column = word.raw.as_ptr() as usize - line.as_ptr() as usize + 1;
        return Err(format!(
            "word {} ('{}', column {column}) is empty and would end the arguments there (HAProxy refuses the line): set the variable, give it a default ('${{NAME-DEFAULT}}') or remove the word",
            index + 1,
            word.raw
        ));
    }
    Ok(words)
}

/// Appends a variable's value so that both this lexer and the ACL parser read it back as the
/// same text, part of the current word (inside double quotes or not).
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' ' | '"' | '\'' | '\\' | '#' | '$' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

fn next_char_len(line: &str, pos: usize) -> usize {
    line[pos..].chars().next().map_or(1, char::len_utf8)
}

/// Resolves the escape at `pos` (a backslash); returns the text and the bytes used.
fn unescape(line: &str, pos: usize) -> Result<(String, usize), String> {
    let rest = &line[pos + 1..];
    let Some(next) = rest.chars().next() else {
        return Err("a backslash ends the line (line continuation is not supported)".to_owned());
    };
    match next {
        'r' => Ok(("\r".to_owned(), 2)),
        'n' => Ok(("\n".to_owned(), 2)),
        't' => Ok(("\t".to_owned(), 2)),
        'x' => {
            // As HAProxy: exactly two hex digits (`from_str_radix` alone takes `+1`).
            let digits = &rest.as_bytes()[1..];
            if digits.len() < 2 || !digits[..2].iter().all(u8::is_ascii_hexdigit) {
                let found: String = rest[1..].chars().take(2).collect();
                return Err(format!(
                    "'\\x' must be followed by two hex digits (found '\\x{found}')"
                ));
            }
            let byte = u8::from_str_radix(&rest[1..3], 16)
                .map_err(|_| "'\\x' must be followed by two hex digits")?;
            if !byte.is_ascii() {
                return Err("'\\x' escapes above 7f are not supported".to_owned());
            }
            Ok(((byte as char).to_string(), 4))
        }
        other => Ok((other.to_string(), 1 + other.len_utf8())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Result<Vec<String>, String> {
        let env = |name: &str| (name == "PORT").then(|| "8080".to_owned());
        split_line(line, &env).map(|words| words.into_iter().map(|w| w.value).collect())
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<&[&str], ()>)] = &[
            ("", Ok(&[])),
            ("   # only a comment", Ok(&[])),
            ("bind *:80", Ok(&["bind", "*:80"])),
            (
                "\tserver  s1 127.0.0.1:80\tcheck # trailing",
                Ok(&["server", "s1", "127.0.0.1:80", "check"]),
            ),
            (
                "acl a hdr(x) -i \"two words\"",
                Ok(&["acl", "a", "hdr(x)", "-i", "two words"]),
            ),
            ("acl a str 'it''s $x'", Ok(&["acl", "a", "str", "its $x"])),
            ("acl a str a\\ b", Ok(&["acl", "a", "str", "a b"])),
            ("acl a str \\#x", Ok(&["acl", "a", "str", "#x"])),
            ("bind :${PORT}", Ok(&["bind", ":8080"])),
            ("bind \":${PORT}\"", Ok(&["bind", ":8080"])),
            ("bind ':${PORT}'", Ok(&["bind", ":${PORT}"])),
            // An empty last word is dropped, an empty word before others refused (HAProxy).
            ("x \"${MISSING}\"", Ok(&["x"])),
            ("x ${MISSING}", Ok(&["x"])),
            ("x \"\" ''  # comment", Ok(&["x"])),
            ("x ${MISSING} y", Err(())),
            ("x \"\" y", Err(())),
            ("x ${MISSING}y", Ok(&["x", "y"])),
            ("x ${MISSING-a b} ${PORT-1}", Ok(&["x", "a b", "8080"])),
            ("x ${MISSING-}", Ok(&["x"])),
            ("x \\x41", Ok(&["x", "A"])),
            ("x a\\x2fb", Ok(&["x", "a/b"])),
            // As HAProxy: exactly two hex digits, no sign (`from_str_radix` takes one).
            ("x \\x+1", Err(())),
            ("x \\x-1", Err(())),
            ("x \\x4", Err(())),
            ("x \\x4g", Err(())),
            ("x \\x 41", Err(())),
            ("x \\xé1", Err(())),
            ("x \\x", Err(())),
            ("x \"open", Err(())),
            ("x ${OPEN", Err(())),
            ("x \\", Err(())),
        ];
        for (line, expected) in cases {
            let got = values(line);
            match expected {
                Ok(words) => assert_eq!(
                    got.as_deref().ok(),
                    Some(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>()[..]),
                    "{line:?}"
                ),
                Err(()) => assert!(got.is_err(), "{line:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn raw_keeps_quotes() {
        let words = split_line("use_backend ws if { hdr(x) -m str \"a b\" }", &|_| None).unwrap();
        let raws: Vec<&str> = words.iter().map(|w| w.raw).collect();
        assert_eq!(
            raws,
            [
                "use_backend",
                "ws",
                "if",
                "{",
                "hdr(x)",
                "-m",
                "str",
                "\"a b\"",
                "}"
            ]
        );
    }
}
