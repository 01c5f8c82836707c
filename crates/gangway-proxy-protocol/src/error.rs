//! Decode and encode errors.

use core::fmt;

use crate::header::Family;

/// Which endpoint of the proxied connection a field describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The client side (the connection's source).
    Source,
    /// The proxy side the client connected to (the connection's destination).
    Destination,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Endpoint::Source => "source",
            Endpoint::Destination => "destination",
        }
    }
}

/// A field of a version 1 (text) header, in wire order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum V1Field {
    /// `TCP4`, `TCP6` or `UNKNOWN`.
    Protocol,
    /// The source address.
    SourceAddress,
    /// The destination address.
    DestinationAddress,
    /// The source port.
    SourcePort,
    /// The destination port.
    DestinationPort,
}

impl V1Field {
    fn as_str(self) -> &'static str {
        match self {
            V1Field::Protocol => "protocol",
            V1Field::SourceAddress => "source address",
            V1Field::DestinationAddress => "destination address",
            V1Field::SourcePort => "source port",
            V1Field::DestinationPort => "destination port",
        }
    }
}

/// Why bytes are not a valid PROXY protocol header.
///
/// Every malformed case has its own variant. Offsets count bytes from the first byte of the
/// header. "Not enough bytes yet" is never an error: it is [`Status::Partial`](crate::Status).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The first byte starts neither a version 1 (`PROXY`) nor a version 2 (`\r\n\r\n...`) header.
    NotProxyProtocol {
        /// The first byte received.
        byte: u8,
    },

    /// The bytes diverge from the version 1 prefix `"PROXY "`.
    V1InvalidPrefix {
        /// Offset of the first byte that differs.
        offset: usize,
    },
    /// No CRLF within the first 107 bytes, the longest line version 1 allows.
    V1LineTooLong,
    /// A line feed not preceded by a carriage return.
    V1BareLineFeed {
        /// Offset of the line feed.
        offset: usize,
    },
    /// A carriage return not followed by a line feed.
    V1BareCarriageReturn {
        /// Offset of the carriage return.
        offset: usize,
    },
    /// An empty field: two spaces in a row, or a space right before the CRLF.
    V1EmptyField {
        /// Offset where the empty field starts.
        offset: usize,
    },
    /// The protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    V1UnknownProtocol,
    /// The line ends before this field.
    V1MissingField {
        /// The first missing field.
        field: V1Field,
    },
    /// More fields follow the destination port.
    V1TrailingField {
        /// Offset of the extra field.
        offset: usize,
    },
    /// An address is not a valid address of the announced family (`TCP4`: dotted quad without
    /// leading zeros; `TCP6`: IPv6 text form).
    V1InvalidAddress {
        /// Which address.
        endpoint: Endpoint,
        /// Offset of the address.
        offset: usize,
    },
    /// A port is not a decimal number in 0..=65535 without leading zeros.
    V1InvalidPort {
        /// Which port.
        endpoint: Endpoint,
        /// Offset of the port.
        offset: usize,
    },

    /// The bytes diverge from the 12-byte version 2 signature.
    V2InvalidSignature {
        /// Offset of the first byte that differs.
        offset: usize,
    },
    /// The version nibble of byte 13 is not 2.
    V2UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// The command nibble of byte 13 is neither LOCAL (0) nor PROXY (1).
    V2UnknownCommand {
        /// The command found.
        command: u8,
    },
    /// The address family nibble of byte 14 is not UNSPEC, INET, INET6 or UNIX.
    V2UnknownFamily {
        /// The family found.
        family: u8,
    },
    /// The transport nibble of byte 14 is not UNSPEC, STREAM or DGRAM.
    V2UnknownTransport {
        /// The transport found.
        transport: u8,
    },
    /// Byte 14 combines a known family and transport in a way the spec does not allow
    /// (UNSPEC with a transport, or an address family without one).
    V2InvalidFamilyTransport {
        /// The whole byte 14.
        byte: u8,
    },
    /// The length field is smaller than the address block of the announced family.
    V2AddressBlockTooShort {
        /// The announced family.
        family: Family,
        /// Bytes the family's addresses need.
        needed: usize,
        /// Bytes the length field announces.
        length: usize,
    },
    /// A TLV's 3-byte type/length head or its value runs past the end of the header.
    V2TlvTruncated {
        /// Offset of the TLV.
        offset: usize,
    },
    /// A `PP2_TYPE_CRC32C` TLV whose value is not exactly 4 bytes.
    V2Crc32cLength {
        /// Offset of the TLV.
        offset: usize,
        /// Its value length.
        length: usize,
    },
    /// More than one `PP2_TYPE_CRC32C` TLV.
    V2DuplicateCrc32c {
        /// Offset of the second one.
        offset: usize,
    },
    /// The header's CRC32C checksum does not match its `PP2_TYPE_CRC32C` TLV.
    V2Crc32cMismatch {
        /// The checksum carried in the TLV.
        received: u32,
        /// The checksum computed over the header.
        computed: u32,
    },
    /// A `PP2_TYPE_UNIQUE_ID` TLV longer than 128 bytes.
    V2UniqueIdTooLong {
        /// Offset of the TLV.
        offset: usize,
        /// Its value length.
        length: usize,
    },
    /// A `PP2_TYPE_SSL` TLV shorter than its 5-byte client/verify prefix.
    V2SslTooShort {
        /// Offset of the TLV.
        offset: usize,
        /// Its value length.
        length: usize,
    },
    /// A sub-TLV inside `PP2_TYPE_SSL` runs past the end of the SSL TLV.
    V2SslSubTlvTruncated {
        /// Offset of the sub-TLV.
        offset: usize,
    },
    /// A TLV (or SSL sub-TLV) that carries text is not valid UTF-8.
    V2TlvNotUtf8 {
        /// The TLV type.
        kind: u8,
        /// Offset of the TLV.
        offset: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotProxyProtocol { byte } => write!(
                f,
                "not a PROXY protocol header: first byte 0x{byte:02x} starts neither \"PROXY\" nor the v2 signature"
            ),
            Error::V1InvalidPrefix { offset } => {
                write!(f, "PROXY v1: expected \"PROXY \", byte {offset} differs")
            }
            Error::V1LineTooLong => {
                write!(f, "PROXY v1: no CRLF within the first 107 bytes")
            }
            Error::V1BareLineFeed { offset } => {
                write!(
                    f,
                    "PROXY v1: line feed without carriage return at byte {offset}"
                )
            }
            Error::V1BareCarriageReturn { offset } => write!(
                f,
                "PROXY v1: carriage return not followed by line feed at byte {offset}"
            ),
            Error::V1EmptyField { offset } => write!(
                f,
                "PROXY v1: empty field at byte {offset} (fields are separated by exactly one space)"
            ),
            Error::V1UnknownProtocol => write!(
                f,
                "PROXY v1: protocol at byte 6 is not TCP4, TCP6 or UNKNOWN"
            ),
            Error::V1MissingField { field } => {
                write!(f, "PROXY v1: line ends before the {}", field.as_str())
            }
            Error::V1TrailingField { offset } => write!(
                f,
                "PROXY v1: unexpected field after the destination port at byte {offset}"
            ),
            Error::V1InvalidAddress { endpoint, offset } => write!(
                f,
                "PROXY v1: invalid {} address at byte {offset}",
                endpoint.as_str()
            ),
            Error::V1InvalidPort { endpoint, offset } => write!(
                f,
                "PROXY v1: invalid {} port at byte {offset} (decimal 0-65535, no leading zeros)",
                endpoint.as_str()
            ),
            Error::V2InvalidSignature { offset } => {
                write!(f, "PROXY v2: signature differs at byte {offset}")
            }
            Error::V2UnsupportedVersion { version } => write!(
                f,
                "PROXY v2: version {version} in byte 12, only 2 is defined"
            ),
            Error::V2UnknownCommand { command } => write!(
                f,
                "PROXY v2: unknown command {command} in byte 12 (0 LOCAL, 1 PROXY)"
            ),
            Error::V2UnknownFamily { family } => write!(
                f,
                "PROXY v2: unknown address family {family} in byte 13 (0-3 are defined)"
            ),
            Error::V2UnknownTransport { transport } => write!(
                f,
                "PROXY v2: unknown transport {transport} in byte 13 (0-2 are defined)"
            ),
            Error::V2InvalidFamilyTransport { byte } => write!(
                f,
                "PROXY v2: family/transport byte 0x{byte:02x} is not a valid combination"
            ),
            Error::V2AddressBlockTooShort {
                family,
                needed,
                length,
            } => write!(
                f,
                "PROXY v2: length {length} is shorter than the {needed} address bytes of {family:?}"
            ),
            Error::V2TlvTruncated { offset } => {
                write!(
                    f,
                    "PROXY v2: TLV at byte {offset} runs past the end of the header"
                )
            }
            Error::V2Crc32cLength { offset, length } => write!(
                f,
                "PROXY v2: CRC32C TLV at byte {offset} has {length} value bytes, expected 4"
            ),
            Error::V2DuplicateCrc32c { offset } => {
                write!(f, "PROXY v2: second CRC32C TLV at byte {offset}")
            }
            Error::V2Crc32cMismatch { received, computed } => write!(
                f,
                "PROXY v2: CRC32C mismatch: header carries 0x{received:08x}, computed 0x{computed:08x}"
            ),
            Error::V2UniqueIdTooLong { offset, length } => write!(
                f,
                "PROXY v2: UNIQUE_ID TLV at byte {offset} has {length} bytes, at most 128 allowed"
            ),
            Error::V2SslTooShort { offset, length } => write!(
                f,
                "PROXY v2: SSL TLV at byte {offset} has {length} value bytes, needs at least 5"
            ),
            Error::V2SslSubTlvTruncated { offset } => write!(
                f,
                "PROXY v2: SSL sub-TLV at byte {offset} runs past the end of the SSL TLV"
            ),
            Error::V2TlvNotUtf8 { kind, offset } => write!(
                f,
                "PROXY v2: TLV type 0x{kind:02x} at byte {offset} is not valid UTF-8"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Why a header could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// Version 1 carries only TCP over IPv4/IPv6 (or `UNKNOWN`): UNIX addresses cannot be sent.
    V1UnixAddresses,
    /// The transport does not fit the addresses: UNSPEC addresses need UNSPEC transport,
    /// INET/INET6/UNIX addresses need STREAM or DGRAM.
    TransportMismatch,
    /// A TLV value is longer than the 65535 bytes its length field can express.
    TlvTooLong {
        /// The TLV type.
        kind: u8,
        /// The value length.
        length: usize,
    },
    /// A `PP2_TYPE_UNIQUE_ID` value longer than 128 bytes.
    UniqueIdTooLong {
        /// The value length.
        length: usize,
    },
    /// A second `PP2_TYPE_CRC32C` TLV.
    DuplicateCrc32c,
    /// Addresses plus TLVs exceed the 65535 bytes the v2 length field can express.
    HeaderTooLong {
        /// Bytes after the 16-byte fixed part.
        length: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::V1UnixAddresses => {
                write!(f, "PROXY v1 cannot carry UNIX socket addresses")
            }
            EncodeError::TransportMismatch => write!(
                f,
                "PROXY v2: transport does not fit the address family (UNSPEC needs UNSPEC, others STREAM or DGRAM)"
            ),
            EncodeError::TlvTooLong { kind, length } => write!(
                f,
                "PROXY v2: TLV type 0x{kind:02x} value of {length} bytes exceeds 65535"
            ),
            EncodeError::UniqueIdTooLong { length } => {
                write!(f, "PROXY v2: UNIQUE_ID of {length} bytes exceeds 128")
            }
            EncodeError::DuplicateCrc32c => write!(f, "PROXY v2: CRC32C TLV added twice"),
            EncodeError::HeaderTooLong { length } => write!(
                f,
                "PROXY v2: {length} bytes of addresses and TLVs exceed 65535"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}
