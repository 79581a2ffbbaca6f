//! A deliberately plain HTTP/1.1 client over `std::net::TcpStream`: one request per
//! connection (`Connection: close`), every header and byte of the body exactly as the
//! test wrote it. The edge tests need that control (a foreign `Host`, a wrong media type,
//! a 70 KiB body, malformed JSON) and the rest need nothing more, so no client library
//! can normalise away what is being tested.
//!
//! It knows nothing of Purser: `agent.rs` speaks the agent API on top of it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON; panics with the raw body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "HTTP {} body is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A request as it goes on the wire.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, e.g. `/v1/authorizations?wait=30`.
    pub target: &'a str,
    /// Sent in this order; `Content-Length` and `Connection: close` are added.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Chunked transfer encoding instead of `Content-Length` (a body of unknown size).
    pub chunked: bool,
    /// How long the whole exchange may take.
    pub timeout: Duration,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, target: &'a str) -> Request<'a> {
        Request {
            method,
            target,
            headers: Vec::new(),
            body: None,
            chunked: false,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request<'a> {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request<'a> {
        self.body = Some(body.into());
        self
    }

    pub fn json(self, body: &Value) -> Request<'a> {
        self.header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub fn timeout(mut self, timeout: Duration) -> Request<'a> {
        self.timeout = timeout;
        self
    }

    pub fn chunked(mut self) -> Request<'a> {
        self.chunked = true;
        self
    }

    /// Sends the request to `addr` and reads the whole answer.
    pub fn send(&self, addr: SocketAddr) -> Response {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|error| panic!("connect to {addr}: {error}"));
        stream.set_read_timeout(Some(self.timeout)).unwrap();
        stream.set_write_timeout(Some(self.timeout)).unwrap();
        self.exchange(&mut stream)
    }

    /// Like [`Request::send`], but a connection that is refused, reset or closed before
    /// a complete answer is an `Err` (what it was), not a panic: for tests that kill the
    /// daemon under load.
    pub fn try_send(&self, addr: SocketAddr) -> Result<Response, String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|error| format!("connect to {addr}: {error}"))?;
        let _ = stream.set_read_timeout(Some(self.timeout));
        let _ = stream.set_write_timeout(Some(self.timeout));
        stream
            .write_all(&self.encode())
            .and_then(|()| stream.flush())
            .map_err(|error| format!("send: {error}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|error| format!("read after {} bytes: {error}", raw.len()))?;
        parse_response(&raw).ok_or_else(|| format!("incomplete answer of {} bytes", raw.len()))
    }

    /// Sends the request over the unix socket at `path` (the admin API) and reads the
    /// whole answer.
    pub fn send_unix(&self, path: &Path) -> Response {
        let mut stream = UnixStream::connect(path)
            .unwrap_or_else(|error| panic!("connect to {}: {error}", path.display()));
        stream.set_read_timeout(Some(self.timeout)).unwrap();
        stream.set_write_timeout(Some(self.timeout)).unwrap();
        self.exchange(&mut stream)
    }

    /// The request's bytes as they go on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = &self.body {
            if self.chunked {
                head.push_str("Transfer-Encoding: chunked\r\n");
            } else {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        if let Some(body) = &self.body {
            if self.chunked {
                for chunk in body.chunks(8 * 1024) {
                    bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            } else {
                bytes.extend_from_slice(body);
            }
        }
        bytes
    }

    fn exchange(&self, stream: &mut (impl Read + Write)) -> Response {
        // A server may answer (413) and close before it read all of a large body: a
        // failed write is then not the test's failure, the answer is what counts.
        let _ = stream
            .write_all(&self.encode())
            .and_then(|()| stream.flush());
        let raw = read_to_end_tolerant(stream, self.timeout);
        parse_response(&raw).unwrap_or_else(|| {
            panic!(
                "no complete HTTP response to {} {}: {:?}",
                self.method,
                self.target,
                String::from_utf8_lossy(&raw)
            )
        })
    }
}

/// Everything the server sent until it closed; a reset after the answer arrived is the
/// end of the answer, not an error.
pub fn read_to_end_tolerant(stream: &mut impl Read, timeout: Duration) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) && !raw.is_empty() =>
            {
                return raw;
            }
            Err(error) => panic!(
                "reading the answer failed after {} bytes (timeout {timeout:?}): {error}",
                raw.len()
            ),
        }
    }
}

pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        match headers.iter().find(|(name, _)| name == "content-length") {
            Some((_, length)) => {
                let length: usize = length.parse().ok()?;
                rest.get(..length)?.to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

/// A chunked body's bytes, or `None` while it is incomplete.
pub(crate) fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_and_chunked_bodies() {
        let plain =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}").unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.body, b"{}");
        assert_eq!(plain.header("x-a"), Some("b"));
        let chunked = parse_response(
            b"HTTP/1.1 413 Payload Too Large\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.status, 413);
        assert_eq!(chunked.body, b"abcde");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").is_none());
    }
}
