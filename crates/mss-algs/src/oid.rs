//! Object identifiers used across mss, grouped by the specification that defines them.
//!
//! The constants are spelled out here (rather than re-exported from `const-oid`'s
//! database) so that the whole vocabulary of mss lives in one reviewable place with
//! the names other crates use; the test module cross-checks every constant that the
//! `const-oid` database also has against it, so a typo cannot slip in.

use const_oid::ObjectIdentifier;

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

// ---------------------------------------------------------------------------------
// Digests (RFC 1321 / RFC 3279 / RFC 5754)
// ---------------------------------------------------------------------------------

/// `id-md5` (RFC 1321, RFC 3279).
pub const ID_MD5: ObjectIdentifier = oid("1.2.840.113549.2.5");
/// `id-md2` (RFC 1319, RFC 3279). Historic.
pub const ID_MD2: ObjectIdentifier = oid("1.2.840.113549.2.2");
/// `id-sha1` (RFC 3279).
pub const ID_SHA1: ObjectIdentifier = oid("1.3.14.3.2.26");
/// `id-sha224` (RFC 5754).
pub const ID_SHA224: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.4");
/// `id-sha256` (RFC 5754).
pub const ID_SHA256: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.1");
/// `id-sha384` (RFC 5754).
pub const ID_SHA384: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.2");
/// `id-sha512` (RFC 5754).
pub const ID_SHA512: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.3");

// ---------------------------------------------------------------------------------
// RSA (RFC 8017 / RFC 4055 / RFC 3560 / RFC 4056)
// ---------------------------------------------------------------------------------

/// `rsaEncryption` (RFC 8017): RSA public keys, and RSAES-PKCS1-v1_5 key transport.
pub const RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.1");
/// `md2WithRSAEncryption` (RFC 8017).
pub const MD2_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.2");
/// `md5WithRSAEncryption` (RFC 8017).
pub const MD5_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.4");
/// `sha1WithRSAEncryption` (RFC 8017).
pub const SHA1_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.5");
/// `sha224WithRSAEncryption` (RFC 4055).
pub const SHA224_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.14");
/// `sha256WithRSAEncryption` (RFC 4055).
pub const SHA256_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption` (RFC 4055).
pub const SHA384_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption` (RFC 4055).
pub const SHA512_WITH_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.13");
/// `id-RSASSA-PSS` (RFC 4055).
pub const ID_RSASSA_PSS: ObjectIdentifier = oid("1.2.840.113549.1.1.10");
/// `id-mgf1` (RFC 4055).
pub const ID_MGF1: ObjectIdentifier = oid("1.2.840.113549.1.1.8");
/// `id-RSAES-OAEP` (RFC 4055, RFC 3560).
pub const ID_RSAES_OAEP: ObjectIdentifier = oid("1.2.840.113549.1.1.7");
/// `id-pSpecified` (RFC 4055): the OAEP label source.
pub const ID_P_SPECIFIED: ObjectIdentifier = oid("1.2.840.113549.1.1.9");

// ---------------------------------------------------------------------------------
// Content encryption (RFC 3565 / RFC 5084 / RFC 3370)
// ---------------------------------------------------------------------------------

/// `id-aes128-CBC` (RFC 3565).
pub const ID_AES128_CBC: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.2");
/// `id-aes192-CBC` (RFC 3565).
pub const ID_AES192_CBC: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.22");
/// `id-aes256-CBC` (RFC 3565).
pub const ID_AES256_CBC: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.42");
/// `id-aes128-GCM` (RFC 5084).
pub const ID_AES128_GCM: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.6");
/// `id-aes192-GCM` (RFC 5084).
pub const ID_AES192_GCM: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.26");
/// `id-aes256-GCM` (RFC 5084).
pub const ID_AES256_GCM: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.46");
/// `des-ede3-cbc` (RFC 3370).
pub const DES_EDE3_CBC: ObjectIdentifier = oid("1.2.840.113549.3.7");

