//! Fetching revocation data: the [`CrlFetcher`] and [`OcspTransport`] traits, and
//! [`HttpFetcher`], their `http://` implementation.
//!
//! [`HttpFetcher`] is a small synchronous HTTP/1.1 client over `std::net::TcpStream`
//! (GET for CRLs, POST `application/ocsp-request` for OCSP), with connect / read /
//! write timeouts and a size cap. Written by hand on purpose: CRL distribution points
//! and OCSP responders are plain `http://` by convention (RFC 5280 §4.2.1.13, RFC 6960
//! appendix A: the objects are signed, TLS adds nothing), the need is one request per
//! call, and an HTTP crate would bring an async runtime or a TLS stack into the trust
//! layer for nothing. `https://` and `ldap://` URIs are refused with
//! [`FetchError::UnsupportedScheme`]: an LDAP client plugs in through [`CrlFetcher`]
//! (see [`Fetchers`] to combine one with this client).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URI scheme is not handled by this fetcher.
    #[error("unsupported URI scheme: {0}")]
    UnsupportedScheme(String),
    /// The URI is malformed.
    #[error("bad URI {uri}: {reason}")]
    BadUri {
        /// The URI.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// Network error (connect, timeout, reset).
    #[error("{uri}: {reason}")]
    Network {
        /// The URI.
        uri: String,
        /// The I/O error.
        reason: String,
    },
    /// The server answered with something else than 200 and a body.
    #[error("{uri}: HTTP {reason}")]
    Http {
        /// The URI.
        uri: String,
        /// Status line or protocol problem.
        reason: String,
    },
    /// The body exceeded the size cap.
    #[error("{uri}: response larger than {limit} bytes")]
    TooLarge {
        /// The URI.
        uri: String,
        /// The cap.
        limit: usize,
    },
}

/// Fetches CRLs from a distribution point URI (`http://…`, `ldap://…`). One URI may
/// give several CRLs (an LDAP entry with a base and a delta CRL); each is DER.
pub trait CrlFetcher {
    /// The DER CRLs published at `uri`.
    fn fetch_crls(&self, uri: &str) -> Result<Vec<Vec<u8>>, FetchError>;
}

/// Sends an OCSP request (DER) to a responder URI and returns the DER response.
pub trait OcspTransport {
    /// POST `request` to `uri`.
    fn post_ocsp(&self, uri: &str, request: &[u8]) -> Result<Vec<u8>, FetchError>;
}

/// The `http://` client (see the module doc).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read and write timeout (each I/O call).
    pub io_timeout: Duration,
    /// Largest body accepted.
    pub max_body: usize,
}

impl Default for HttpFetcher {
    fn default() -> Self {
        HttpFetcher {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            max_body: 16 * 1024 * 1024,
        }
    }
}

/// `(host, port, path)` of an `http://` URI.
fn parse_http_uri(uri: &str) -> Result<(String, u16, String), FetchError> {
    let bad = |reason: &str| FetchError::BadUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(bad("no scheme"));
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(FetchError::UnsupportedScheme(scheme.to_ascii_lowercase()));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("no host, or user info"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed IPv6 literal"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if after.is_empty() => 80,
            None => return Err(bad("junk after IPv6 literal")),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
            None => (authority.to_string(), 80),
        }
    };
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("control character or space in path"));
    }
    Ok((host, port, path.to_string()))
}

impl HttpFetcher {
    /// One HTTP/1.1 exchange; returns the body of a 200 answer.
    pub fn request(
        &self,
        uri: &str,
        method: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<u8>, FetchError> {
        let (host, port, path) = parse_http_uri(uri)?;
        let net = |e: std::io::Error| FetchError::Network {
            uri: uri.to_string(),
            reason: e.to_string(),
        };
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(net)?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = match stream {
            Some(s) => s,
            None => {
                return Err(net(last.unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
                })));
            }
        };
        stream
            .set_read_timeout(Some(self.io_timeout))
            .map_err(net)?;
        stream
            .set_write_timeout(Some(self.io_timeout))
            .map_err(net)?;
        let host_header = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\nUser-Agent: mss\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).map_err(net)?;
        stream.write_all(body).map_err(net)?;
        stream.flush().map_err(net)?;
        let mut raw = Vec::new();
        let cap = self.max_body + 64 * 1024;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).map_err(net)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > cap {
                return Err(FetchError::TooLarge {
                    uri: uri.to_string(),
                    limit: self.max_body,
                });
            }
            // A server that keeps the connection open despite `Connection: close`:
            // stop once the announced body is in.
            if complete_by_length(&raw) {
                break;
            }
        }
        parse_response(uri, &raw, self.max_body)
    }
}

/// Are the headers and the whole `Content-Length` body in `raw`?
fn complete_by_length(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(head) = std::str::from_utf8(&raw[..end]) else {
        return false;
    };
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .is_some_and(|n| raw.len() >= end + 4 + n)
}

