//! Incremental content encryption and decryption, for messages that do not fit in memory.
//!
//! [`ContentEncryptor`] and [`ContentDecryptor`] take the content in pieces of any size
//! and give back the transformed bytes as they become available, so that a CMS layer can
//! stream an EnvelopedData or AuthEnvelopedData with bounded memory. CBC goes through the
//! `cbc` crate block by block (AES-128/192/256, 3DES, DES, RC2), the PKCS#7 padding of
//! the last block being checked by the same constant-time code as the in-memory path.
//!
//! GCM is assembled here from `ctr` (32-bit big-endian counter) and `ghash`, because the
//! `aes-gcm` crate only seals and opens whole buffers. The construction is the one
//! `aes-gcm` itself uses (NIST SP 800-38D with a 12-byte nonce: `J0 = nonce || 1`, the
//! tag is `GHASH(A, C) xor E(K, J0)`); a test checks both produce the same bytes. On
//! decryption the plaintext is released *before* the tag is checked (that is what
//! streaming means): the caller must discard what it received when
//! [`ContentDecryptor::finish`] fails. Both use the CPU's AES-NI / PCLMULQDQ through
//! RustCrypto's runtime feature detection.

use aes::{Aes128, Aes192, Aes256};
use cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    KeyInit, KeyIvInit, StreamCipher,
};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::AlgError;
use crate::cipher::{CipherParams, ContentCipher, rc2_cipher, strip_pkcs7};

/// A CBC mode (encrypting or decrypting) working on whole blocks in place.
trait CbcBlocks: Send {
    fn blocks(&mut self, data: &mut [u8]);
}

struct CbcEnc<C: BlockCipherEncrypt>(cbc::Encryptor<C>);
struct CbcDec<C: BlockCipherDecrypt>(cbc::Decryptor<C>);

impl<C: BlockCipherEncrypt + Send> CbcBlocks for CbcEnc<C> {
    fn blocks(&mut self, data: &mut [u8]) {
        let (blocks, _rest) = cipher::Block::<cbc::Encryptor<C>>::slice_as_chunks_mut(data);
        self.0.encrypt_blocks(blocks);
    }
}

impl<C: BlockCipherDecrypt + Send> CbcBlocks for CbcDec<C> {
    fn blocks(&mut self, data: &mut [u8]) {
        let (blocks, _rest) = cipher::Block::<cbc::Decryptor<C>>::slice_as_chunks_mut(data);
        self.0.decrypt_blocks(blocks);
    }
}

fn bad_key(cipher: ContentCipher) -> AlgError {
    AlgError::InvalidKey(format!("wrong key or IV length for {}", cipher.name()))
}

fn cbc_mode(
    params: &CipherParams,
    key: &[u8],
    encrypt: bool,
) -> Result<Box<dyn CbcBlocks>, AlgError> {
    macro_rules! mode {
        ($c:ty) => {
            if encrypt {
                Box::new(CbcEnc(
                    cbc::Encryptor::<$c>::new_from_slices(key, &params.iv)
                        .map_err(|_| bad_key(params.cipher))?,
                )) as Box<dyn CbcBlocks>
            } else {
                Box::new(CbcDec(
                    cbc::Decryptor::<$c>::new_from_slices(key, &params.iv)
                        .map_err(|_| bad_key(params.cipher))?,
                )) as Box<dyn CbcBlocks>
            }
        };
    }
    Ok(match params.cipher {
        ContentCipher::Aes128Cbc => mode!(Aes128),
        ContentCipher::Aes192Cbc => mode!(Aes192),
        ContentCipher::Aes256Cbc => mode!(Aes256),
        ContentCipher::DesEde3Cbc => mode!(des::TdesEde3),
        ContentCipher::DesCbc => mode!(des::Des),
        ContentCipher::Rc2Cbc { effective_bits } => {
            let c = rc2_cipher(key, effective_bits)?;
            if encrypt {
                Box::new(CbcEnc(
                    cbc::Encryptor::inner_iv_slice_init(c, &params.iv)
                        .map_err(|_| bad_key(params.cipher))?,
                ))
            } else {
                Box::new(CbcDec(
                    cbc::Decryptor::inner_iv_slice_init(c, &params.iv)
                        .map_err(|_| bad_key(params.cipher))?,
                ))
            }
        }
        other => {
            return Err(AlgError::Unsupported(format!(
                "{} cannot be streamed in CBC mode",
                other.name()
            )));
        }
    })
}

