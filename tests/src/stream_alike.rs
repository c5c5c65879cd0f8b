//! `assert_streams_alike`: the streamed open gives what the in-memory open gives. One
//! source shared by the `mss-tests` library and the facade's own tests
//! (`crates/mss/tests/common`, through `#[path]`), which cannot depend on each other.

use std::io::Read;

use mss::OpenOptions;

/// `mss::stream::open_stream` gives the same report and the same clear message as
/// `mss::open` (at one validation time, so that the reports compare equal), fed in one
/// piece and in pieces of 7 bytes; or both fail. Returns the report (`None`: both
/// failed).
pub fn assert_streams_alike(msg: &[u8], opts: OpenOptions<'_>) -> Option<mss::Report> {
    let opts = OpenOptions {
        time: Some(opts.time.unwrap_or_else(std::time::SystemTime::now)),
        ..opts
    };
    let in_memory = mss::open(msg, &opts);
    for step in [msg.len().max(1), 7] {
        let mut out = Vec::new();
        let mut input = Pieces { data: msg, step };
        let streamed = mss::stream::open_stream(&mut input, &mut out, &opts, &mut |_| {});
        let (report, opened) = match (streamed, &in_memory) {
            (Ok(r), Ok(o)) => (r, o),
            (Err(_), Err(_)) => continue,
            (s, m) => panic!(
                "pieces of {step}: streamed {:?}, in memory {:?}",
                s.map(|r| r.to_json()),
                m.as_ref().map(|o| o.report.to_json())
            ),
        };
        assert_eq!(
            report.to_json(),
            opened.report.to_json(),
            "streamed and in-memory reports differ (pieces of {step})"
        );
        assert_eq!(report, opened.report);
        assert!(
            out == opened.message,
            "streamed and in-memory messages differ (pieces of {step}):\n{}\n---\n{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&opened.message)
        );
    }
    in_memory.ok().map(|o| o.report)
}

/// Hands out at most `step` bytes per read (cutting delimiters, BER headers and base64
/// quanta anywhere).
pub struct Pieces<'a> {
    /// What is left to read.
    pub data: &'a [u8],
    /// The largest read.
    pub step: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
