//! A minimal DER tree, to tamper with CMS structures in precise places and re-encode
//! them with correct lengths.
//!
//! Only definite lengths and single-byte tags are handled (what `openssl cms` and mss
//! produce); BER indefinite lengths make [`Node::parse`] panic. Constructed values are
//! parsed recursively, primitive ones are kept as bytes.

/// One TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The identifier octet (class, constructed bit, tag number < 31).
    pub tag: u8,
    /// The value.
    pub value: Value,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Primitive contents.
    Bytes(Vec<u8>),
    /// Constructed contents.
    Children(Vec<Node>),
}

/// Universal SEQUENCE.
pub const SEQUENCE: u8 = 0x30;
/// Universal SET.
pub const SET: u8 = 0x31;
/// Universal OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// Universal OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// Universal INTEGER.
pub const INTEGER: u8 = 0x02;

/// DER of the OID id-messageDigest (1.2.840.113549.1.9.4), contents only.
pub const OID_MESSAGE_DIGEST: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04];
/// DER of the OID id-signingTime (1.2.840.113549.1.9.5), contents only.
pub const OID_SIGNING_TIME: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];
/// DER of the OID id-contentType (1.2.840.113549.1.9.3), contents only.
pub const OID_CONTENT_TYPE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03];

fn read_len(input: &[u8], pos: &mut usize) -> usize {
    let first = input[*pos];
    *pos += 1;
    if first < 0x80 {
        return usize::from(first);
    }
    let n = usize::from(first & 0x7f);
    assert!(
        n != 0,
        "indefinite length (BER) is not supported by this DER helper"
    );
    assert!(n <= 4, "length too long");
    let mut len = 0usize;
    for _ in 0..n {
        len = (len << 8) | usize::from(input[*pos]);
        *pos += 1;
    }
    len
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

impl Node {
    /// Parse one complete DER value (trailing bytes are an error).
    pub fn parse(der: &[u8]) -> Node {
        let mut pos = 0;
        let n = Self::parse_at(der, &mut pos);
        assert_eq!(pos, der.len(), "trailing bytes after DER value");
        n
    }

    fn parse_at(input: &[u8], pos: &mut usize) -> Node {
        let tag = input[*pos];
        assert!(tag & 0x1f != 0x1f, "multi-byte tags are not supported");
        *pos += 1;
        let len = read_len(input, pos);
        let end = *pos + len;
        assert!(end <= input.len(), "value runs past the end of its input");
        let value = if tag & 0x20 != 0 {
            let mut children = Vec::new();
            while *pos < end {
                children.push(Self::parse_at(input, pos));
            }
            assert_eq!(*pos, end, "child runs past its parent");
            Value::Children(children)
        } else {
            let v = input[*pos..end].to_vec();
            *pos = end;
            Value::Bytes(v)
        };
        Node { tag, value }
    }

    /// Encode as DER (lengths recomputed).
    pub fn to_der(&self) -> Vec<u8> {
        let mut content = Vec::new();
        match &self.value {
            Value::Bytes(b) => content.extend_from_slice(b),
            Value::Children(c) => {
                for child in c {
                    content.extend_from_slice(&child.to_der());
                }
            }
        }
        let mut out = vec![self.tag];
        write_len(&mut out, content.len());
        out.extend_from_slice(&content);
        out
    }

    /// The children of a constructed value (panics on a primitive one).
    pub fn children(&self) -> &[Node] {
        match &self.value {
            Value::Children(c) => c,
            Value::Bytes(_) => panic!("tag {:#04x} is primitive", self.tag),
        }
    }

    /// Mutable children of a constructed value.
    pub fn children_mut(&mut self) -> &mut Vec<Node> {
        match &mut self.value {
            Value::Children(c) => c,
            Value::Bytes(_) => panic!("tag {:#04x} is primitive", self.tag),
        }
    }

    /// The contents of a primitive value (panics on a constructed one).
    pub fn bytes(&self) -> &[u8] {
        match &self.value {
            Value::Bytes(b) => b,
            Value::Children(_) => panic!("tag {:#04x} is constructed", self.tag),
        }
    }

    /// Mutable contents of a primitive value.
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        match &mut self.value {
            Value::Bytes(b) => b,
            Value::Children(_) => panic!("tag {:#04x} is constructed", self.tag),
        }
    }

    /// The child at `path` (indices from this node).
    pub fn at(&self, path: &[usize]) -> &Node {
        path.iter().fold(self, |n, &i| &n.children()[i])
    }

    /// The mutable child at `path`.
    pub fn at_mut(&mut self, path: &[usize]) -> &mut Node {
        path.iter().fold(self, |n, &i| &mut n.children_mut()[i])
    }
}