/// `desCBC` (RFC 3370 §5.1 note, OIW): single DES in CBC mode. Historic.
pub const DES_CBC: ObjectIdentifier = oid("1.3.14.3.2.7");
/// `rc2-cbc` (RFC 3370 §5.2, RFC 2268). Historic.
pub const RC2_CBC: ObjectIdentifier = oid("1.2.840.113549.3.2");
/// `rc4` (RSA Data Security, as OpenSSL writes it). Historic.
pub const RC4: ObjectIdentifier = oid("1.2.840.113549.3.4");

// ---------------------------------------------------------------------------------
// Key wrap (RFC 3394 / RFC 3565 / RFC 3217 / RFC 3370)
// ---------------------------------------------------------------------------------

/// `id-aes128-wrap` (RFC 3394, RFC 3565).
pub const ID_AES128_WRAP: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.5");
/// `id-aes192-wrap` (RFC 3394, RFC 3565).
pub const ID_AES192_WRAP: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.25");
/// `id-aes256-wrap` (RFC 3394, RFC 3565).
pub const ID_AES256_WRAP: ObjectIdentifier = oid("2.16.840.1.101.3.4.1.45");
/// `id-alg-CMS3DESwrap` (RFC 3217 §3, RFC 3370 §4.3.1).
pub const ID_ALG_CMS3DES_WRAP: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.6");
/// `id-alg-CMSRC2wrap` (RFC 3217 §4, RFC 3370 §4.3.2).
pub const ID_ALG_CMSRC2_WRAP: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.7");

// ---------------------------------------------------------------------------------
// DSA, elliptic curves, EdDSA (RFC 3279 / RFC 5480 / RFC 5758 / RFC 8410)
// ---------------------------------------------------------------------------------