enum Ctr {
    A128(ctr::Ctr32BE<Aes128>),
    A256(ctr::Ctr32BE<Aes256>),
}

impl Ctr {
    fn apply(&mut self, data: &mut [u8]) {
        match self {
            Ctr::A128(c) => c.apply_keystream(data),
            Ctr::A256(c) => c.apply_keystream(data),
        }
    }
}

/// GCM state: the counter-mode keystream, GHASH over the ciphertext (kept in whole
/// 16-byte blocks; `pending` holds the incomplete tail) and the tag mask `E(K, J0)`.
struct Gcm {
    ctr: Ctr,
    ghash: GHash,
    mask: Zeroizing<[u8; 16]>,
    pending: [u8; 16],
    pending_len: usize,
    aad_len: u64,
    ct_len: u64,
    tag_len: usize,
}

fn gcm_parts<C>(cipher: C, nonce: &[u8]) -> (GHash, [u8; 16])
where
    C: BlockCipherEncrypt,
{
    let mut zero = cipher::Block::<C>::default();
    cipher.encrypt_block(&mut zero);
    let mut h = ghash::Key::default();
    h.copy_from_slice(&zero);
    let ghash = GHash::new(&h);
    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(nonce);
    j0[15] = 1;
    (ghash, j0)
}

impl Gcm {
    fn new(params: &CipherParams, key: &[u8], aad: &[u8]) -> Result<Self, AlgError> {
        if params.iv.len() != 12 || !(12..=16).contains(&params.tag_len) {
            return Err(AlgError::InvalidParameters {
                alg: params.cipher.name().to_owned(),
                reason: "GCM needs a 12-byte nonce and a 12- to 16-byte tag".to_owned(),
            });
        }
        let (ghash, mut ctr) = match params.cipher {
            ContentCipher::Aes128Gcm => {
                let c = Aes128::new_from_slice(key).map_err(|_| bad_key(params.cipher))?;
                let (g, j0) = gcm_parts(c, &params.iv);
                let ctr = ctr::Ctr32BE::<Aes128>::new_from_slices(key, &j0)
                    .map_err(|_| bad_key(params.cipher))?;
                (g, Ctr::A128(ctr))
            }
            ContentCipher::Aes256Gcm => {
                let c = Aes256::new_from_slice(key).map_err(|_| bad_key(params.cipher))?;
                let (g, j0) = gcm_parts(c, &params.iv);
                let ctr = ctr::Ctr32BE::<Aes256>::new_from_slices(key, &j0)
                    .map_err(|_| bad_key(params.cipher))?;
                (g, Ctr::A256(ctr))
            }
            other => {
                return Err(AlgError::Unsupported(format!(
                    "{} is not an AEAD cipher",
                    other.name()
                )));
            }
        };
        // The first keystream block (counter J0) masks the tag; the content starts at
        // inc32(J0).
        let mut mask = Zeroizing::new([0u8; 16]);
        ctr.apply(mask.as_mut_slice());
        let mut ghash = ghash;
        ghash.update_padded(aad);
        Ok(Gcm {
            ctr,
            ghash,
            mask,
            pending: [0; 16],
            pending_len: 0,
            aad_len: aad.len() as u64,
            ct_len: 0,
            tag_len: params.tag_len,
        })
    }