/// Navigation inside a CMS `ContentInfo` holding a `SignedData`.
pub mod signed_data {
    use super::*;

    /// The SignedData SEQUENCE of a ContentInfo (`ContentInfo.[0].SignedData`).
    pub fn body(ci: &mut Node) -> &mut Node {
        let explicit = &mut ci.children_mut()[1];
        assert_eq!(
            explicit.tag, 0xA0,
            "ContentInfo.content must be [0] EXPLICIT"
        );
        &mut explicit.children_mut()[0]
    }

    /// The first SignerInfo.
    pub fn signer_info(ci: &mut Node) -> &mut Node {
        let sd = body(ci);
        let infos = sd
            .children_mut()
            .last_mut()
            .expect("SignedData is not empty");
        assert_eq!(infos.tag, SET, "signerInfos must be a SET");
        &mut infos.children_mut()[0]
    }

    /// The signature value (the OCTET STRING of the first SignerInfo).
    pub fn signature(ci: &mut Node) -> &mut Vec<u8> {
        signer_info(ci)
            .children_mut()
            .iter_mut()
            .find(|n| n.tag == OCTET_STRING)
            .expect("SignerInfo has a signature")
            .bytes_mut()
    }

    /// The first value of the signed attribute `oid` of the first SignerInfo.
    pub fn signed_attribute<'a>(ci: &'a mut Node, oid: &[u8]) -> &'a mut Node {
        let attrs = signer_info(ci)
            .children_mut()
            .iter_mut()
            .find(|n| n.tag == 0xA0)
            .expect("SignerInfo has signed attributes");
        let attr = attrs
            .children_mut()
            .iter_mut()
            .find(|a| a.children()[0].tag == OID && a.children()[0].bytes() == oid)
            .expect("signed attribute present");
        &mut attr.children_mut()[1].children_mut()[0]
    }

    /// The encapsulated content (eContent OCTET STRING contents), if present.
    pub fn econtent(ci: &mut Node) -> Option<&mut Vec<u8>> {
        let sd = body(ci);
        let encap = sd
            .children_mut()
            .iter_mut()
            .find(|n| n.tag == SEQUENCE)
            .expect("SignedData has encapContentInfo");
        let explicit = encap.children_mut().get_mut(1)?;
        Some(explicit.children_mut()[0].bytes_mut())
    }

    /// The `certificates` field (`[0] IMPLICIT SET OF`), if present.
    pub fn certificates(ci: &mut Node) -> Option<&mut Vec<Node>> {
        let sd = body(ci);
        sd.children_mut()
            .iter_mut()
            .find(|n| n.tag == 0xA0)
            .map(|n| n.children_mut())
    }

    /// The signer identifier of the first SignerInfo.
    pub fn sid(ci: &mut Node) -> &mut Node {
        &mut signer_info(ci).children_mut()[1]
    }
}

/// `IssuerAndSerialNumber` of a certificate (DER), as a SignerIdentifier node.
pub fn issuer_and_serial(cert_der: &[u8]) -> Node {
    let cert = Node::parse(cert_der);
    let tbs = &cert.children()[0];
    // tbsCertificate: [0] version (optional), serialNumber, signature, issuer, …
    let off = usize::from(tbs.children()[0].tag == 0xA0);
    let serial = tbs.children()[off].clone();
    let issuer = tbs.children()[off + 2].clone();
    Node {
        tag: SEQUENCE,
        value: Value::Children(vec![issuer, serial]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_long_lengths() {
        let inner = Node {
            tag: OCTET_STRING,
            value: Value::Bytes(vec![7; 300]),
        };
        let seq = Node {
            tag: SEQUENCE,
            value: Value::Children(vec![inner.clone(), inner]),
        };
        let der = seq.to_der();
        assert_eq!(&der[..4], &[0x30, 0x82, 0x02, 0x60]);
        assert_eq!(Node::parse(&der), seq);
    }
}
