//! Reading inputs: plain or gzip (told apart by the magic bytes), cut into
//! chunks of whole lines that workers can parse independently, each knowing
//! the number of its first line.

use std::io::Read;
use std::path::PathBuf;

use crate::error::IngestError;

/// Where events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// The name used in messages, the quarantine and the report.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input, decompressing it when it starts with gzip's magic
    /// bytes (concatenated gzip members, as Firehose writes, are read whole).
    pub(crate) fn open(&self) -> Result<Box<dyn Read + Send>, IngestError> {
        let mut raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(std::io::stdin()),
            Input::File(p) => Box::new(std::fs::File::open(p).map_err(|e| IngestError::io(p, e))?),
        };
        let mut head = [0u8; 2];
        let mut n = 0;
        while n < head.len() {
            match raw.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(1, format!("cannot read: {e}"))),
            }
        }
        let whole = std::io::Cursor::new(head[..n].to_vec()).chain(raw);
        Ok(if head[..n] == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(whole))
        } else {
            Box::new(whole)
        })
    }

    /// An input error at `line`.
    pub(crate) fn error(&self, line: u64, message: String) -> IngestError {
        IngestError::Input {
            source_name: self.name(),
            line,
            message,
        }
    }
}

/// A run of whole lines of one input.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// Index of the input.
    pub(crate) source: usize,
    /// 1-based number of the first line.
    pub(crate) first_line: u64,
    /// The lines, each ended by `\n` except perhaps the input's last.
    pub(crate) data: Vec<u8>,
}

/// What the reader hands on, in input order.
#[derive(Debug)]
pub(crate) enum Piece {
    /// Lines to parse.
    Lines(Chunk),
    /// A line longer than the limit: its number and first bytes.
    TooLong {
        source: usize,
        line: u64,
        prefix: Vec<u8>,
    },
    /// An input was read to its end: its line and byte counts.
    End {
        source: usize,
        lines: u64,
        bytes: u64,
    },
}

/// Bytes of an over-long line kept for the quarantine.
const TOO_LONG_PREFIX: usize = 1_024;

/// Cuts one input into [`Piece`]s of about `chunk_bytes` whole lines.
pub(crate) struct ChunkReader<'a> {
    input: &'a Input,
    source: usize,
    reader: Box<dyn Read + Send>,
    chunk_bytes: usize,
    max_line: usize,
    /// The start of a line not yet ended.
    carry: Vec<u8>,
    next_line: u64,
    bytes: u64,
    done: bool,
}

impl<'a> ChunkReader<'a> {
    /// A reader of `input` (index `source`); lines longer than `max_line`
    /// bytes are reported as [`Piece::TooLong`] and skipped.
    pub(crate) fn new(
        input: &'a Input,
        source: usize,
        chunk_bytes: usize,
        max_line: usize,
    ) -> Result<Self, IngestError> {
        Ok(Self {
            input,
            source,
            reader: input.open()?,
            chunk_bytes: chunk_bytes.max(1),
            max_line: max_line.max(1),
            carry: Vec::new(),
            next_line: 1,
            bytes: 0,
            done: false,
        })
    }

    /// Reads into `buf` until it holds `want` bytes or the input ends;
    /// returns false at the end of the input.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> Result<bool, IngestError> {
        while buf.len() < want {
            let start = buf.len();
            buf.resize(want, 0);
            let got = loop {
                match self.reader.read(&mut buf[start..]) {
                    Ok(k) => break k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        buf.truncate(start);
                        return Err(self
                            .input
                            .error(self.next_line, format!("cannot read (near this line): {e}")));
                    }
                }
            };
            buf.truncate(start + got);
            self.bytes += got as u64;
            if got == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Skips the rest of an over-long line; what follows its end is kept.
    fn skip_line(&mut self) -> Result<(), IngestError> {
        let mut buf = Vec::with_capacity(1 << 16);
        loop {
            buf.clear();
            // At the end of the input the next call finds nothing and ends it.
            if !self.fill(&mut buf, 1 << 16)? && buf.is_empty() {
                return Ok(());
            }
            if let Some(p) = memchr::memchr(b'\n', &buf) {
                self.carry = buf[p + 1..].to_vec();
                return Ok(());
            }
        }
    }

