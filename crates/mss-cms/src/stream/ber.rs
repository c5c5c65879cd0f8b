//! An incremental BER reader over an `io::Read`, and the few BER writing helpers the
//! streaming writers need.
//!
//! The in-memory [`crate::ber`] module works on whole buffers; here the input may be
//! larger than memory, so elements are read header by header: small elements (OIDs,
//! algorithm identifiers, recipient infos, certificates, signer infos) are collected
//! whole (up to [`MAX_ELEMENT`] bytes) and handed to the `der` decoders after
//! [`crate::ber::normalize`]; the content OCTET STRING — primitive, or constructed from
//! segments nested to any depth with definite or indefinite lengths — is handed out in
//! chunks by [`OctetStream`]. No crate reads BER incrementally from a `Read` (the `der`
//! crate decodes from slices), hence this module.

use std::io::{self, Read, Write};

use crate::CmsError;

/// Largest element read whole (everything but the streamed content).
pub const MAX_ELEMENT: usize = 16 * 1024 * 1024;

/// Constructed elements nest at most this deep.
const MAX_DEPTH: usize = 32;

fn malformed(what: impl Into<String>) -> CmsError {
    CmsError::Malformed(what.into())
}

/// An element header as read.
#[derive(Debug, Clone)]
pub struct Hdr {
    /// Class (0 universal, 1 application, 2 context, 3 private).
    pub class: u8,
    /// Constructed bit.
    pub constructed: bool,
    /// Tag number.
    pub number: u32,
    /// Definite length, or `None` for indefinite.
    pub len: Option<u64>,
    /// The header bytes as received.
    pub raw: Vec<u8>,
}

impl Hdr {
    /// The end-of-contents marker `00 00`.
    pub fn is_eoc(&self) -> bool {
        self.class == 0 && !self.constructed && self.number == 0 && self.len == Some(0)
    }

    /// A universal tag with this number.
    pub fn is_universal(&self, number: u32) -> bool {
        self.class == 0 && self.number == number
    }

    /// A context-specific tag with this number.
    pub fn is_context(&self, number: u32) -> bool {
        self.class == 2 && self.number == number
    }
}

/// Where a constructed element ends.
#[derive(Debug, Clone, Copy)]
pub enum End {
    /// Definite length: at this input position.
    At(u64),
    /// Indefinite length: at an end-of-contents marker.
    Eoc,
}

/// Reads BER from an `io::Read`, with its own buffer (so that it can peek) and the
/// count of bytes consumed.
pub struct BerReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pos: u64,
}

