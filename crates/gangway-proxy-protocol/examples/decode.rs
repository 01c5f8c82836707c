//! Decode PROXY protocol headers and print what they say.
//!
//! ```sh
//! cargo run -p gangway-proxy-protocol --example decode                 # built-in samples
//! cargo run -p gangway-proxy-protocol --example decode -- 'PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\n'
//! cargo run -p gangway-proxy-protocol --example decode -- hex:0d0a0d0a000d0a515549540a2011000c...
//! ```
//! A text argument may use `\r` and `\n` escapes; `hex:` introduces raw bytes.

use gangway_proxy_protocol::{
    Addresses, Command, Status, Tlv, Transport, V2Encoder, decode, encode_v1,
};

fn main() {
    let inputs: Vec<Vec<u8>> = match std::env::args()
        .skip(1)
        .map(|a| parse_arg(&a))
        .collect::<Option<Vec<_>>>()
    {
        Some(args) if !args.is_empty() => args,
        Some(_) => samples(),
        None => {
            eprintln!("arguments are text (with \\r \\n escapes) or hex:<digits>");
            std::process::exit(2);
        }
    };
    for input in inputs {
        describe(&input);
    }
}

fn describe(input: &[u8]) {
    println!("input: {} bytes", input.len());
    match decode(input) {
        Err(e) => println!("  rejected: {e}"),
        Ok(Status::Partial) => println!("  incomplete: a valid beginning, more bytes needed"),
        Ok(Status::Complete((header, len))) => {
            println!(
                "  {:?} {:?} {:?}, {len} bytes",
                header.version(),
                header.command(),
                header.transport()
            );
            match header.addresses() {
                Addresses::Unix {
                    source,
                    destination,
                } => println!(
                    "  unix {} -> {}",
                    String::from_utf8_lossy(source.path()),
                    String::from_utf8_lossy(destination.path())
                ),
                other => match (other.source(), other.destination()) {
                    (Some(s), Some(d)) => println!("  {s} -> {d}"),
                    _ => println!("  no addresses (use the socket's own)"),
                },
            }
            for tlv in header.tlvs() {
                println!("  TLV {tlv:?}");
            }
            if len < input.len() {
                println!(
                    "  then {} bytes for the application: {:?}",
                    input.len() - len,
                    String::from_utf8_lossy(&input[len..])
                );
            }
        }
    }
}

fn parse_arg(arg: &str) -> Option<Vec<u8>> {
    if let Some(hex) = arg.strip_prefix("hex:") {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        return digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
    }
    Some(arg.replace("\\r", "\r").replace("\\n", "\n").into_bytes())
}

fn samples() -> Vec<Vec<u8>> {
    let addrs = Addresses::from_pair(
        "203.0.113.7:56324".parse().unwrap(),
        "198.51.100.2:443".parse().unwrap(),
    );
    let mut v1 = Vec::new();
    encode_v1(&addrs, &mut v1).unwrap();
    v1.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");

    let mut v2 = Vec::new();
    let mut encoder = V2Encoder::new(&mut v2, Command::Proxy, Transport::Stream, &addrs).unwrap();
    encoder.push(Tlv::Alpn(b"http/1.1")).unwrap();
    encoder.push(Tlv::Authority("www.example.com")).unwrap();
    encoder
        .ssl(
            gangway_proxy_protocol::CLIENT_SSL,
            0,
            &[gangway_proxy_protocol::SslTlv::Version("TLSv1.3")],
        )
        .unwrap();
    encoder.push(Tlv::Crc32c(0)).unwrap();
    encoder.finish().unwrap();

    let mut corrupted = v2.clone();
    corrupted[20] ^= 0xFF;
    vec![
        v1,
        v2.clone(),
        v2[..20].to_vec(),
        corrupted,
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ]
}