    /// Feed ciphertext to GHASH.
    fn hash(&mut self, mut ct: &[u8]) {
        self.ct_len += ct.len() as u64;
        if self.pending_len > 0 {
            let take = (16 - self.pending_len).min(ct.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&ct[..take]);
            self.pending_len += take;
            ct = &ct[take..];
            if self.pending_len < 16 {
                return;
            }
            self.ghash.update(&[self.pending.into()]);
            self.pending_len = 0;
        }
        let whole = ct.len() / 16 * 16;
        let (blocks, _) = ghash::Block::slice_as_chunks(&ct[..whole]);
        self.ghash.update(blocks);
        let rest = &ct[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn tag(mut self) -> Vec<u8> {
        if self.pending_len > 0 {
            self.ghash.update_padded(&self.pending[..self.pending_len]);
        }
        let mut lens = ghash::Block::default();
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.ct_len * 8).to_be_bytes());
        self.ghash.update(&[lens]);
        let full = self.ghash.finalize();
        full.iter()
            .zip(self.mask.iter())
            .take(self.tag_len)
            .map(|(a, b)| a ^ b)
            .collect()
    }
}

enum Mode {
    Cbc {
        blocks: Box<dyn CbcBlocks>,
        block_len: usize,
        /// Bytes not yet processed (less than a block when encrypting; up to a whole
        /// block kept back when decrypting, for the padding check at the end).
        held: Zeroizing<Vec<u8>>,
    },
    Gcm(Box<Gcm>),
}

fn new_mode(params: &CipherParams, key: &[u8], encrypt: bool) -> Result<Mode, AlgError> {
    params.validate()?;
    if params.cipher.is_aead() {
        Ok(Mode::Gcm(Box::new(Gcm::new(params, key, &[])?)))
    } else {
        Ok(Mode::Cbc {
            blocks: cbc_mode(params, key, encrypt)?,
            block_len: params.cipher.block_len(),
            held: Zeroizing::new(Vec::new()),
        })
    }
}

/// Append `held ‖ input` to `out`, keep back the unprocessed tail (`keep(total)` bytes)
/// in `held`, and return where the bytes to process start in `out`.
fn stage(
    held: &mut Zeroizing<Vec<u8>>,
    input: &[u8],
    out: &mut Vec<u8>,
    keep: impl Fn(usize) -> usize,
) -> usize {
    let start = out.len();
    out.extend_from_slice(held);
    out.extend_from_slice(input);
    held.clear();
    let total = out.len() - start;
    let k = keep(total);
    held.extend_from_slice(&out[out.len() - k..]);
    out.truncate(out.len() - k);
    start
}

/// Encrypts content incrementally (CBC with PKCS#7 padding, or GCM).
pub struct ContentEncryptor {
    mode: Mode,
}

impl std::fmt::Debug for ContentEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentEncryptor { .. }")
    }
}

impl ContentEncryptor {
    /// Start encrypting under `key` with `params` (IV or nonce, tag length).
    pub fn new(params: &CipherParams, key: &[u8]) -> Result<Self, AlgError> {
        Ok(ContentEncryptor {
            mode: new_mode(params, key, true)?,
        })
    }

