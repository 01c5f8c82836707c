//! Decode speed: v2 INET (the bar is under 100 ns), v2 with TLVs and CRC32C, v1.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gangway_proxy_protocol::{Addresses, Command, Tlv, Transport, V2Encoder, decode, encode_v1};

fn headers() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let v4 = Addresses::from_pair(
        "203.0.113.7:56324".parse().unwrap(),
        "198.51.100.2:443".parse().unwrap(),
    );
    let v6 = Addresses::from_pair(
        "[2001:db8::7]:56324".parse().unwrap(),
        "[2001:db8:1:2:3:4:5:6]:443".parse().unwrap(),
    );
    let mut v2_inet = Vec::new();
    V2Encoder::new(&mut v2_inet, Command::Proxy, Transport::Stream, &v4)
        .unwrap()
        .finish()
        .unwrap();
    let mut v2_tlvs = Vec::new();
    let mut enc = V2Encoder::new(&mut v2_tlvs, Command::Proxy, Transport::Stream, &v4).unwrap();
    enc.push(Tlv::Alpn(b"http/1.1")).unwrap();
    enc.push(Tlv::Authority("www.example.com")).unwrap();
    enc.push(Tlv::UniqueId(b"0123456789abcdef")).unwrap();
    enc.push(Tlv::Crc32c(0)).unwrap();
    enc.finish().unwrap();
    let mut v1_tcp4 = Vec::new();
    encode_v1(&v4, &mut v1_tcp4).unwrap();
    let mut v1_tcp6 = Vec::new();
    encode_v1(&v6, &mut v1_tcp6).unwrap();
    (v2_inet, v2_tlvs, v1_tcp4, v1_tcp6)
}

fn bench_decode(c: &mut Criterion) {
    let (v2_inet, v2_tlvs, v1_tcp4, v1_tcp6) = headers();
    let mut group = c.benchmark_group("decode");
    for (name, bytes) in [
        ("v2_inet", &v2_inet),
        ("v2_inet_tlvs_crc32c", &v2_tlvs),
        ("v1_tcp4", &v1_tcp4),
        ("v1_tcp6", &v1_tcp6),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let status = decode(black_box(bytes)).unwrap();
                black_box(status.complete().map(|(h, len)| (h.source(), len)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
