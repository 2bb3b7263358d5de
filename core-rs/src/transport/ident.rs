//! The identification string exchange (RFC 4253 §4.2). Only a server may send lines before its version
//! line, so the client's first line must be its version, as OpenSSH's sshd requires; no version line may
//! be longer than the RFC's 255 bytes.

use alloc::string::String;

use crate::error::{Error, Result};
use crate::msg::DisconnectReason;

/// Longest line accepted, CR LF included (RFC 4253 §4.2).
pub const MAX_LINE: usize = 255;
/// What the server writes, in the clear, to a client whose first line is not an SSH version (OpenSSH's words).
pub const NOT_SSH_REPLY: &[u8] = b"Invalid SSH identification string.\r\n";
/// Lines a server may send before its version, and the longest of them, as OpenSSH's client allows
/// (`SSH_MAX_PRE_BANNER_LINES`, `SSH_MAX_BANNER_LEN`).
pub const MAX_PRE_VERSION_LINES: usize = 1024;
const MAX_PRE_VERSION_LINE: usize = 8192;

/// Whether the bytes received so far already show that the client's first line is not an SSH version:
/// they do not begin with `SSH-`. Decided from the first byte on, so that an HTTP request or a port
/// scanner's probe is answered at once rather than when a line end or the login grace time comes.
pub fn is_not_ssh(buf: &[u8]) -> bool {
    let n = buf.len().min(4);
    buf.get(..n) != b"SSH-".get(..n)
}

/// Scans `buf` (everything received so far, which [`is_not_ssh`] has let through) for the client's version
/// line. Returns the version (without CR LF) and the number of bytes the line took, or `None` if more
/// bytes are needed.
pub fn parse_client_version(buf: &[u8]) -> Result<Option<(String, usize)>> {
    let Some(nl) = line_end(buf, MAX_LINE, "identification line too long")? else {
        return Ok(None);
    };
    let line = buf.get(..nl).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.starts_with(b"SSH-") {
        return Err(Error::protocol("invalid SSH identification string"));
    }
    let text = core::str::from_utf8(line).map_err(|_| Error::protocol("identification string is not UTF-8"))?;
    if !(text.starts_with("SSH-2.0-") || text.starts_with("SSH-1.99-")) {
        return Err(Error::new(DisconnectReason::ProtocolVersionNotSupported, "protocol major versions differ"));
    }
    // RFC 4253 §4.2: the protocol and software versions are printable US-ASCII; the comments that may
    // follow a space end up in logs, so they may not hold control characters either.
    let (versions, comments) = text.split_once(' ').unwrap_or((text, ""));
    if !versions.bytes().all(|b| b.is_ascii_graphic()) || comments.chars().any(char::is_control) {
        return Err(Error::protocol("identification string is not printable"));
    }
    Ok(Some((String::from(text), nl + 1)))
}

/// A client's reading of the server's version line: the lines the server may send before it are skipped.
/// Returns the version and the bytes up to the end of its line, or `None` if more bytes are needed.
pub fn parse_server_version(buf: &[u8]) -> Result<Option<(String, usize)>> {
    let mut start = 0;
    for _ in 0..=MAX_PRE_VERSION_LINES {
        let rest = buf.get(start..).unwrap_or_default();
        let may_be_version = rest.get(..4).map_or(b"SSH-".starts_with(rest), |head| head == b"SSH-");
        if may_be_version {
            return Ok(parse_client_version(rest)?.map(|(version, used)| (version, start + used)));
        }
        let Some(nl) = line_end(rest, MAX_PRE_VERSION_LINE, "line before the identification string too long")? else {
            return Ok(None);
        };
        start += nl + 1;
    }
    Err(Error::protocol("no SSH identification string"))
}

/// Where the first line of `buf` ends (its LF), or `None` while it may still come; a line of more than
/// `max` bytes, LF included, is an error.
fn line_end(buf: &[u8], max: usize, too_long: &'static str) -> Result<Option<usize>> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(nl) if nl < max => Ok(Some(nl)),
        None if buf.len() <= max => Ok(None),
        _ => Err(Error::protocol(too_long)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_crlf_and_lf() {
        let (v, used) = parse_client_version(b"SSH-2.0-OpenSSH_9.2\r\nrest").unwrap().unwrap();
        assert_eq!((v.as_str(), used), ("SSH-2.0-OpenSSH_9.2", 21));
        let (v, _) = parse_client_version(b"SSH-1.99-x\n").unwrap().unwrap();
        assert_eq!(v, "SSH-1.99-x");
        assert_eq!(parse_client_version(b"SSH-2.0-partial").unwrap(), None);
    }

    #[test]
    fn rejects_other_versions_and_long_lines() {
        let e = parse_client_version(b"SSH-1.5-old\r\n").unwrap_err();
        assert_eq!(e.reason, DisconnectReason::ProtocolVersionNotSupported);
        assert!(parse_client_version(&[b'S'; 300]).is_err());
    }

    #[test]
    fn a_client_skips_the_lines_a_server_sends_before_its_version() {
        let (v, used) = parse_server_version(b"hello\r\nSSH is here\nSSH-2.0-srv\r\nrest").unwrap().unwrap();
        assert_eq!((v.as_str(), used), ("SSH-2.0-srv", 32));
        for partial in [&b""[..], b"hello", b"hello\r\nSS", b"hello\r\nSSH-2.0-s"] {
            assert_eq!(parse_server_version(partial).unwrap(), None, "{partial:?}");
        }
        let many = b"x\n".repeat(MAX_PRE_VERSION_LINES + 1);
        assert!(parse_server_version(&many).is_err());
        assert!(parse_server_version(&[b'x'; MAX_PRE_VERSION_LINE + 1]).is_err());
        assert!(parse_server_version(b"SSH-1.5-old\r\n").is_err());
    }

    #[test]
    fn anything_but_ssh_first_is_not_ssh_from_its_first_byte() {
        for not_ssh in [&b"G"[..], b"GET / HTTP/1.1\r\n", b"\r\n", b"SSH_", b"ssh-2.0-x\r\n", b"\x16\x03\x01"] {
            assert!(is_not_ssh(not_ssh), "{not_ssh:?}");
        }
        for maybe in [&b""[..], b"S", b"SSH", b"SSH-", b"SSH-2.0-x\r\n"] {
            assert!(!is_not_ssh(maybe), "{maybe:?}");
        }
    }
}
