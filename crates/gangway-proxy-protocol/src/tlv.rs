//! Version 2 TLVs (type-length-value extensions).

use core::fmt;

/// Registered TLV type numbers (`PP2_TYPE_*`, `PP2_SUBTYPE_SSL_*`).
pub mod kind {
    /// `PP2_TYPE_ALPN`: the negotiated application protocol.
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (TLS SNI).
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: checksum of the whole header.
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding, ignored.
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: opaque connection id, at most 128 bytes.
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: TLS information with sub-TLVs.
    pub const SSL: u8 = 0x20;
    /// `PP2_SUBTYPE_SSL_VERSION`: TLS version text, e.g. `TLSv1.3`.
    pub const SSL_VERSION: u8 = 0x21;
    /// `PP2_SUBTYPE_SSL_CN`: the client certificate's Common Name.
    pub const SSL_CN: u8 = 0x22;
    /// `PP2_SUBTYPE_SSL_CIPHER`: cipher name.
    pub const SSL_CIPHER: u8 = 0x23;
    /// `PP2_SUBTYPE_SSL_SIG_ALG`: signature algorithm of the frontend certificate.
    pub const SSL_SIG_ALG: u8 = 0x24;
    /// `PP2_SUBTYPE_SSL_KEY_ALG`: key algorithm of the frontend certificate.
    pub const SSL_KEY_ALG: u8 = 0x25;
    /// `PP2_TYPE_NETNS`: network namespace name.
    pub const NETNS: u8 = 0x30;
    /// First type of the application-specific range (`PP2_TYPE_MIN_CUSTOM`).
    pub const MIN_CUSTOM: u8 = 0xE0;
    /// Last type of the application-specific range (`PP2_TYPE_MAX_CUSTOM`).
    pub const MAX_CUSTOM: u8 = 0xEF;
}

/// Maximum length of a `PP2_TYPE_UNIQUE_ID` value.
pub const UNIQUE_ID_MAX_LEN: usize = 128;

/// `PP2_CLIENT_SSL`: the client connected over TLS.
pub const CLIENT_SSL: u8 = 0x01;
/// `PP2_CLIENT_CERT_CONN`: the client sent a certificate on this connection.
pub const CLIENT_CERT_CONN: u8 = 0x02;
/// `PP2_CLIENT_CERT_SESS`: the client sent a certificate at least once in this TLS session.
pub const CLIENT_CERT_SESS: u8 = 0x04;

