//! The identification string exchange (RFC 4253 §4.2). Lines before the client's version line are
//! tolerated but bounded, and no line may be longer than the RFC's 255 bytes.

use alloc::string::String;

use crate::error::{Error, Result};
use crate::msg::DisconnectReason;

/// Longest line accepted, CR LF included (RFC 4253 §4.2).
pub const MAX_LINE: usize = 255;
/// How many lines may come before the version line.
pub const MAX_PRE_LINES: usize = 20;

/// Scans `buf` (everything received so far) for the client's version line. Returns the version (without
/// CR LF) and the number of bytes it and the lines before it took, or `None` if more bytes are needed.
pub fn parse_client_version(buf: &[u8]) -> Result<Option<(String, usize)>> {
    let mut start = 0;
    let mut pre_lines = 0;
    loop {
        let rest = buf.get(start..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > MAX_LINE {
                return Err(Error::protocol("identification line too long"));
            }
            return Ok(None);
        };
        if nl + 1 > MAX_LINE {
            return Err(Error::protocol("identification line too long"));
        }
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        start += nl + 1;
        if line.starts_with(b"SSH-") {
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
            return Ok(Some((String::from(text), start)));
        }
        pre_lines += 1;
        if pre_lines > MAX_PRE_LINES {
            return Err(Error::new(DisconnectReason::ProtocolVersionNotSupported, "no SSH identification string"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_crlf_lf_and_preceding_lines() {
        let (v, used) = parse_client_version(b"hello\r\nSSH-2.0-OpenSSH_9.2\r\nrest").unwrap().unwrap();
        assert_eq!((v.as_str(), used), ("SSH-2.0-OpenSSH_9.2", 28));
        let (v, _) = parse_client_version(b"SSH-1.99-x\n").unwrap().unwrap();
        assert_eq!(v, "SSH-1.99-x");
        assert_eq!(parse_client_version(b"SSH-2.0-partial").unwrap(), None);
    }

    #[test]
    fn rejects_other_versions_long_lines_and_endless_banners() {
        let e = parse_client_version(b"SSH-1.5-old\r\n").unwrap_err();
        assert_eq!(e.reason, DisconnectReason::ProtocolVersionNotSupported);
        assert!(parse_client_version(&[b'a'; 300]).is_err());
        let banner = b"x\n".repeat(MAX_PRE_LINES + 1);
        assert!(parse_client_version(&banner).is_err());
    }
}
