//! Property tests: encode then decode gives the same addresses and TLVs; arbitrary and
//! mutated input never breaks the decoder's invariants.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use gangway_proxy_protocol::{
    Addresses, Command, SIGNATURE, SslTlv, Status, Tlv, Transport, UnixAddress, V2Encoder, decode,
    encode_v1, fuzzing,
};
use proptest::prelude::*;

/// A reference model of one TLV, owning its data.
#[derive(Clone, Debug, PartialEq)]
enum ModelTlv {
    Alpn(Vec<u8>),
    Authority(String),
    Crc32c,
    Noop(Vec<u8>),
    UniqueId(Vec<u8>),
    Ssl {
        client: u8,
        verify: u32,
        subs: Vec<ModelSub>,
    },
    Netns(String),
    Custom(u8, Vec<u8>),
    Other(u8, Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
enum ModelSub {
    Text(u8, String),
    Raw(u8, Vec<u8>),
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn sub_strategy() -> impl Strategy<Value = ModelSub> {
    prop_oneof![
        (0x21u8..=0x25, "\\PC{0,24}").prop_map(|(k, s)| ModelSub::Text(k, s)),
        (
            any::<u8>().prop_filter("not a text sub-type", |k| !(0x21..=0x25).contains(k)),
            bytes(16)
        )
            .prop_map(|(k, v)| ModelSub::Raw(k, v)),
    ]
}

fn tlv_strategy() -> impl Strategy<Value = ModelTlv> {
    let registered = [0x01u8, 0x02, 0x03, 0x04, 0x05, 0x20, 0x30];
    prop_oneof![
        bytes(20).prop_map(ModelTlv::Alpn),
        "\\PC{0,40}".prop_map(ModelTlv::Authority),
        bytes(8).prop_map(ModelTlv::Noop),
        bytes(129).prop_map(ModelTlv::UniqueId),
        (
            any::<u8>(),
            any::<u32>(),
            prop::collection::vec(sub_strategy(), 0..5)
        )
            .prop_map(|(client, verify, subs)| ModelTlv::Ssl {
                client,
                verify,
                subs
            }),
        "[a-z0-9-]{0,16}".prop_map(ModelTlv::Netns),
        (0xE0u8..=0xEF, bytes(32)).prop_map(|(k, v)| ModelTlv::Custom(k, v)),
        (
            any::<u8>().prop_filter("unregistered", move |k| {
                !registered.contains(k) && !(0xE0..=0xEF).contains(k)
            }),
            bytes(32)
        )
            .prop_map(|(k, v)| ModelTlv::Other(k, v)),
    ]
}

fn addresses_strategy() -> impl Strategy<Value = Addresses> {
    prop_oneof![
        Just(Addresses::Unspec),
        (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(s, d, sp, dp)| {
            Addresses::Inet {
                source: SocketAddrV4::new(Ipv4Addr::from(s), sp),
                destination: SocketAddrV4::new(Ipv4Addr::from(d), dp),
            }
        }),
        (any::<u128>(), any::<u128>(), any::<u16>(), any::<u16>()).prop_map(|(s, d, sp, dp)| {
            Addresses::Inet6 {
                source: SocketAddrV6::new(Ipv6Addr::from(s), sp, 0, 0),
                destination: SocketAddrV6::new(Ipv6Addr::from(d), dp, 0, 0),
            }
        }),
        (bytes(109), bytes(109)).prop_map(|(s, d)| Addresses::Unix {
            source: UnixAddress::new(&s[..s.len().min(108)]).unwrap(),
            destination: UnixAddress::new(&d[..d.len().min(108)]).unwrap(),
        }),
    ]
}

/// Addresses with a transport that fits them.
fn endpoint_strategy() -> impl Strategy<Value = (Addresses, Transport)> {
    (addresses_strategy(), any::<bool>()).prop_map(|(a, dgram)| {
        let t = match (a, dgram) {
            (Addresses::Unspec, _) => Transport::Unspec,
            (_, false) => Transport::Stream,
            (_, true) => Transport::Dgram,
        };
        (a, t)
    })
}

/// Model TLVs with at most one CRC32C, at a random position.
fn tlvs_strategy() -> impl Strategy<Value = Vec<ModelTlv>> {
    (
        prop::collection::vec(tlv_strategy(), 0..8),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(mut tlvs, crc_at)| {
            // UNIQUE_ID over 128 bytes cannot be encoded; keep the model to valid values.
            tlvs.retain(|t| !matches!(t, ModelTlv::UniqueId(v) if v.len() > 128));
            if let Some(at) = crc_at {
                let at = at.index(tlvs.len() + 1);
                tlvs.insert(at, ModelTlv::Crc32c);
            }
            tlvs
        })
}

fn encode_model(
    command: Command,
    transport: Transport,
    addresses: &Addresses,
    tlvs: &[ModelTlv],
) -> Vec<u8> {
    let mut out = b"leading bytes stay".to_vec();
    let start = out.len();
    let mut encoder = V2Encoder::new(&mut out, command, transport, addresses).unwrap();
    for tlv in tlvs {
        match tlv {
            ModelTlv::Alpn(v) => encoder.push(Tlv::Alpn(v)),
            ModelTlv::Authority(s) => encoder.push(Tlv::Authority(s)),
            ModelTlv::Crc32c => encoder.push(Tlv::Crc32c(0xDEAD_BEEF)),
            ModelTlv::Noop(v) => encoder.push(Tlv::Noop(v)),
            ModelTlv::UniqueId(v) => encoder.push(Tlv::UniqueId(v)),
            ModelTlv::Ssl {
                client,
                verify,
                subs,
            } => {
                let subs: Vec<SslTlv<'_>> = subs
                    .iter()
                    .map(|s| match s {
                        ModelSub::Text(0x21, t) => SslTlv::Version(t),
                        ModelSub::Text(0x22, t) => SslTlv::CommonName(t),
                        ModelSub::Text(0x23, t) => SslTlv::Cipher(t),
                        ModelSub::Text(0x24, t) => SslTlv::SigAlg(t),
                        ModelSub::Text(_, t) => SslTlv::KeyAlg(t),
                        ModelSub::Raw(kind, value) => SslTlv::Other { kind: *kind, value },
                    })
                    .collect();
                encoder.ssl(*client, *verify, &subs)
            }
            ModelTlv::Netns(s) => encoder.push(Tlv::Netns(s)),
            ModelTlv::Custom(kind, value) => encoder.push(Tlv::Custom { kind: *kind, value }),
            ModelTlv::Other(kind, value) => encoder.push(Tlv::Other { kind: *kind, value }),
        }
        .unwrap();
    }
    let len = encoder.finish().unwrap();
    assert_eq!(len, out.len() - start);
    out.drain(..start);
    out
}

fn to_model(tlv: Tlv<'_>) -> ModelTlv {
    match tlv {
        Tlv::Alpn(v) => ModelTlv::Alpn(v.to_vec()),
        Tlv::Authority(s) => ModelTlv::Authority(s.to_owned()),
        Tlv::Crc32c(_) => ModelTlv::Crc32c,
        Tlv::Noop(v) => ModelTlv::Noop(v.to_vec()),
        Tlv::UniqueId(v) => ModelTlv::UniqueId(v.to_vec()),
        Tlv::Ssl(ssl) => ModelTlv::Ssl {
            client: ssl.client(),
            verify: ssl.verify(),
            subs: ssl
                .iter()
                .map(|s| match s {
                    SslTlv::Other { kind, value } => ModelSub::Raw(kind, value.to_vec()),
                    text => ModelSub::Text(
                        text.kind(),
                        String::from_utf8(text.value().to_vec()).unwrap(),
                    ),
                })
                .collect(),
        },
        Tlv::Netns(s) => ModelTlv::Netns(s.to_owned()),
        Tlv::Custom { kind, value } => ModelTlv::Custom(kind, value.to_vec()),
        Tlv::Other { kind, value } => ModelTlv::Other(kind, value.to_vec()),
        other => panic!("unexpected TLV {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn v2_round_trip(
        (addresses, transport) in endpoint_strategy(),
        local in any::<bool>(),
        tlvs in tlvs_strategy(),
        trailing in bytes(64),
    ) {
        let command = if local { Command::Local } else { Command::Proxy };
        let header = encode_model(command, transport, &addresses, &tlvs);
        let mut wire = header.clone();
        wire.extend_from_slice(&trailing);

        let Ok(Status::Complete((decoded, len))) = decode(&wire) else {
            panic!("{:?}", decode(&wire))
        };
        prop_assert_eq!(len, header.len());
        prop_assert_eq!(decoded.command(), command);
        prop_assert_eq!(decoded.transport(), transport);
        prop_assert_eq!(decoded.addresses(), &addresses);
        let got: Vec<ModelTlv> = decoded.tlvs().iter().map(to_model).collect();
        prop_assert_eq!(&got, &tlvs);
        if tlvs.contains(&ModelTlv::Crc32c) {
            // The checksum really is the header's CRC32C with the field zeroed.
            prop_assert!(decoded.tlvs().crc32c().is_some());
        }
        // Every prefix is partial.
        for cut in [0, 1, 12, 15, 16, len / 2, len - 1] {
            if cut < len {
                prop_assert_eq!(decode(&wire[..cut]), Ok(Status::Partial));
            }
        }
        // Relaying re-encodes to the very same bytes.
        let mut relayed = Vec::new();
        decoded.encode(&mut relayed).unwrap();
        prop_assert_eq!(relayed, header);
        fuzzing::decode_invariants(&wire);
    }

    #[test]
    fn v1_round_trip((addresses, _) in endpoint_strategy(), trailing in bytes(64)) {
        let mut wire = Vec::new();
        let result = encode_v1(&addresses, &mut wire);
        if matches!(addresses, Addresses::Unix { .. }) {
            prop_assert!(result.is_err());
            return Ok(());
        }
        let len = result.unwrap();
        prop_assert!(len <= 107);
        wire.extend_from_slice(&trailing);
        let Ok(Status::Complete((decoded, decoded_len))) = decode(&wire) else {
            panic!("{:?} for {:?}", decode(&wire), String::from_utf8_lossy(&wire[..len]))
        };
        prop_assert_eq!(decoded_len, len);
        prop_assert_eq!(decoded.addresses(), &addresses);
        prop_assert_eq!(decoded.source(), addresses.source());
        for cut in 0..len {
            prop_assert_eq!(decode(&wire[..cut]), Ok(Status::Partial));
        }
        fuzzing::decode_invariants(&wire);
    }

    #[test]
    fn arbitrary_recipes_encode_and_decode_back(data in bytes(600)) {
        fuzzing::encode_round_trip(&data);
    }

    #[test]
    fn recipes_with_tlvs_encode_and_decode_back(
        flags in any::<u8>(),
        addresses in bytes(216),
        tlvs in prop::collection::vec(
            (prop_oneof![1u8..=5, Just(0x20u8), Just(0x30), any::<u8>()], bytes(200)),
            0..8,
        ),
    ) {
        let mut recipe = vec![flags & !0x10];
        recipe.extend_from_slice(&addresses);
        recipe.resize(1 + 216, 0);
        // Only as many address bytes as the family takes; the rest would read as TLVs.
        let address_len = [0, 12, 36, 216][usize::from((flags >> 1) & 3)];
        recipe.truncate(1 + address_len);
        for (kind, value) in tlvs {
            recipe.push(kind);
            recipe.push(value.len() as u8);
            recipe.extend_from_slice(&value);
        }
        fuzzing::encode_round_trip(&recipe);
    }

    #[test]
    fn arbitrary_bytes_keep_invariants(data in bytes(300)) {
        fuzzing::decode_invariants(&data);
    }

    #[test]
    fn arbitrary_bodies_after_a_signature_keep_invariants(
        ver_cmd in prop_oneof![Just(0x20u8), Just(0x21), any::<u8>()],
        fam in prop_oneof![Just(0x00u8), Just(0x11), Just(0x21), Just(0x31), any::<u8>()],
        body in bytes(300),
    ) {
        let mut wire = SIGNATURE.to_vec();
        wire.extend_from_slice(&[ver_cmd, fam]);
        wire.extend_from_slice(&(body.len() as u16).to_be_bytes());
        wire.extend_from_slice(&body);
        fuzzing::decode_invariants(&wire);
    }

    #[test]
    fn arbitrary_v1_lines_keep_invariants(line in "PROXY [A-Z0-9]{0,7}( [0-9a-fA-F.:]{0,40}){0,5}\r\n[a-z]{0,4}") {
        fuzzing::decode_invariants(line.as_bytes());
    }

    #[test]
    fn mutated_headers_keep_invariants(
        (addresses, transport) in endpoint_strategy(),
        tlvs in tlvs_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut wire = encode_model(Command::Proxy, transport, &addresses, &tlvs);
        for (at, byte) in flips {
            let at = at.index(wire.len());
            wire[at] = byte;
        }
        fuzzing::decode_invariants(&wire);
    }
}