/// One TLV of a version 2 header.
///
/// Decoding yields these from [`Tlvs`]; encoding takes them in
/// [`V2Encoder::push`](crate::V2Encoder::push).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tlv<'a> {
    /// `PP2_TYPE_ALPN`: e.g. `b"h2"` or `b"http/1.1"`.
    Alpn(&'a [u8]),
    /// `PP2_TYPE_AUTHORITY`: the host name (TLS SNI), UTF-8.
    Authority(&'a str),
    /// `PP2_TYPE_CRC32C`: the checksum carried by the header (already verified when decoded).
    /// When encoding, the value given is ignored and the right checksum is computed.
    Crc32c(u32),
    /// `PP2_TYPE_NOOP`: padding bytes.
    Noop(&'a [u8]),
    /// `PP2_TYPE_UNIQUE_ID`: opaque id of at most 128 bytes.
    UniqueId(&'a [u8]),
    /// `PP2_TYPE_SSL`: TLS details.
    Ssl(Ssl<'a>),
    /// `PP2_TYPE_NETNS`: network namespace name.
    Netns(&'a str),
    /// A type in the application-specific range `0xE0..=0xEF` (e.g. AWS VPC endpoint id
    /// `0xEA`), kept raw.
    Custom {
        /// The type, `0xE0..=0xEF`.
        kind: u8,
        /// The raw value.
        value: &'a [u8],
    },
    /// Any other type this crate does not interpret (unassigned, experimental `0xF0..=0xF7`,
    /// future `0xF8..=0xFF`), kept raw.
    Other {
        /// The type.
        kind: u8,
        /// The raw value.
        value: &'a [u8],
    },
}

impl<'a> Tlv<'a> {
    /// The TLV's type number.
    pub fn kind(&self) -> u8 {
        match self {
            Tlv::Alpn(_) => kind::ALPN,
            Tlv::Authority(_) => kind::AUTHORITY,
            Tlv::Crc32c(_) => kind::CRC32C,
            Tlv::Noop(_) => kind::NOOP,
            Tlv::UniqueId(_) => kind::UNIQUE_ID,
            Tlv::Ssl(_) => kind::SSL,
            Tlv::Netns(_) => kind::NETNS,
            Tlv::Custom { kind, .. } | Tlv::Other { kind, .. } => *kind,
        }
    }

    /// The TLV from its type and a value already validated by [`validate_tlv`].
    fn from_validated(kind: u8, value: &'a [u8]) -> Self {
        let text = || core::str::from_utf8(value).ok();
        match kind {
            kind::ALPN => Tlv::Alpn(value),
            kind::AUTHORITY => text().map_or(Tlv::Other { kind, value }, Tlv::Authority),
            kind::CRC32C => match <[u8; 4]>::try_from(value) {
                Ok(bytes) => Tlv::Crc32c(u32::from_be_bytes(bytes)),
                Err(_) => Tlv::Other { kind, value },
            },
            kind::NOOP => Tlv::Noop(value),
            kind::UNIQUE_ID => Tlv::UniqueId(value),
            kind::SSL => match Ssl::from_validated(value) {
                Some(ssl) => Tlv::Ssl(ssl),
                None => Tlv::Other { kind, value },
            },
            kind::NETNS => text().map_or(Tlv::Other { kind, value }, Tlv::Netns),
            kind::MIN_CUSTOM..=kind::MAX_CUSTOM => Tlv::Custom { kind, value },
            _ => Tlv::Other { kind, value },
        }
    }
}

/// The TLV area of a version 2 header: validated bytes, iterated as [`Tlv`]s.
///
/// ```
/// # use gangway_proxy_protocol::{decode, Status, Tlv};
/// # let mut bytes = Vec::new();
/// # let addrs = gangway_proxy_protocol::Addresses::from_pair("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:443".parse().unwrap());
/// # let mut enc = gangway_proxy_protocol::V2Encoder::new(&mut bytes, gangway_proxy_protocol::Command::Proxy, gangway_proxy_protocol::Transport::Stream, &addrs).unwrap();
/// # enc.push(Tlv::Authority("example.com")).unwrap();
/// # enc.finish().unwrap();
/// let Status::Complete((header, _)) = decode(&bytes)? else { panic!() };
/// assert_eq!(header.tlvs().authority(), Some("example.com"));
/// for tlv in header.tlvs() {
///     if let Tlv::Authority(host) = tlv { assert_eq!(host, "example.com") }
/// }
/// # Ok::<(), gangway_proxy_protocol::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Tlvs<'a> {
    bytes: &'a [u8],
}

impl<'a> Tlvs<'a> {
    /// Wraps bytes that [`validate_tlvs`] accepted.
    pub(crate) const fn validated(bytes: &'a [u8]) -> Self {
        Tlvs { bytes }
    }

    /// The raw TLV bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether there are no TLVs.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Iterate the TLVs in wire order.
    pub fn iter(&self) -> TlvIter<'a> {
        TlvIter { rest: self.bytes }
    }

    /// The first TLV of raw type `kind`, with its raw value.
    pub fn get(&self, kind: u8) -> Option<&'a [u8]> {
        RawIter { rest: self.bytes }
            .find(|&(k, _)| k == kind)
            .map(|(_, v)| v)
    }

    /// The ALPN value, if present.
    pub fn alpn(&self) -> Option<&'a [u8]> {
        self.get(kind::ALPN)
    }

    /// The authority (SNI), if present.
    pub fn authority(&self) -> Option<&'a str> {
        self.iter().find_map(|t| match t {
            Tlv::Authority(a) => Some(a),
            _ => None,
        })
    }

    /// The (verified) CRC32C checksum, if present.
    pub fn crc32c(&self) -> Option<u32> {
        self.iter().find_map(|t| match t {
            Tlv::Crc32c(c) => Some(c),
            _ => None,
        })
    }

    /// The unique connection id, if present.
    pub fn unique_id(&self) -> Option<&'a [u8]> {
        self.get(kind::UNIQUE_ID)
    }

    /// The SSL information, if present.
    pub fn ssl(&self) -> Option<Ssl<'a>> {
        self.iter().find_map(|t| match t {
            Tlv::Ssl(s) => Some(s),
            _ => None,
        })
    }

    /// The network namespace, if present.
    pub fn netns(&self) -> Option<&'a str> {
        self.iter().find_map(|t| match t {
            Tlv::Netns(n) => Some(n),
            _ => None,
        })
    }
}

