//! The streaming path of `mss sign`, `mss encrypt` and `mss open` (`mss verify`). They
//! take it for input files of [`THRESHOLD`] bytes or more, or with `--stream`, with
//! every send option (header protection, receipt requests). A streamed open gives the
//! same report, clear message and exit code as the in-memory one (parts analysed,
//! protected headers restored; a part beyond the streaming bounds is warned
//! `parts-not-analysed`, which denies exit 0). The message goes through `mss::stream`
//! in bounded memory; a progress bar is drawn on standard error only when it is a
//! terminal.
//!
//! Outputs keep the CLI's promise: an `--out` file is written beside its destination
//! and renamed into place only when the command succeeded. `mss open` to standard
//! output writes the clear message to a temporary file first and copies it out only
//! after every layer was checked (streaming releases content before the end of the
//! message is verified).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::{Failure, Io, exit};

/// Input files at least this large are streamed.
pub const THRESHOLD: u64 = 8 * 1024 * 1024;

/// Do `sign`, `encrypt` (and `open`) take the streaming path: is streaming asked for,
/// or is the input file large enough for it? Every send option streams (header
/// protection and receipt requests too, through `mss::stream::*_message_stream`).
pub fn wanted(io: &Io) -> bool {
    if io.stream {
        return true;
    }
    io.input
        .as_deref()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.is_file() && m.len() >= THRESHOLD)
}

/// The start of the input file (at most 64 KiB; nothing for standard input): where a
/// streamed open finds the header fields it needs before streaming (the Message-ID the
/// key store records).
pub fn head(path: &Option<PathBuf>) -> Vec<u8> {
    let mut head = Vec::new();
    if let Some(p) = path
        && let Ok(f) = File::open(p)
    {
        // Unreadable here: the open reports it.
        let _ = f.take(64 * 1024).read_to_end(&mut head);
    }
    head
}

fn failure(what: impl std::fmt::Display) -> Failure {
    Failure::new(exit::FAILURE, what.to_string())
}

/// The input (file or standard input) with a progress bar when stderr is a terminal.
pub struct Input {
    reader: Box<dyn Read>,
    bar: Option<ProgressBar>,
}