    /// The next piece of this input, `None` after its [`Piece::End`].
    pub(crate) fn next_piece(&mut self) -> Result<Option<Piece>, IngestError> {
        if self.done {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.reserve(self.chunk_bytes);
        let mut more = self.fill(&mut buf, self.chunk_bytes)?;
        // Grow until the buffer holds a line end, the input ends, or the
        // line is over the limit.
        while more && memchr::memrchr(b'\n', &buf).is_none() && buf.len() <= self.max_line {
            let want = (buf.len() * 2).min(self.max_line + 1);
            more = self.fill(&mut buf, want)?;
        }
        let cut = match memchr::memrchr(b'\n', &buf) {
            Some(p) => p + 1,
            None if buf.len() > self.max_line => {
                let line = self.next_line;
                self.next_line += 1;
                buf.truncate(TOO_LONG_PREFIX);
                self.skip_line()?;
                return Ok(Some(Piece::TooLong {
                    source: self.source,
                    line,
                    prefix: buf,
                }));
            }
            None => buf.len(),
        };
        if cut == 0 {
            self.done = true;
            return Ok(Some(Piece::End {
                source: self.source,
                lines: self.next_line - 1,
                bytes: self.bytes,
            }));
        }
        self.carry = buf[cut..].to_vec();
        buf.truncate(cut);
        let first_line = self.next_line;
        let newlines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        self.next_line += newlines + u64::from(buf.last() != Some(&b'\n'));
        Ok(Some(Piece::Lines(Chunk {
            source: self.source,
            first_line,
            data: buf,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pieces(data: &[u8], gzip: bool, chunk: usize, max_line: usize) -> Vec<Piece> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        let bytes = if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.to_vec()
        };
        std::fs::write(&path, bytes).unwrap();
        let input = Input::File(path);
        let mut r = ChunkReader::new(&input, 3, chunk, max_line).unwrap();
        std::iter::from_fn(|| r.next_piece().unwrap()).collect()
    }

    #[test]
    fn cuts_whole_lines_and_numbers_them() {
        for gzip in [false, true] {
            let got = pieces(b"a\nbb\nccc\ndddd", gzip, 4, 100);
            let lines: Vec<(u64, String)> = got
                .iter()
                .filter_map(|p| match p {
                    Piece::Lines(c) => {
                        Some((c.first_line, String::from_utf8_lossy(&c.data).into()))
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(lines.concat_text(), "a\nbb\nccc\ndddd");
            assert_eq!(lines[0].0, 1);
            assert!(lines
                .iter()
                .all(|(_, t)| t.ends_with('\n') || t.ends_with("dddd")));
            assert!(matches!(
                got.last(),
                Some(Piece::End {
                    source: 3,
                    lines: 4,
                    ..
                })
            ));
        }
    }

    #[test]
    fn reports_and_skips_over_long_lines() {
        let got = pieces(b"ok\nxxxxxxxxxxxxxxxxxxxx\nfine\n", false, 4, 8);
        let mut seen = Vec::new();
        for p in &got {
            match p {
                Piece::Lines(c) => seen.push(format!(
                    "{}:{}",
                    c.first_line,
                    String::from_utf8_lossy(&c.data).trim_end()
                )),
                Piece::TooLong { line, prefix, .. } => {
                    seen.push(format!("long {line} {}", prefix.len()))
                }
                Piece::End { lines, .. } => seen.push(format!("end {lines}")),
            }
        }
        assert_eq!(seen, ["1:ok", "long 2 9", "3:fine", "end 3"]);
    }

    #[test]
    fn an_empty_input_ends_at_once() {
        let got = pieces(b"", false, 4, 8);
        assert!(matches!(
            got[..],
            [Piece::End {
                lines: 0,
                bytes: 0,
                ..
            }]
        ));
    }

    trait Concat {
        fn concat_text(&self) -> String;
    }
    impl Concat for Vec<(u64, String)> {
        fn concat_text(&self) -> String {
            self.iter().map(|(_, t)| t.as_str()).collect()
        }
    }
}