impl fmt::Debug for Tlvs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Tlvs<'a> {
    type Item = Tlv<'a>;
    type IntoIter = TlvIter<'a>;
    fn into_iter(self) -> TlvIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Tlvs<'a> {
    type Item = Tlv<'a>;
    type IntoIter = TlvIter<'a>;
    fn into_iter(self) -> TlvIter<'a> {
        self.iter()
    }
}

/// Splits raw `type, length, value` records; stops at the first incomplete one.
#[derive(Clone, Debug)]
struct RawIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RawIter<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (kind, len, rest) = split_tlv(self.rest)?;
        let (value, rest) = rest.split_at_checked(len)?;
        self.rest = rest;
        Some((kind, value))
    }
}

fn split_tlv(bytes: &[u8]) -> Option<(u8, usize, &[u8])> {
    match bytes {
        [kind, hi, lo, rest @ ..] => {
            Some((*kind, usize::from(u16::from_be_bytes([*hi, *lo])), rest))
        }
        _ => None,
    }
}

/// Iterator over the [`Tlv`]s of a header.
#[derive(Clone, Debug)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        let mut raw = RawIter { rest: self.rest };
        let (kind, value) = raw.next()?;
        self.rest = raw.rest;
        Some(Tlv::from_validated(kind, value))
    }
}

/// The value of a `PP2_TYPE_SSL` TLV: client flags, verify result and sub-TLVs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ssl<'a> {
    client: u8,
    verify: u32,
    sub_tlvs: &'a [u8],
}

impl<'a> Ssl<'a> {
    fn from_validated(value: &'a [u8]) -> Option<Self> {
        match value {
            [client, v0, v1, v2, v3, sub_tlvs @ ..] => Some(Ssl {
                client: *client,
                verify: u32::from_be_bytes([*v0, *v1, *v2, *v3]),
                sub_tlvs,
            }),
            _ => None,
        }
    }

    /// The `client` bit field ([`CLIENT_SSL`], [`CLIENT_CERT_CONN`], [`CLIENT_CERT_SESS`]).
    pub const fn client(&self) -> u8 {
        self.client
    }

    /// The `verify` field: zero when the client presented a certificate that verified.
    pub const fn verify(&self) -> u32 {
        self.verify
    }

    /// The client connected over TLS (`PP2_CLIENT_SSL`).
    pub const fn client_ssl(&self) -> bool {
        self.client & CLIENT_SSL != 0
    }

    /// The client sent a certificate on this connection (`PP2_CLIENT_CERT_CONN`).
    pub const fn client_cert_conn(&self) -> bool {
        self.client & CLIENT_CERT_CONN != 0
    }

    /// The client sent a certificate in this TLS session (`PP2_CLIENT_CERT_SESS`).
    pub const fn client_cert_sess(&self) -> bool {
        self.client & CLIENT_CERT_SESS != 0
    }

    /// A client certificate was presented (on the connection or the session) and verified.
    pub const fn client_cert_verified(&self) -> bool {
        self.client & (CLIENT_CERT_CONN | CLIENT_CERT_SESS) != 0 && self.verify == 0
    }