impl Input {
    /// Open `path` (standard input when `None`).
    pub fn open(path: &Option<PathBuf>) -> Result<Input, Failure> {
        let (reader, len): (Box<dyn Read>, Option<u64>) = match path {
            Some(p) => {
                let f = File::open(p)
                    .map_err(|e| failure(format!("cannot read {}: {e}", p.display())))?;
                let len = f.metadata().ok().map(|m| m.len());
                (Box::new(f), len)
            }
            None => (Box::new(std::io::stdin()), None),
        };
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match len {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::no_length(),
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Ok(Input { reader, bar })
    }

    fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Where the output goes: a temporary file renamed into place at the end, or standard
/// output (directly, or after the fact for `open`).
pub struct Output {
    tmp: Option<BufWriter<tempfile::NamedTempFile>>,
    dest: Option<PathBuf>,
    direct: Option<std::io::StdoutLock<'static>>,
}

impl Output {
    /// `deferred`: write standard output only once the command succeeded.
    pub fn new(path: &Option<PathBuf>, deferred: bool) -> Result<Output, Failure> {
        match path {
            Some(p) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = tempfile::NamedTempFile::new_in(dir)
                    .map_err(|e| failure(format!("cannot write in {}: {e}", dir.display())))?;
                Ok(Output {
                    tmp: Some(BufWriter::with_capacity(256 * 1024, tmp)),
                    dest: Some(p.clone()),
                    direct: None,
                })
            }
            None if deferred => {
                let tmp = tempfile::NamedTempFile::new()
                    .map_err(|e| failure(format!("cannot create a temporary file: {e}")))?;
                Ok(Output {
                    tmp: Some(BufWriter::with_capacity(256 * 1024, tmp)),
                    dest: None,
                    direct: None,
                })
            }
            None => Ok(Output {
                tmp: None,
                dest: None,
                direct: Some(std::io::stdout().lock()),
            }),
        }
    }

    /// The writer to stream into.
    pub fn writer(&mut self) -> &mut dyn Write {
        match (&mut self.tmp, &mut self.direct) {
            (Some(t), _) => t,
            (None, Some(d)) => d,
            (None, None) => unreachable!("an output is a file or standard output"),
        }
    }

    /// Put the output in place (or copy it to standard output).
    pub fn commit(self) -> Result<(), Failure> {
        let bad = |e: std::io::Error| failure(format!("cannot write the output: {e}"));
        if let Some(mut d) = self.direct {
            return d.flush().map_err(bad);
        }
        let Some(t) = self.tmp else { return Ok(()) };
        let mut tmp = t.into_inner().map_err(|e| bad(e.into_error()))?;
        match self.dest {
            Some(p) => {
                tmp.persist(&p)
                    .map_err(|e| failure(format!("cannot write {}: {e}", p.display())))?;
            }
            None => {
                use std::io::Seek;
                tmp.as_file_mut()
                    .seek(std::io::SeekFrom::Start(0))
                    .map_err(bad)?;
                let mut out = std::io::stdout().lock();
                std::io::copy(tmp.as_file_mut(), &mut out).map_err(bad)?;
                out.flush().map_err(bad)?;
            }
        }
        Ok(())
    }
}

/// `mss sign` on a stream, with the message options (`--protect-headers`,
/// `--request-receipt`).
pub fn sign(
    io: &Io,
    signer: &dyn mss::SigningKey,
    opts: &mss::SignOptions,
    msg: &mss::MessageOptions,
) -> Result<(), Failure> {
    let mut input = Input::open(&io.input)?;
    let mut output = Output::new(&io.output, false)?;
    {
        let mut progress = Counter::default();
        let mut wrapped = progress.wrap(&mut input);
        mss::stream::sign_message_stream(
            &mut wrapped,
            output.writer(),
            signer,
            opts,
            msg,
            &mut |_| {},
        )?;
    }
    input.done();
    output.commit()
}

/// `mss encrypt` on a stream (`signer`: sign first), with the message options
/// (header protection by default, `--request-receipt` with a signer).
pub fn encrypt(
    io: &Io,
    signer: Option<&dyn mss::SigningKey>,
    recipients: &[mss::Certificate],
    own: Option<&mss::Certificate>,
    opts: &mss::EncryptOptions,
    msg: &mss::MessageOptions,
) -> Result<(), Failure> {
    let mut input = Input::open(&io.input)?;
    let mut output = Output::new(&io.output, false)?;
    {
        let mut progress = Counter::default();
        let mut wrapped = progress.wrap(&mut input);
        match signer {
            Some(s) => mss::stream::sign_and_encrypt_message_stream(
                &mut wrapped,
                output.writer(),
                s,
                recipients,
                own,
                opts,
                msg,
                &mut |_| {},
            )?,
            None => {
                let sender = own.ok_or_else(|| Failure::new(exit::USAGE, crate::SENDER_NEEDED))?;
                mss::stream::encrypt_message_stream(
                    &mut wrapped,
                    output.writer(),
                    recipients,
                    sender,
                    opts,
                    msg,
                    &mut |_| {},
                )?
            }
        }
    }
    input.done();
    output.commit()
}

/// `mss open` on a stream: returns the report; the clear message is in place only
/// when this succeeded.
pub fn open(io: &Io, opts: &mss::OpenOptions) -> Result<(mss::Report, Output), Failure> {
    let mut input = Input::open(&io.input)?;
    let mut output = Output::new(&io.output, true)?;
    let report = {
        let mut progress = Counter::default();
        let mut wrapped = progress.wrap(&mut input);
        mss::stream::open_stream(&mut wrapped, output.writer(), opts, &mut |_| {})
    };
    input.done();
    let report = report.map_err(|e| match e {
        mss::Error::Key(_) => Failure::new(exit::CANNOT_DECRYPT, e.to_string()),
        other => other.into(),
    })?;
    Ok((report, output))
}

/// Counts the input bytes for the progress bar.
#[derive(Default)]
struct Counter {
    n: u64,
}

impl Counter {
    fn wrap<'a>(&'a mut self, input: &'a mut Input) -> Counted<'a> {
        Counted {
            count: &mut self.n,
            input,
        }
    }
}

struct Counted<'a> {
    count: &'a mut u64,
    input: &'a mut Input,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.reader.read(buf)?;
        *self.count += n as u64;
        if let Some(b) = &self.input.bar {
            b.set_position(*self.count);
        }
        Ok(n)
    }
}