impl<R: Read> BerReader<R> {
    /// Read from `inner` (buffered here: no need to wrap it in a `BufReader`).
    pub fn new(inner: R) -> Self {
        BerReader {
            inner,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            pos: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Make at least `n` bytes available (fewer only at end of input).
    fn fill(&mut self, n: usize) -> Result<usize, CmsError> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < n {
            let got = self
                .inner
                .read(&mut self.buf[self.end..])
                .map_err(|e| CmsError::Malformed(format!("read error: {e}")))?;
            if got == 0 {
                break;
            }
            self.end += got;
        }
        Ok(self.end)
    }

    fn byte(&mut self) -> Result<u8, CmsError> {
        if self.fill(1)? < 1 {
            return Err(malformed("truncated BER input"));
        }
        let b = self.buf[self.start];
        self.start += 1;
        self.pos += 1;
        Ok(b)
    }

    /// Is the input at an end-of-contents marker (without consuming it)?
    pub fn at_eoc(&mut self) -> Result<bool, CmsError> {
        Ok(self.fill(2)? >= 2 && self.buf[self.start] == 0 && self.buf[self.start + 1] == 0)
    }

    /// Is the input exhausted?
    pub fn at_eof(&mut self) -> Result<bool, CmsError> {
        Ok(self.fill(1)? == 0)
    }

    /// Read (and discard) whatever input is left, up to its end.
    pub fn drain(&mut self) -> Result<u64, CmsError> {
        let mut sink = [0u8; 8192];
        let mut total = 0u64;
        loop {
            let n = self.read_raw(&mut sink)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }

    /// Read up to `out.len()` bytes of raw content.
    pub fn read_raw(&mut self, out: &mut [u8]) -> Result<usize, CmsError> {
        if self.end == self.start {
            // Large reads bypass the buffer.
            if out.len() >= self.buf.len() {
                let n = self
                    .inner
                    .read(out)
                    .map_err(|e| CmsError::Malformed(format!("read error: {e}")))?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.fill(1)?;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        self.pos += n as u64;
        Ok(n)
    }

    fn read_exact_raw(&mut self, out: &mut [u8]) -> Result<(), CmsError> {
        let mut done = 0;
        while done < out.len() {
            let n = self.read_raw(&mut out[done..])?;
            if n == 0 {
                return Err(malformed("truncated BER input"));
            }
            done += n;
        }
        Ok(())
    }

    /// Read an element header.
    pub fn header(&mut self) -> Result<Hdr, CmsError> {
        let mut raw = Vec::with_capacity(6);
        let first = self.byte()?;
        raw.push(first);
        let class = first >> 6;
        let constructed = first & 0x20 != 0;
        let mut number = u32::from(first & 0x1f);
        if number == 0x1f {
            number = 0;
            loop {
                let b = self.byte()?;
                raw.push(b);
                if number > (u32::MAX >> 7) {
                    return Err(malformed("tag number too large"));
                }
                number = (number << 7) | u32::from(b & 0x7f);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let l = self.byte()?;
        raw.push(l);
        let len = if l < 0x80 {
            Some(u64::from(l))
        } else if l == 0x80 {
            if !constructed {
                return Err(malformed("indefinite length on a primitive element"));
            }
            None
        } else {
            let n = usize::from(l & 0x7f);
            if n > 8 {
                return Err(malformed("length too large"));
            }
            let mut v: u64 = 0;
            for _ in 0..n {
                let b = self.byte()?;
                raw.push(b);
                v = (v << 8) | u64::from(b);
            }
            Some(v)
        };
        Ok(Hdr {
            class,
            constructed,
            number,
            len,
            raw,
        })
    }

    /// Read the rest of the element whose header is `h`, returning the whole TLV
    /// (header included) as received; at most [`MAX_ELEMENT`] bytes.
    pub fn element(&mut self, h: &Hdr) -> Result<Vec<u8>, CmsError> {
        let mut out = h.raw.clone();
        self.element_into(h, &mut out, 0)?;
        Ok(out)
    }

    fn element_into(&mut self, h: &Hdr, out: &mut Vec<u8>, depth: usize) -> Result<(), CmsError> {
        if depth > MAX_DEPTH {
            return Err(malformed("BER nested too deep"));
        }
        match h.len {
            Some(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| out.len() + n <= MAX_ELEMENT)
                    .ok_or_else(|| malformed("element too large to read whole"))?;
                let at = out.len();
                out.resize(at + n, 0);
                self.read_exact_raw(&mut out[at..])
            }
            None => loop {
                let c = self.header()?;
                out.extend_from_slice(&c.raw);
                if c.is_eoc() {
                    return Ok(());
                }
                self.element_into(&c, out, depth + 1)?;
                if out.len() > MAX_ELEMENT {
                    return Err(malformed("element too large to read whole"));
                }
            },
        }
    }

    /// Read a whole element and check its tag.
    pub fn expect_element(
        &mut self,
        what: &str,
        ok: impl Fn(&Hdr) -> bool,
    ) -> Result<Vec<u8>, CmsError> {
        let h = self.header()?;
        if !ok(&h) {
            return Err(malformed(format!("{what} expected")));
        }
        self.element(&h)
    }

    /// Read the header of a constructed element and return where it ends.
    pub fn open(&mut self, what: &str, ok: impl Fn(&Hdr) -> bool) -> Result<End, CmsError> {
        let h = self.header()?;
        if !h.constructed || !ok(&h) {
            return Err(malformed(format!("{what} expected")));
        }
        Ok(self.end_of(&h))
    }

    /// Where the constructed element whose header was just read ends.
    pub fn end_of(&self, h: &Hdr) -> End {
        match h.len {
            Some(n) => End::At(self.pos + n),
            None => End::Eoc,
        }
    }

    /// Is the current constructed element (ending at `end`) finished?
    pub fn at_end(&mut self, end: End) -> Result<bool, CmsError> {
        match end {
            End::At(p) if self.pos == p => Ok(true),
            End::At(p) if self.pos > p => Err(malformed("element overruns its length")),
            End::At(_) => Ok(false),
            End::Eoc => self.at_eoc(),
        }
    }

    /// Close a constructed element ending at `end` (consuming its end-of-contents).
    pub fn close(&mut self, end: End, what: &str) -> Result<(), CmsError> {
        match end {
            End::At(p) if self.pos == p => Ok(()),
            End::At(_) => Err(malformed(format!("{what}: unexpected trailing data"))),
            End::Eoc => {
                let h = self.header()?;
                if h.is_eoc() {
                    Ok(())
                } else {
                    Err(malformed(format!("{what}: end-of-contents expected")))
                }
            }
        }
    }
}

/// Hands out the bytes of an OCTET STRING (primitive, or constructed from segments of
/// any shape) in chunks.
#[derive(Debug, Default)]
pub struct OctetStream {
    stack: Vec<End>,
    remaining: u64,
    /// Which tag numbers the outer element may have besides 4 (IMPLICIT tagging).
    done: bool,
}

impl OctetStream {
    /// Start after the header `h` of the string (its tag already checked by the caller).
    pub fn start<R: Read>(r: &BerReader<R>, h: &Hdr) -> Result<Self, CmsError> {
        let mut s = OctetStream::default();
        if h.constructed {
            s.stack.push(r.end_of(h));
        } else {
            s.remaining = h.len.ok_or_else(|| malformed("indefinite primitive"))?;
        }
        Ok(s)
    }

    /// The next chunk of content into `out`; 0 at the end of the string.
    pub fn next<R: Read>(
        &mut self,
        r: &mut BerReader<R>,
        out: &mut [u8],
    ) -> Result<usize, CmsError> {
        loop {
            if self.remaining > 0 {
                let want = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(out.len());
                let n = r.read_raw(&mut out[..want])?;
                if n == 0 {
                    return Err(malformed("truncated OCTET STRING"));
                }
                self.remaining -= n as u64;
                return Ok(n);
            }
            let Some(&top) = self.stack.last() else {
                self.done = true;
                return Ok(0);
            };
            if let End::At(p) = top {
                if r.position() == p {
                    self.stack.pop();
                    continue;
                }
                if r.position() > p {
                    return Err(malformed("OCTET STRING segment overruns its parent"));
                }
            }
            let h = r.header()?;
            if h.is_eoc() {
                match top {
                    End::Eoc => {
                        self.stack.pop();
                        continue;
                    }
                    End::At(_) => return Err(malformed("unexpected end-of-contents")),
                }
            }
            if !h.is_universal(4) {
                return Err(malformed("OCTET STRING segment expected"));
            }
            if h.constructed {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(malformed("OCTET STRING nested too deep"));
                }
                self.stack.push(r.end_of(&h));
            } else {
                self.remaining = h.len.ok_or_else(|| malformed("indefinite primitive"))?;
            }
        }
    }

    /// Has the whole string been read?
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Write a definite-length header.
pub fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Write one primitive OCTET STRING segment (`04 len data`) to `w`.
pub fn write_segment<W: Write>(w: &mut W, data: &[u8]) -> io::Result<()> {
    let mut h = Vec::with_capacity(10);
    write_header(&mut h, 0x04, data.len());
    w.write_all(&h)?;
    w.write_all(data)
}

/// End-of-contents marker.
pub const EOC: [u8; 2] = [0, 0];