    /// The raw sub-TLV bytes.
    pub const fn sub_tlv_bytes(&self) -> &'a [u8] {
        self.sub_tlvs
    }

    /// Iterate the sub-TLVs.
    pub fn iter(&self) -> SslTlvIter<'a> {
        SslTlvIter {
            raw: RawIter {
                rest: self.sub_tlvs,
            },
        }
    }

    fn find_text(&self, wanted: u8) -> Option<&'a str> {
        RawIter {
            rest: self.sub_tlvs,
        }
        .find(|&(k, _)| k == wanted)
        .and_then(|(_, v)| core::str::from_utf8(v).ok())
    }

    /// The TLS version (`PP2_SUBTYPE_SSL_VERSION`), e.g. `TLSv1.3`.
    pub fn version(&self) -> Option<&'a str> {
        self.find_text(kind::SSL_VERSION)
    }

    /// The client certificate's Common Name (`PP2_SUBTYPE_SSL_CN`).
    pub fn common_name(&self) -> Option<&'a str> {
        self.find_text(kind::SSL_CN)
    }

    /// The cipher (`PP2_SUBTYPE_SSL_CIPHER`).
    pub fn cipher(&self) -> Option<&'a str> {
        self.find_text(kind::SSL_CIPHER)
    }

    /// The frontend certificate's signature algorithm (`PP2_SUBTYPE_SSL_SIG_ALG`).
    pub fn sig_alg(&self) -> Option<&'a str> {
        self.find_text(kind::SSL_SIG_ALG)
    }

    /// The frontend certificate's key algorithm (`PP2_SUBTYPE_SSL_KEY_ALG`).
    pub fn key_alg(&self) -> Option<&'a str> {
        self.find_text(kind::SSL_KEY_ALG)
    }
}

impl fmt::Debug for Ssl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ssl")
            .field("client", &self.client)
            .field("verify", &self.verify)
            .field("sub_tlvs", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> IntoIterator for Ssl<'a> {
    type Item = SslTlv<'a>;
    type IntoIter = SslTlvIter<'a>;
    fn into_iter(self) -> SslTlvIter<'a> {
        self.iter()
    }
}

/// A sub-TLV of `PP2_TYPE_SSL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslTlv<'a> {
    /// `PP2_SUBTYPE_SSL_VERSION`.
    Version(&'a str),
    /// `PP2_SUBTYPE_SSL_CN`.
    CommonName(&'a str),
    /// `PP2_SUBTYPE_SSL_CIPHER`.
    Cipher(&'a str),
    /// `PP2_SUBTYPE_SSL_SIG_ALG`.
    SigAlg(&'a str),
    /// `PP2_SUBTYPE_SSL_KEY_ALG`.
    KeyAlg(&'a str),
    /// Any other sub-type, kept raw.
    Other {
        /// The sub-type.
        kind: u8,
        /// The raw value.
        value: &'a [u8],
    },
}

impl<'a> SslTlv<'a> {
    /// The sub-TLV's type number.
    pub fn kind(&self) -> u8 {
        match self {
            SslTlv::Version(_) => kind::SSL_VERSION,
            SslTlv::CommonName(_) => kind::SSL_CN,
            SslTlv::Cipher(_) => kind::SSL_CIPHER,
            SslTlv::SigAlg(_) => kind::SSL_SIG_ALG,
            SslTlv::KeyAlg(_) => kind::SSL_KEY_ALG,
            SslTlv::Other { kind, .. } => *kind,
        }
    }

    /// The raw value bytes.
    pub fn value(&self) -> &'a [u8] {
        match self {
            SslTlv::Version(s)
            | SslTlv::CommonName(s)
            | SslTlv::Cipher(s)
            | SslTlv::SigAlg(s)
            | SslTlv::KeyAlg(s) => s.as_bytes(),
            SslTlv::Other { value, .. } => value,
        }
    }

    fn from_validated(kind: u8, value: &'a [u8]) -> Self {
        let Some(text) = is_text_ssl_kind(kind)
            .then(|| core::str::from_utf8(value).ok())
            .flatten()
        else {
            return SslTlv::Other { kind, value };
        };
        match kind {
            kind::SSL_VERSION => SslTlv::Version(text),
            kind::SSL_CN => SslTlv::CommonName(text),
            kind::SSL_CIPHER => SslTlv::Cipher(text),
            kind::SSL_SIG_ALG => SslTlv::SigAlg(text),
            _ => SslTlv::KeyAlg(text),
        }
    }
}

/// Iterator over the sub-TLVs of an [`Ssl`] TLV.
#[derive(Clone, Debug)]
pub struct SslTlvIter<'a> {
    raw: RawIter<'a>,
}

impl<'a> Iterator for SslTlvIter<'a> {
    type Item = SslTlv<'a>;
    fn next(&mut self) -> Option<SslTlv<'a>> {
        let (kind, value) = self.raw.next()?;
        Some(SslTlv::from_validated(kind, value))
    }
}

fn is_text_ssl_kind(kind: u8) -> bool {
    matches!(
        kind,
        kind::SSL_VERSION | kind::SSL_CN | kind::SSL_CIPHER | kind::SSL_SIG_ALG | kind::SSL_KEY_ALG
    )
}

/// What validation learned about the TLV area.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TlvSummary {
    /// Offset (from the header start) of the CRC32C TLV's 4-byte value and the value itself.
    pub(crate) crc32c: Option<(usize, u32)>,
}

