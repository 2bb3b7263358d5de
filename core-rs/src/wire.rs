//! RFC 4251 §5 data types: a borrowing [`Reader`] that never reads past its input and a growable
//! [`Writer`]. Every decoder in the crate is written against these two, so a truncated or oversized
//! field becomes [`WireError`], never a panic or an allocation sized by the peer.

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// A field did not fit in what was left of the message, or had the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The message ended inside a field.
    Truncated,
    /// Bytes remained after the last field of a message that has a fixed layout.
    TrailingBytes,
    /// A string that must be text was not UTF-8 (or a name-list held a non-ASCII name).
    NotUtf8,
    /// A boolean, count or length that is out of the range the protocol allows.
    Invalid,
}

/// A cursor over a byte slice. Reads borrow from the slice: no field is copied unless the caller
/// asks for an owned value.
#[derive(Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// What is left, consuming it.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or(WireError::Truncated)?;
        self.rest = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn bool(&mut self) -> Result<bool, WireError> {
        // RFC 4251: any non-zero value is TRUE.
        Ok(self.u8()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// An SSH `string`: the length is checked against the input before anything is taken.
    pub fn string(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A non-negative `mpint` (RFC 4251 §5) as its magnitude without leading zeros; a negative one is
    /// [`WireError::Invalid`].
    pub fn mpint(&mut self) -> Result<&'a [u8], WireError> {
        let raw = self.string()?;
        if raw.first().is_some_and(|&b| b & 0x80 != 0) {
            return Err(WireError::Invalid);
        }
        let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
        Ok(raw.get(first..).unwrap_or_default())
    }

    /// A `string` that must be UTF-8 text.
    pub fn utf8(&mut self) -> Result<&'a str, WireError> {
        core::str::from_utf8(self.string()?).map_err(|_| WireError::NotUtf8)
    }

    pub fn utf8_owned(&mut self) -> Result<String, WireError> {
        self.utf8().map(String::from)
    }

    /// A `name-list`: comma-separated US-ASCII names, returned as one string slice.
    pub fn name_list(&mut self) -> Result<&'a str, WireError> {
        let raw = self.string()?;
        if !raw.is_ascii() {
            return Err(WireError::NotUtf8);
        }
        core::str::from_utf8(raw).map_err(|_| WireError::NotUtf8)
    }

    /// Fails unless the whole input was read: messages with a fixed layout reject trailing bytes.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }
}

/// Appends SSH data types to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// A writer that takes `capacity` bytes without reallocating: one that will hold a secret is sized so, as
    /// a reallocation would leave a copy of what was written so far in freed memory.
    pub fn with_capacity(capacity: usize) -> Self {
        Writer { buf: Vec::with_capacity(capacity) }
    }

    /// Makes room for `additional` more bytes at once (see [`Writer::with_capacity`]).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// A writer for a message whose first byte is `msg`.
    pub fn message(msg: u8) -> Self {
        let mut w = Writer { buf: Vec::with_capacity(64) };
        w.u8(msg);
        w
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        // Every string we write is far below 4 GiB: the length of a packet bounds it.
        self.u32(bytes.len() as u32);
        self.raw(bytes)
    }

    pub fn name_list<S: AsRef<str>>(&mut self, names: &[S]) -> &mut Self {
        let len: usize = names.iter().map(|n| n.as_ref().len()).sum::<usize>() + names.len().saturating_sub(1);
        self.u32(len as u32);
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(name.as_ref().as_bytes());
        }
        self
    }

    /// An `mpint` from unsigned big-endian magnitude bytes (RFC 4251 §5): leading zeros dropped, a zero
    /// byte prepended when the top bit is set so the value stays positive.
    pub fn mpint(&mut self, magnitude: &[u8]) -> &mut Self {
        let first = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        let digits = magnitude.get(first..).unwrap_or_default();
        let pad = digits.first().is_some_and(|&b| b & 0x80 != 0);
        self.u32((digits.len() + usize::from(pad)) as u32);
        if pad {
            self.buf.push(0);
        }
        self.raw(digits)
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// A writer that appends to `buf`, to be taken back with [`Writer::into_vec`].
impl From<Vec<u8>> for Writer {
    fn from(buf: Vec<u8>) -> Self {
        Writer { buf }
    }
}

impl Zeroize for Writer {
    fn zeroize(&mut self) {
        crate::wipe::wipe_vec(&mut self.buf);
    }
}

/// Whether `name` appears in a comma-separated name-list.
pub fn list_contains(list: &str, name: &str) -> bool {
    list.split(',').any(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_encoding_follows_rfc4251_examples() {
        let enc = |m: &[u8]| {
            let mut w = Writer::new();
            w.mpint(m);
            w.into_vec()
        };
        assert_eq!(enc(&[0, 0]), [0, 0, 0, 0]);
        assert_eq!(enc(&[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7]), [0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7]);
        assert_eq!(enc(&[0x80]), [0, 0, 0, 2, 0, 0x80]);
    }

    #[test]
    fn string_length_past_end_is_truncated_not_panic() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(r.string(), Err(WireError::Truncated));
        let mut r = Reader::new(&[0, 0]);
        assert_eq!(r.u32(), Err(WireError::Truncated));
    }

    #[test]
    fn name_list_round_trip_and_membership() {
        let mut w = Writer::new();
        w.name_list(&["a", "bc", "d"]);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        let list = r.name_list().unwrap();
        assert_eq!(list, "a,bc,d");
        assert!(list_contains(list, "bc"));
        assert!(!list_contains(list, "b"));
        r.finish().unwrap();
    }
}