    /// Encrypt `input`, appending the ciphertext that is ready to `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match &mut self.mode {
            Mode::Cbc {
                blocks,
                block_len,
                held,
            } => {
                let bl = *block_len;
                let start = stage(held, input, out, |t| t % bl);
                blocks.blocks(&mut out[start..]);
            }
            Mode::Gcm(g) => {
                let start = out.len();
                out.extend_from_slice(input);
                g.ctr.apply(&mut out[start..]);
                g.hash(&out[start..]);
            }
        }
    }

    /// Encrypt `buf` in place (no copy): the same ciphertext as [`update`](Self::update)
    /// would append. For CBC, a trailing partial block is held back (removed from `buf`,
    /// its plaintext wiped) and comes first in the next call.
    pub fn update_in_place(&mut self, buf: &mut Vec<u8>) {
        match &mut self.mode {
            Mode::Cbc {
                blocks,
                block_len,
                held,
            } => {
                if !held.is_empty() {
                    buf.splice(0..0, held.iter().copied());
                    held.clear();
                }
                let keep = buf.len() % *block_len;
                let cut = buf.len() - keep;
                held.extend_from_slice(&buf[cut..]);
                buf[cut..].fill(0);
                buf.truncate(cut);
                blocks.blocks(buf);
            }
            Mode::Gcm(g) => {
                g.ctr.apply(buf);
                g.hash(buf);
            }
        }
    }

    /// Finish: append the last (padded) block to `out` for CBC; return the GCM tag
    /// (empty for CBC).
    pub fn finish(self, out: &mut Vec<u8>) -> Vec<u8> {
        match self.mode {
            Mode::Cbc {
                mut blocks,
                block_len,
                held,
            } => {
                let pad = block_len - held.len();
                let start = out.len();
                out.extend_from_slice(&held);
                out.extend(std::iter::repeat_n(pad as u8, pad));
                blocks.blocks(&mut out[start..]);
                Vec::new()
            }
            Mode::Gcm(g) => g.tag(),
        }
    }
}

/// Decrypts content incrementally (CBC with a constant-time padding check at the end,
/// or GCM with the tag checked at the end).
pub struct ContentDecryptor {
    mode: Mode,
}

impl std::fmt::Debug for ContentDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentDecryptor { .. }")
    }
}

impl ContentDecryptor {
    /// Start decrypting under `key` with `params`. Errors (wrong key length, bad
    /// parameters) are [`AlgError::DecryptionFailed`] for CBC, as in the in-memory path.
    pub fn new(params: &CipherParams, key: &[u8]) -> Result<Self, AlgError> {
        let mode = new_mode(params, key, false);
        match (&mode, params.cipher.is_aead()) {
            (Err(AlgError::Unsupported(_)), _) => mode.map(|m| ContentDecryptor { mode: m }),
            (Err(_), _) => Err(AlgError::DecryptionFailed),
            (Ok(_), _) => mode.map(|m| ContentDecryptor { mode: m }),
        }
    }

