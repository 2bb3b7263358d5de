//! Wiping bulk byte buffers that held plaintext. `zeroize` clears a byte slice with one volatile store per
//! byte, which the compiler may not merge: in wasm that made wiping the decrypted packets and the event
//! records a tenth of the server's CPU on a bulk transfer (profile in the crypto-provider work). Here the
//! aligned middle of a buffer is cleared a `u64` at a time, still with `zeroize`'s volatile stores, so the
//! wipe cannot be optimised away either.

use alloc::vec::Vec;
use zeroize::Zeroize;

/// Overwrites `bytes` with zeros.
pub fn wipe(bytes: &mut [u8]) {
    let (head, words, tail) = bytemuck::pod_align_to_mut::<u8, u64>(bytes);
    head.zeroize();
    words.zeroize();
    tail.zeroize();
}

/// Overwrites all of `buf`'s allocation, spare capacity included, and leaves it empty.
pub fn wipe_vec(buf: &mut Vec<u8>) {
    buf.resize(buf.capacity(), 0);
    wipe(buf);
    buf.clear();
}

/// A byte buffer that wipes its whole allocation when dropped: `Zeroizing<Vec<u8>>` with [`wipe_vec`].
#[derive(Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
}

impl core::ops::Deref for SecretBytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl core::ops::DerefMut for SecretBytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe_vec(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_of_every_alignment_and_length_is_cleared() {
        let mut backing = [0xa5u8; 80];
        for start in 0..8 {
            for len in 0..64 {
                backing.fill(0xa5);
                wipe(&mut backing[start..start + len]);
                assert!(backing[start..start + len].iter().all(|&b| b == 0));
                assert!(backing[..start].iter().chain(&backing[start + len..]).all(|&b| b == 0xa5));
            }
        }
    }

    #[test]
    fn a_vec_is_wiped_to_its_capacity_and_left_empty() {
        let mut buf = Vec::with_capacity(100);
        buf.extend_from_slice(&[7u8; 100]);
        buf.truncate(10);
        wipe_vec(&mut buf);
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 100);
    }
}