/// Validate the TLV area `bytes` found at `base` bytes from the header start.
pub(crate) fn validate_tlvs(bytes: &[u8], base: usize) -> Result<TlvSummary, crate::Error> {
    use crate::Error;
    let mut summary = TlvSummary::default();
    let mut pos = 0;
    while pos < bytes.len() {
        let offset = base + pos;
        let rest = &bytes[pos..];
        let Some((kind, len, after_head)) = split_tlv(rest) else {
            return Err(Error::V2TlvTruncated { offset });
        };
        let Some(value) = after_head.get(..len) else {
            return Err(Error::V2TlvTruncated { offset });
        };
        match kind {
            kind::CRC32C => {
                let Ok(value) = <[u8; 4]>::try_from(value) else {
                    return Err(Error::V2Crc32cLength {
                        offset,
                        length: len,
                    });
                };
                if summary.crc32c.is_some() {
                    return Err(Error::V2DuplicateCrc32c { offset });
                }
                summary.crc32c = Some((offset + 3, u32::from_be_bytes(value)));
            }
            kind::UNIQUE_ID if len > UNIQUE_ID_MAX_LEN => {
                return Err(Error::V2UniqueIdTooLong {
                    offset,
                    length: len,
                });
            }
            kind::AUTHORITY | kind::NETNS if core::str::from_utf8(value).is_err() => {
                return Err(Error::V2TlvNotUtf8 { kind, offset });
            }
            kind::SSL => validate_ssl(value, offset)?,
            _ => {}
        }
        pos += 3 + len;
    }
    Ok(summary)
}

fn validate_ssl(value: &[u8], offset: usize) -> Result<(), crate::Error> {
    use crate::Error;
    let Some(subs) = value.get(5..) else {
        return Err(Error::V2SslTooShort {
            offset,
            length: value.len(),
        });
    };
    let base = offset + 3 + 5;
    let mut pos = 0;
    while pos < subs.len() {
        let sub_offset = base + pos;
        let Some((kind, len, after_head)) = split_tlv(&subs[pos..]) else {
            return Err(Error::V2SslSubTlvTruncated { offset: sub_offset });
        };
        let Some(sub_value) = after_head.get(..len) else {
            return Err(Error::V2SslSubTlvTruncated { offset: sub_offset });
        };
        if is_text_ssl_kind(kind) && core::str::from_utf8(sub_value).is_err() {
            return Err(Error::V2TlvNotUtf8 {
                kind,
                offset: sub_offset,
            });
        }
        pos += 3 + len;
    }
    Ok(())
}
