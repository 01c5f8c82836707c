//! A sans-IO tracker for chunked bodies (RFC 9112 7.1): finds where the message ends
//! so the caller can forward the bytes unchanged.

use httparse::Status;

use crate::error::{Error, ErrorKind, Side};
use crate::syntax::{is_field_vchar, is_tchar};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits of the chunk size; `digits` read so far.
    Size {
        digits: u32,
    },
    /// After the size: BWS, then `;` or CR.
    AfterSize,
    /// After `;`: BWS then the extension name.
    ExtNameStart,
    ExtName,
    /// After the name: BWS, then `=`, `;` or CR.
    AfterExtName,
    /// After `=`: BWS then a token or a quoted-string.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// After a complete extension value: BWS, then `;` or CR.
    AfterExtValue,
    /// CR of the size line seen, LF expected.
    SizeLf,
    /// Inside chunk data; `remaining` bytes to go.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line or the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

/// Tracks a chunked body fed in arbitrary pieces and reports where the message ends.
///
/// [`feed`](Self::feed) returns `Partial` when all of the input belongs to the body and
/// more is needed, or `Complete(n)` when the body ends after the first `n` bytes of the
/// input (the rest belongs to the next message). The bytes are never changed, so the
/// caller forwards exactly what it fed. Rejects bad chunk sizes, malformed extensions,
/// bare LF or bare CR line endings and malformed trailers.
///
/// ```
/// use gangway_h1::{ChunkedTracker, Side, Status};
/// let mut tracker = ChunkedTracker::new(Side::Request);
/// assert_eq!(tracker.feed(b"5\r\nhel")?, Status::Partial);
/// assert_eq!(tracker.feed(b"lo\r\n0\r\n\r\nGET /next")?, Status::Complete(9));
/// assert!(tracker.is_done());
/// # Ok::<(), gangway_h1::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ChunkedTracker {
    state: State,
    side: Side,
    /// Chunk size being read, then data bytes left in the current chunk.
    remaining: u64,
    /// Bytes in the current size line (size and extensions).
    line_len: usize,
    /// Bytes in the trailer section so far.
    trailer_len: usize,
    max_line_len: usize,
    max_trailer_len: usize,
    /// Bytes fed so far, for error offsets.
    consumed: u64,
    data_len: u64,
}

impl ChunkedTracker {
    /// A tracker for a body on `side` (which decides the status of its errors), with
    /// limits of 4 KiB per chunk-size line and 16 KiB of trailers.
    pub fn new(side: Side) -> Self {
        Self {
            state: State::Size { digits: 0 },
            side,
            remaining: 0,
            line_len: 0,
            trailer_len: 0,
            max_line_len: 4096,
            max_trailer_len: 16 * 1024,
            consumed: 0,
            data_len: 0,
        }
    }

    /// Longest chunk-size line (size plus extensions) accepted, in bytes.
    pub fn max_line_len(&mut self, bytes: usize) -> &mut Self {
        self.max_line_len = bytes;
        self
    }

    /// Largest trailer section accepted, in bytes.
    pub fn max_trailer_len(&mut self, bytes: usize) -> &mut Self {
        self.max_trailer_len = bytes;
        self
    }

    /// Whether the last chunk and trailer section have been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Total payload bytes (chunk data, without framing) seen so far.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Bytes of the current chunk's data still expected (0 outside chunk data).
    pub fn remaining_in_chunk(&self) -> u64 {
        if self.state == State::Data {
            self.remaining
        } else {
            0
        }
    }