    /// Decrypt `input`, appending the plaintext that is ready to `out` (CBC keeps the
    /// last block back until [`finish`](Self::finish)).
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match &mut self.mode {
            Mode::Cbc {
                blocks,
                block_len,
                held,
            } => {
                let bl = *block_len;
                // Keep the last whole block (and any partial one) back.
                let start = stage(held, input, out, |t| {
                    let r = t % bl;
                    if r == 0 && t > 0 { bl } else { r }
                });
                blocks.blocks(&mut out[start..]);
            }
            Mode::Gcm(g) => {
                g.hash(input);
                let start = out.len();
                out.extend_from_slice(input);
                g.ctr.apply(&mut out[start..]);
            }
        }
    }

    /// Finish: for CBC, decrypt the last block, check and strip its padding and append
    /// what remains to `out`; for GCM, check `tag` (in constant time). Any failure is
    /// [`AlgError::DecryptionFailed`].
    pub fn finish(self, tag: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), AlgError> {
        match self.mode {
            Mode::Cbc {
                mut blocks,
                block_len,
                held,
            } => {
                if held.len() != block_len {
                    return Err(AlgError::DecryptionFailed);
                }
                let mut last = held;
                blocks.blocks(&mut last);
                let last = strip_pkcs7(last, block_len)?;
                out.extend_from_slice(&last);
                Ok(())
            }
            Mode::Gcm(g) => {
                let tag = tag.ok_or(AlgError::DecryptionFailed)?;
                if tag.len() != g.tag_len {
                    return Err(AlgError::DecryptionFailed);
                }
                let expected = g.tag();
                if bool::from(expected.as_slice().ct_eq(tag)) {
                    Ok(())
                } else {
                    Err(AlgError::DecryptionFailed)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypt `data` in chunks of `step`; with `in_place`, every other chunk goes
    /// through `update_in_place`.
    fn chunked_encrypt(
        params: &CipherParams,
        key: &[u8],
        data: &[u8],
        step: usize,
        in_place: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let mut e = ContentEncryptor::new(params, key).unwrap();
        let mut out = Vec::new();
        for (i, c) in data.chunks(step.max(1)).enumerate() {
            if in_place && i % 2 == 0 {
                let mut buf = c.to_vec();
                e.update_in_place(&mut buf);
                out.extend_from_slice(&buf);
            } else {
                e.update(c, &mut out);
            }
        }
        let tag = e.finish(&mut out);
        (out, tag)
    }

    fn chunked_decrypt(
        params: &CipherParams,
        key: &[u8],
        data: &[u8],
        tag: Option<&[u8]>,
        step: usize,
    ) -> Result<Vec<u8>, AlgError> {
        let mut d = ContentDecryptor::new(params, key)?;
        let mut out = Vec::new();
        for c in data.chunks(step.max(1)) {
            d.update(c, &mut out);
        }
        d.finish(tag, &mut out)?;
        Ok(out)
    }

    #[test]
    fn streamed_equals_one_shot_for_every_cipher_and_chunking() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for cipher in [
            ContentCipher::Aes128Cbc,
            ContentCipher::Aes192Cbc,
            ContentCipher::Aes256Cbc,
            ContentCipher::DesEde3Cbc,
            ContentCipher::Aes128Gcm,
            ContentCipher::Aes256Gcm,
        ] {
            let params = CipherParams::generate(cipher).unwrap();
            let key = cipher.generate_key().unwrap();
            for len in [0usize, 1, 15, 16, 17, 64, 1000] {
                let pt = &data[..len];
                let one_shot = if cipher.is_aead() {
                    params.encrypt_aead(&key, &[], pt).unwrap()
                } else {
                    (params.encrypt_cbc(&key, pt).unwrap(), Vec::new())
                };
                for step in [1usize, 5, 16, 33, 4096] {
                    let streamed = chunked_encrypt(&params, &key, pt, step, false);
                    assert_eq!(
                        streamed,
                        one_shot,
                        "{} len {len} step {step}",
                        cipher.name()
                    );
                    assert_eq!(
                        chunked_encrypt(&params, &key, pt, step, true),
                        one_shot,
                        "in place: {} len {len} step {step}",
                        cipher.name()
                    );
                    let tag = cipher.is_aead().then_some(streamed.1.as_slice());
                    let back = chunked_decrypt(&params, &key, &streamed.0, tag, step).unwrap();
                    assert_eq!(back, pt);
                }
            }
        }
    }

    #[test]
    fn tampering_is_detected_at_finish() {
        let data = vec![0x5au8; 100];
        let params = CipherParams::generate(ContentCipher::Aes256Gcm).unwrap();
        let key = ContentCipher::Aes256Gcm.generate_key().unwrap();
        let (mut ct, tag) = chunked_encrypt(&params, &key, &data, 7, false);
        ct[50] ^= 1;
        assert_eq!(
            chunked_decrypt(&params, &key, &ct, Some(&tag), 9),
            Err(AlgError::DecryptionFailed)
        );
        assert_eq!(
            chunked_decrypt(&params, &key, &ct, None, 9),
            Err(AlgError::DecryptionFailed)
        );
        let params = CipherParams::generate(ContentCipher::Aes128Cbc).unwrap();
        let key = ContentCipher::Aes128Cbc.generate_key().unwrap();
        let (ct, _) = chunked_encrypt(&params, &key, &data, 7, false);
        // Truncated to a non-multiple of the block: refused.
        assert_eq!(
            chunked_decrypt(&params, &key, &ct[..ct.len() - 1], None, 9),
            Err(AlgError::DecryptionFailed)
        );
        // Wrong key: the padding check fails (or, rarely, garbage comes out).
        let other = ContentCipher::Aes128Cbc.generate_key().unwrap();
        if let Ok(out) = chunked_decrypt(&params, &other, &ct, None, 9) {
            assert_ne!(out, data);
        }
    }
}