/// `id-dsa` (RFC 3279 §2.3.2): DSA public keys (and, in old CMS, the signature OID).
pub const ID_DSA: ObjectIdentifier = oid("1.2.840.10040.4.1");
/// `id-dsa-with-sha1` (RFC 3279 §2.2.2).
pub const ID_DSA_WITH_SHA1: ObjectIdentifier = oid("1.2.840.10040.4.3");
/// `id-dsa-with-sha224` (RFC 5758 §3.1).
pub const ID_DSA_WITH_SHA224: ObjectIdentifier = oid("2.16.840.1.101.3.4.3.1");
/// `id-dsa-with-sha256` (RFC 5758 §3.1).
pub const ID_DSA_WITH_SHA256: ObjectIdentifier = oid("2.16.840.1.101.3.4.3.2");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = oid("1.2.840.10045.2.1");
/// `secp256r1` / P-256 (RFC 5480 §2.1.1.1).
pub const SECP256R1: ObjectIdentifier = oid("1.2.840.10045.3.1.7");
/// `secp384r1` / P-384 (RFC 5480 §2.1.1.1).
pub const SECP384R1: ObjectIdentifier = oid("1.3.132.0.34");
/// `ecdsa-with-SHA1` (RFC 3279 §2.2.3).
pub const ECDSA_WITH_SHA1: ObjectIdentifier = oid("1.2.840.10045.4.1");
/// `ecdsa-with-SHA224` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA224: ObjectIdentifier = oid("1.2.840.10045.4.3.1");
/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = oid("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = oid("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA512: ObjectIdentifier = oid("1.2.840.10045.4.3.4");
/// `id-X25519` (RFC 8410 §3).
pub const ID_X25519: ObjectIdentifier = oid("1.3.101.110");
/// `id-Ed25519` (RFC 8410 §3, RFC 8419 for CMS).
pub const ID_ED25519: ObjectIdentifier = oid("1.3.101.112");

// ---------------------------------------------------------------------------------
// Key agreement (RFC 2631 / RFC 3370 / RFC 5753 / RFC 8418)
// ---------------------------------------------------------------------------------

/// `dhpublicnumber` (ANSI X9.42, RFC 3279 §2.3.3): Diffie-Hellman public keys.
pub const DH_PUBLIC_NUMBER: ObjectIdentifier = oid("1.2.840.10046.2.1");
/// `id-alg-ESDH` (RFC 3370 §4.1.1): ephemeral-static Diffie-Hellman.
pub const ID_ALG_ESDH: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.5");
/// `dhSinglePass-stdDH-sha1kdf-scheme` (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA1KDF: ObjectIdentifier = oid("1.3.133.16.840.63.0.2");
/// `dhSinglePass-stdDH-sha224kdf-scheme` (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA224KDF: ObjectIdentifier = oid("1.3.132.1.11.0");
/// `dhSinglePass-stdDH-sha256kdf-scheme` (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA256KDF: ObjectIdentifier = oid("1.3.132.1.11.1");
/// `dhSinglePass-stdDH-sha384kdf-scheme` (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA384KDF: ObjectIdentifier = oid("1.3.132.1.11.2");
/// `dhSinglePass-stdDH-sha512kdf-scheme` (RFC 5753 §7.1.4).
pub const DH_SINGLE_PASS_STD_DH_SHA512KDF: ObjectIdentifier = oid("1.3.132.1.11.3");
/// `dhSinglePass-stdDH-hkdf-sha256-scheme` (RFC 8418 §2).
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA256: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.19");
/// `dhSinglePass-stdDH-hkdf-sha384-scheme` (RFC 8418 §2).
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA384: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.20");
/// `dhSinglePass-stdDH-hkdf-sha512-scheme` (RFC 8418 §2).
pub const DH_SINGLE_PASS_STD_DH_HKDF_SHA512: ObjectIdentifier = oid("1.2.840.113549.1.9.16.3.21");

// ---------------------------------------------------------------------------------
// CMS content types (RFC 5652 / RFC 5083)
// ---------------------------------------------------------------------------------

/// `id-data` (RFC 5652).
pub const ID_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.1");
/// `id-signedData` (RFC 5652).
pub const ID_SIGNED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.2");
/// `id-envelopedData` (RFC 5652).
pub const ID_ENVELOPED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.3");
/// `id-digestedData` (RFC 5652).
pub const ID_DIGESTED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.5");
/// `id-encryptedData` (RFC 5652).
pub const ID_ENCRYPTED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.6");
/// `id-ct-authEnvelopedData` (RFC 5083).
pub const ID_CT_AUTH_ENVELOPED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.9.16.1.23");

// ---------------------------------------------------------------------------------
// Attributes (PKCS #9 / RFC 2985, RFC 5652, RFC 8551, RFC 2634, RFC 5035)
// ---------------------------------------------------------------------------------

/// `emailAddress` (PKCS #9, RFC 2985): legacy e-mail attribute in subject names.
pub const EMAIL_ADDRESS: ObjectIdentifier = oid("1.2.840.113549.1.9.1");
/// `id-contentType` (RFC 5652 §11.1).
pub const ID_CONTENT_TYPE: ObjectIdentifier = oid("1.2.840.113549.1.9.3");
/// `id-messageDigest` (RFC 5652 §11.2).
pub const ID_MESSAGE_DIGEST: ObjectIdentifier = oid("1.2.840.113549.1.9.4");
/// `id-signingTime` (RFC 5652 §11.3).
pub const ID_SIGNING_TIME: ObjectIdentifier = oid("1.2.840.113549.1.9.5");
/// `smimeCapabilities` (RFC 8551 §2.5.2).
pub const SMIME_CAPABILITIES: ObjectIdentifier = oid("1.2.840.113549.1.9.15");
/// `id-aa-signingCertificate` (RFC 2634 §5.4, ESS, SHA-1 based).
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier = oid("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` (RFC 5035).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier = oid("1.2.840.113549.1.9.16.2.47");

// ---------------------------------------------------------------------------------
// X.509 extensions and key purposes (RFC 5280)
// ---------------------------------------------------------------------------------

/// `id-ce-subjectKeyIdentifier` (RFC 5280 §4.2.1.2).
pub const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.14");
/// `id-ce-keyUsage` (RFC 5280 §4.2.1.3).
pub const ID_CE_KEY_USAGE: ObjectIdentifier = oid("2.5.29.15");
/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6).
pub const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = oid("2.5.29.17");
/// `id-ce-basicConstraints` (RFC 5280 §4.2.1.9).
pub const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = oid("2.5.29.19");
/// `id-ce-authorityKeyIdentifier` (RFC 5280 §4.2.1.1).
pub const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.35");
/// `id-ce-extKeyUsage` (RFC 5280 §4.2.1.12).
pub const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = oid("2.5.29.37");
/// `anyExtendedKeyUsage` (RFC 5280 §4.2.1.12).
pub const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = oid("2.5.29.37.0");
/// `id-kp-emailProtection` (RFC 5280 §4.2.1.12).
pub const ID_KP_EMAIL_PROTECTION: ObjectIdentifier = oid("1.3.6.1.5.5.7.3.4");

#[cfg(test)]
mod tests {
    use super::*;
    use const_oid::db::{rfc2985, rfc5280, rfc5911, rfc5912, rfc8410};

    #[test]
    fn constants_agree_with_const_oid_database() {
        let pairs = [
            (ID_MD5, rfc5912::ID_MD_5),
            (ID_MD2, rfc5912::ID_MD_2),
            (MD2_WITH_RSA_ENCRYPTION, rfc5912::MD_2_WITH_RSA_ENCRYPTION),
            (ID_DSA, rfc5912::ID_DSA),
            (ID_DSA_WITH_SHA1, rfc5912::DSA_WITH_SHA_1),
            (ID_DSA_WITH_SHA224, rfc5912::DSA_WITH_SHA_224),
            (ID_DSA_WITH_SHA256, rfc5912::DSA_WITH_SHA_256),
            (ID_X25519, rfc8410::ID_X_25519),
            (ID_ED25519, rfc8410::ID_ED_25519),
            (ID_EC_PUBLIC_KEY, rfc5912::ID_EC_PUBLIC_KEY),
            (SECP256R1, rfc5912::SECP_256_R_1),
            (SECP384R1, rfc5912::SECP_384_R_1),
            (ECDSA_WITH_SHA256, rfc5912::ECDSA_WITH_SHA_256),
            (ECDSA_WITH_SHA384, rfc5912::ECDSA_WITH_SHA_384),
            (ECDSA_WITH_SHA512, rfc5912::ECDSA_WITH_SHA_512),
            (DH_PUBLIC_NUMBER, rfc5912::DHPUBLICNUMBER),
            (ID_ALG_ESDH, rfc5911::ID_ALG_ESDH),
            (ID_ALG_CMS3DES_WRAP, rfc5911::ID_ALG_CMS_3_DE_SWRAP),
            (ID_ALG_CMSRC2_WRAP, rfc5911::ID_ALG_CMSRC_2_WRAP),
            (ID_AES128_WRAP, rfc5911::ID_AES_128_WRAP),
            (ID_AES192_WRAP, rfc5911::ID_AES_192_WRAP),
            (ID_AES256_WRAP, rfc5911::ID_AES_256_WRAP),
            (RC2_CBC, rfc5911::RC_2_CBC),
            (ID_SHA1, rfc5912::ID_SHA_1),
            (ID_SHA224, rfc5912::ID_SHA_224),
            (ID_SHA256, rfc5912::ID_SHA_256),
            (ID_SHA384, rfc5912::ID_SHA_384),
            (ID_SHA512, rfc5912::ID_SHA_512),
            (RSA_ENCRYPTION, rfc5912::RSA_ENCRYPTION),
            (MD5_WITH_RSA_ENCRYPTION, rfc5912::MD_5_WITH_RSA_ENCRYPTION),
            (SHA1_WITH_RSA_ENCRYPTION, rfc5912::SHA_1_WITH_RSA_ENCRYPTION),
            (
                SHA224_WITH_RSA_ENCRYPTION,
                rfc5912::SHA_224_WITH_RSA_ENCRYPTION,
            ),
            (
                SHA256_WITH_RSA_ENCRYPTION,
                rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            ),
            (
                SHA384_WITH_RSA_ENCRYPTION,
                rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
            ),
            (
                SHA512_WITH_RSA_ENCRYPTION,
                rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
            ),
            (ID_RSASSA_PSS, rfc5912::ID_RSASSA_PSS),
            (ID_MGF1, rfc5912::ID_MGF_1),
            (ID_RSAES_OAEP, rfc5912::ID_RSAES_OAEP),
            (ID_P_SPECIFIED, rfc5912::ID_P_SPECIFIED),
            (ID_AES128_CBC, rfc5911::ID_AES_128_CBC),
            (ID_AES192_CBC, rfc5911::ID_AES_192_CBC),
            (ID_AES256_CBC, rfc5911::ID_AES_256_CBC),
            (ID_AES128_GCM, rfc5911::ID_AES_128_GCM),
            (ID_AES192_GCM, rfc5911::ID_AES_192_GCM),
            (ID_AES256_GCM, rfc5911::ID_AES_256_GCM),
            (DES_EDE3_CBC, rfc5911::DES_EDE_3_CBC),
            (ID_DATA, rfc5911::ID_DATA),
            (ID_SIGNED_DATA, rfc5911::ID_SIGNED_DATA),
            (ID_ENVELOPED_DATA, rfc5911::ID_ENVELOPED_DATA),
            (ID_DIGESTED_DATA, rfc5911::ID_DIGESTED_DATA),
            (ID_ENCRYPTED_DATA, rfc5911::ID_ENCRYPTED_DATA),
            (
                ID_CT_AUTH_ENVELOPED_DATA,
                rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
            ),
            (ID_CONTENT_TYPE, rfc5911::ID_CONTENT_TYPE),
            (ID_MESSAGE_DIGEST, rfc5911::ID_MESSAGE_DIGEST),
            (ID_SIGNING_TIME, rfc5911::ID_SIGNING_TIME),
            (SMIME_CAPABILITIES, rfc5911::SMIME_CAPABILITIES),
            (
                ID_AA_SIGNING_CERTIFICATE_V2,
                rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
            ),
            (
                ID_AA_SIGNING_CERTIFICATE,
                rfc5911::ID_AA_SIGNING_CERTIFICATE,
            ),
            (EMAIL_ADDRESS, rfc2985::PKCS_9_AT_EMAIL_ADDRESS),
            (ID_KP_EMAIL_PROTECTION, rfc5280::ID_KP_EMAIL_PROTECTION),
            (ID_CE_BASIC_CONSTRAINTS, rfc5280::ID_CE_BASIC_CONSTRAINTS),
            (ID_CE_KEY_USAGE, rfc5280::ID_CE_KEY_USAGE),
            (ID_CE_EXT_KEY_USAGE, rfc5280::ID_CE_EXT_KEY_USAGE),
            (ID_CE_SUBJECT_ALT_NAME, rfc5280::ID_CE_SUBJECT_ALT_NAME),
            (
                ID_CE_SUBJECT_KEY_IDENTIFIER,
                rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER,
            ),
            (
                ID_CE_AUTHORITY_KEY_IDENTIFIER,
                rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER,
            ),
            (ANY_EXTENDED_KEY_USAGE, rfc5280::ANY_EXTENDED_KEY_USAGE),
        ];
        for (ours, db) in pairs {
            assert_eq!(ours, db);
        }
    }
}