/// The body of a 200 HTTP/1.x response (Content-Length, chunked, or until close).
fn parse_response(uri: &str, raw: &[u8], max_body: usize) -> Result<Vec<u8>, FetchError> {
    let http = |reason: String| FetchError::Http {
        uri: uri.to_string(),
        reason,
    };
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| http("no end of headers".into()))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| http("non-text headers".into()))?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(http(format!("not an HTTP/1 response: {status}")));
    }
    if code != "200" {
        return Err(http(status.to_string()));
    }
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(
                v.parse::<usize>()
                    .map_err(|_| http("bad Content-Length".into()))?,
            );
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let out = if chunked {
        dechunk(body).ok_or_else(|| http("bad chunked encoding".into()))?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or_else(|| http("body shorter than Content-Length".into()))?
            .to_vec()
    } else {
        body.to_vec()
    };
    if out.len() > max_body {
        return Err(FetchError::TooLarge {
            uri: uri.to_string(),
            limit: max_body,
        });
    }
    Ok(out)
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..eol]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

impl CrlFetcher for HttpFetcher {
    /// GET the CRL (DER, or PEM `X509 CRL` converted to DER).
    fn fetch_crls(&self, uri: &str) -> Result<Vec<Vec<u8>>, FetchError> {
        let body = self.request(uri, "GET", None, &[])?;
        if body.starts_with(b"-----BEGIN") {
            let (_, der) = der::pem::decode_vec(&body).map_err(|e| FetchError::Http {
                uri: uri.to_string(),
                reason: format!("bad PEM CRL: {e}"),
            })?;
            return Ok(vec![der]);
        }
        Ok(vec![body])
    }
}

impl OcspTransport for HttpFetcher {
    fn post_ocsp(&self, uri: &str, request: &[u8]) -> Result<Vec<u8>, FetchError> {
        self.request(uri, "POST", Some("application/ocsp-request"), request)
    }
}

/// Several CRL fetchers tried in order: the first one that handles the URI's scheme
/// answers (e.g. [`HttpFetcher`] for `http://` then an LDAP client for `ldap://`).
pub struct Fetchers<'a>(pub Vec<&'a (dyn CrlFetcher + Sync)>);

impl std::fmt::Debug for Fetchers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fetchers({})", self.0.len())
    }
}

impl CrlFetcher for Fetchers<'_> {
    fn fetch_crls(&self, uri: &str) -> Result<Vec<Vec<u8>>, FetchError> {
        let mut last = FetchError::UnsupportedScheme(
            uri.split_once("://")
                .map(|(s, _)| s.to_string())
                .unwrap_or_default(),
        );
        for f in &self.0 {
            match f.fetch_crls(uri) {
                Err(e @ FetchError::UnsupportedScheme(_)) => last = e,
                other => return other,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_http_uri("http://127.0.0.1:8080/a/b.crl").unwrap(),
            ("127.0.0.1".into(), 8080, "/a/b.crl".into())
        );
        assert_eq!(
            parse_http_uri("HTTP://ocsp.example").unwrap(),
            ("ocsp.example".into(), 80, "/".into())
        );
        assert_eq!(parse_http_uri("http://[::1]:99/x").unwrap().1, 99);
        assert!(matches!(
            parse_http_uri("ldap://dir/cn=x"),
            Err(FetchError::UnsupportedScheme(s)) if s == "ldap"
        ));
        assert!(parse_http_uri("http://a b/").is_err() || parse_http_uri("http://h/a b").is_err());
        assert!(parse_http_uri("http://h:port/").is_err());
        assert!(parse_http_uri("http://u@h/").is_err());
    }

    struct Ldap;
    impl CrlFetcher for Ldap {
        fn fetch_crls(&self, uri: &str) -> Result<Vec<Vec<u8>>, FetchError> {
            match uri.strip_prefix("ldap://") {
                Some(rest) => Ok(vec![rest.as_bytes().to_vec()]),
                None => Err(FetchError::UnsupportedScheme(uri.into())),
            }
        }
    }

    #[test]
    fn fetchers_route_by_scheme() {
        let http = HttpFetcher::default();
        let both = Fetchers(vec![&http, &Ldap]);
        assert_eq!(
            both.fetch_crls("ldap://dir/x").unwrap(),
            vec![b"dir/x".to_vec()]
        );
        assert!(matches!(
            both.fetch_crls("ftp://h/x"),
            Err(FetchError::UnsupportedScheme(_))
        ));
        // http is answered by the http client (nothing listens on port 1: a network
        // error, not "unsupported").
        assert!(matches!(
            both.fetch_crls("http://127.0.0.1:1/x.crl"),
            Err(FetchError::Network { .. })
        ));
        assert!(format!("{both:?}").contains('2'));
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_response("u", ok, 100).unwrap(), b"abc");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response("u", chunked, 100).unwrap(), b"abcde");
        assert!(complete_by_length(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
        ));
        assert!(!complete_by_length(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"
        ));
        assert!(!complete_by_length(b"HTTP/1.1 200 OK\r\n\r\nab"));
        let close = b"HTTP/1.1 200 OK\r\n\r\nxyz";
        assert_eq!(parse_response("u", close, 100).unwrap(), b"xyz");
        assert!(parse_response("u", close, 2).is_err());
        assert!(parse_response("u", b"HTTP/1.1 404 Not Found\r\n\r\n", 100).is_err());
        assert!(parse_response("u", b"garbage", 100).is_err());
        assert!(
            parse_response("u", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 100).is_err()
        );
        assert!(
            parse_response(
                "u",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
                100
            )
            .is_err()
        );
    }
}