    /// Feeds the next bytes of the body. See the type docs for the result. After the end,
    /// every feed returns `Complete(0)`. After an error the body cannot be delimited: drop
    /// the tracker and close the connection.
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<usize>, Error> {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                let avail = (input.len() - i) as u64;
                let take = avail.min(self.remaining);
                // take <= avail, which came from a usize.
                i += take as usize;
                self.remaining -= take;
                self.data_len += take;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            if self.state == State::Done {
                break;
            }
            self.step(input[i], i)?;
            i += 1;
            if self.state == State::Done {
                self.consumed += i as u64;
                return Ok(Status::Complete(i));
            }
        }
        self.consumed += i as u64;
        if self.state == State::Done {
            return Ok(Status::Complete(0));
        }
        Ok(Status::Partial)
    }

    /// Advances the state machine by one framing byte (never chunk data).
    fn step(&mut self, b: u8, at: usize) -> Result<(), Error> {
        use State::*;
        let (consumed, side) = (self.consumed, self.side);
        let fail = |kind| Err(error_at(kind, side, consumed, at));
        if matches!(
            self.state,
            Size { .. }
                | AfterSize
                | ExtNameStart
                | ExtName
                | AfterExtName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
                | AfterExtValue
        ) {
            self.line_len += 1;
            if self.line_len > self.max_line_len {
                return fail(ErrorKind::ChunkLineTooLong);
            }
        }
        if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValue | TrailerLf | FinalLf
        ) {
            self.trailer_len += 1;
            if self.trailer_len > self.max_trailer_len {
                return fail(ErrorKind::ChunkLineTooLong);
            }
        }
        self.state = match (self.state, b) {
            (Size { digits }, _) if b.is_ascii_hexdigit() => {
                if self.remaining > u64::MAX >> 4 {
                    return fail(ErrorKind::ChunkSizeOverflow);
                }
                let v = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => b - b'A' + 10,
                };
                self.remaining = (self.remaining << 4) | u64::from(v);
                Size { digits: digits + 1 }
            }
            (Size { digits: 0 }, _) => return fail(ErrorKind::InvalidChunkSize),
            (Size { .. } | AfterSize | ExtName | AfterExtName | AfterExtValue, b'\r') => SizeLf,
            (Size { .. } | AfterSize, b' ' | b'\t') => AfterSize,
            (Size { .. } | AfterSize | ExtName | AfterExtName | AfterExtValue, b';') => {
                ExtNameStart
            }
            (Size { .. } | AfterSize, b'\n') => return fail(ErrorKind::InvalidChunkLineEnding),
            (Size { .. } | AfterSize, _) => return fail(ErrorKind::InvalidChunkSize),
            (ExtNameStart, b' ' | b'\t') => ExtNameStart,
            (ExtNameStart | ExtName, _) if is_tchar(b) => ExtName,
            (ExtName | AfterExtName, b' ' | b'\t') => AfterExtName,
            (ExtName | AfterExtName, b'=') => ExtValueStart,
            (ExtValueStart, b' ' | b'\t') => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart | ExtToken, _) if is_tchar(b) => ExtToken,
            (ExtToken, b'\r') => SizeLf,
            (ExtToken, b';') => ExtNameStart,
            (ExtToken | AfterExtValue, b' ' | b'\t') => AfterExtValue,
            (ExtQuoted, b'"') => AfterExtValue,
            (ExtQuoted, b'\\') => ExtQuotedEscape,
            (ExtQuoted | ExtQuotedEscape, _) if is_field_vchar(b) => ExtQuoted,
            (
                ExtNameStart | ExtName | AfterExtName | ExtValueStart | ExtToken | ExtQuoted
                | ExtQuotedEscape | AfterExtValue,
                b'\n',
            ) => return fail(ErrorKind::InvalidChunkLineEnding),
            (
                ExtNameStart | ExtName | AfterExtName | ExtValueStart | ExtToken | ExtQuoted
                | ExtQuotedEscape | AfterExtValue,
                _,
            ) => return fail(ErrorKind::InvalidChunkExtension),
            (SizeLf, b'\n') => {
                self.line_len = 0;
                if self.remaining == 0 {
                    TrailerStart
                } else {
                    Data
                }
            }
            (DataLf, b'\n') => Size { digits: 0 },
            (TrailerLf, b'\n') => TrailerStart,
            (FinalLf, b'\n') => Done,
            (SizeLf | DataLf | TrailerLf | FinalLf, _) => {
                return fail(ErrorKind::InvalidChunkLineEnding);
            }
            (DataCr, b'\r') => DataLf,
            (DataCr, _) => return fail(ErrorKind::InvalidChunkLineEnding),
            (TrailerStart, b'\r') => FinalLf,
            (TrailerStart, b'\n') => return fail(ErrorKind::InvalidChunkLineEnding),
            (TrailerStart | TrailerName, _) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerStart | TrailerName, _) => return fail(ErrorKind::InvalidTrailer),
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, b'\n') => return fail(ErrorKind::InvalidChunkLineEnding),
            (TrailerValue, _) if is_field_vchar(b) => TrailerValue,
            (TrailerValue, _) => return fail(ErrorKind::InvalidTrailer),
            (Data | Done, _) => self.state,
        };
        Ok(())
    }
}

fn error_at(kind: ErrorKind, side: Side, consumed: u64, at: usize) -> Error {
    let offset = usize::try_from(consumed)
        .unwrap_or(usize::MAX)
        .saturating_add(at);
    Error::at(kind, side, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<Status<usize>, ErrorKind>;

    fn run(body: &[u8]) -> Outcome {
        ChunkedTracker::new(Side::Request)
            .feed(body)
            .map_err(|e| e.kind())
    }

    #[test]
    fn ends_and_errors() {
        use ErrorKind::*;
        let cases: &[(&[u8], Outcome)] = &[
            (b"0\r\n\r\n", Ok(Status::Complete(5))),
            (b"0\r\n\r\nXYZ", Ok(Status::Complete(5))),
            (b"A\r\n0123456789\r\n0\r\n\r\n", Ok(Status::Complete(20))),
            (
                b"3;a=b;c=\"q\\\"d\"\r\nabc\r\n0\r\n\r\n",
                Ok(Status::Complete(26)),
            ),
            (b"1;a\r\nx\r\n0;b;c\r\n\r\n", Ok(Status::Complete(17))),
            (b"3 ;a = b\r\nabc\r\n0\r\n\r\n", Ok(Status::Complete(20))),
            (b"0\r\nX-Trailer: 1\r\n\r\n", Ok(Status::Complete(19))),
            (
                b"0000000000000000000003\r\nabc\r\n0\r\n\r\n",
                Ok(Status::Complete(34)),
            ),
            (b"3\r\nab", Ok(Status::Partial)),
            (b"", Ok(Status::Partial)),
            (b"x\r\n", Err(InvalidChunkSize)),
            (b"\r\n", Err(InvalidChunkSize)),
            (b" 3\r\n", Err(InvalidChunkSize)),
            (b"0x3\r\n", Err(InvalidChunkSize)),
            (b"-1\r\n", Err(InvalidChunkSize)),
            (b"1 2\r\n", Err(InvalidChunkSize)),
            (b"3 \r\nabc", Ok(Status::Partial)),
            (b"10000000000000000\r\n", Err(ChunkSizeOverflow)),
            (b"3\nabc", Err(InvalidChunkLineEnding)),
            (b"3\r\nabc\n0\r\n\r\n", Err(InvalidChunkLineEnding)),
            (b"3\r\nabcd\r\n", Err(InvalidChunkLineEnding)),
            (b"3\rabc", Err(InvalidChunkLineEnding)),
            (b"3;\r\n", Err(InvalidChunkExtension)),
            (b"3;a=\r\n", Err(InvalidChunkExtension)),
            (b"3;a=\"x\r\n", Err(InvalidChunkExtension)),
            (b"3;a b\r\n", Err(InvalidChunkExtension)),
            (b"3;a=\x01\r\n", Err(InvalidChunkExtension)),
            (b"3;a\n", Err(InvalidChunkLineEnding)),
            (b"0\r\nX: 1\n\r\n", Err(InvalidChunkLineEnding)),
            (b"0\r\n\n", Err(InvalidChunkLineEnding)),
            (b"0\r\n folded\r\n\r\n", Err(InvalidTrailer)),
            (b"0\r\nX : 1\r\n\r\n", Err(InvalidTrailer)),
            (b"0\r\nX: \x00\r\n\r\n", Err(InvalidTrailer)),
            (b"0\r\n\rX", Err(InvalidChunkLineEnding)),
        ];
        for (body, want) in cases {
            assert_eq!(&run(body), want, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn whitespace_after_size_is_tolerated() {
        // BWS is only defined before ';', but "3 \r\n" is unambiguous and seen in the wild;
        // whitespace followed by more digits ("1 2") is still rejected.
        let mut t = ChunkedTracker::new(Side::Request);
        assert_eq!(t.feed(b"3 \r\nabc\r\n0\r\n\r\n"), Ok(Status::Complete(14)));
    }

    #[test]
    fn line_limit() {
        let mut t = ChunkedTracker::new(Side::Response);
        t.max_line_len(8);
        let e = t.feed(b"1;aaaaaaaaaaaa\r\n").unwrap_err();
        assert_eq!((e.kind(), e.status()), (ErrorKind::ChunkLineTooLong, 502));
    }

    #[test]
    fn done_is_sticky() {
        let mut t = ChunkedTracker::new(Side::Request);
        assert_eq!(t.feed(b"0\r\n\r\n"), Ok(Status::Complete(5)));
        assert_eq!(t.feed(b"more"), Ok(Status::Complete(0)));
        assert_eq!(t.data_len(), 0);
    }
}
