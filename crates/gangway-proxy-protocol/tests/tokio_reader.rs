//! The tokio helper on real sockets (127.0.0.1, port 0): header followed by HTTP bytes,
//! fragmented headers, a stalling peer, an early close, garbage.
#![cfg(feature = "tokio")]

use std::time::Duration;

use gangway_proxy_protocol::{
    Addresses, Command, DEFAULT_TIMEOUT, Error, HeaderReader, ReadError, Tlv, Transport, V2Encoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HTTP: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
const V1: &[u8] = b"PROXY TCP4 203.0.113.7 198.51.100.2 56324 443\r\n";

/// A connected (client, server) pair on 127.0.0.1.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

fn v2_with_tlvs() -> Vec<u8> {
    let addrs = Addresses::from_pair(
        "[2001:db8::7]:56324".parse().unwrap(),
        "[2001:db8::1]:443".parse().unwrap(),
    );
    let mut out = Vec::new();
    let mut enc = V2Encoder::new(&mut out, Command::Proxy, Transport::Stream, &addrs).unwrap();
    enc.push(Tlv::Authority("example.com")).unwrap();
    enc.push(Tlv::UniqueId(&[7; 100])).unwrap();
    enc.push(Tlv::Noop(&[0; 300])).unwrap(); // longer than the 107-byte first peek
    enc.push(Tlv::Crc32c(0)).unwrap();
    enc.finish().unwrap();
    out
}

/// A reader with a timeout generous enough for a loaded CI machine.
fn patient() -> HeaderReader {
    let mut reader = HeaderReader::new();
    reader.timeout(Duration::from_secs(30));
    reader
}

/// Everything the server side sees after the header, until the client closes.
async fn read_to_end(mut stream: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn read_tcp_leaves_the_http_request_in_the_socket() {
    for header in [V1.to_vec(), v2_with_tlvs()] {
        let (mut client, mut server) = pair().await;
        let mut wire = header.clone();
        wire.extend_from_slice(HTTP);
        client.write_all(&wire).await.unwrap();
        drop(client);

        let received = patient().read_tcp(&mut server).await.unwrap();
        assert_eq!(received.header().as_bytes(), &header[..]);
        assert!(received.header().source().is_some());
        assert!(
            received.rest().is_empty(),
            "peeking never reads past the header"
        );
        assert_eq!(read_to_end(server).await, HTTP);
    }
}

#[tokio::test]
async fn read_hands_back_bytes_after_a_v1_header() {
    let (mut client, mut server) = pair().await;
    let mut wire = V1.to_vec();
    wire.extend_from_slice(HTTP);
    client.write_all(&wire).await.unwrap();
    drop(client);

    let received = patient().read(&mut server).await.unwrap();
    assert_eq!(
        received.header().source(),
        Some("203.0.113.7:56324".parse().unwrap())
    );
    // The HTTP bytes are the handed-back rest followed by what is still in the socket.
    let mut after = received.rest().to_vec();
    after.extend_from_slice(&read_to_end(server).await);
    assert_eq!(after, HTTP);
}

#[tokio::test]
async fn read_never_reads_past_a_v2_header() {
    let header = v2_with_tlvs();
    let (mut client, mut server) = pair().await;
    let mut wire = header.clone();
    wire.extend_from_slice(HTTP);
    client.write_all(&wire).await.unwrap();
    drop(client);

    let received = patient().read(&mut server).await.unwrap();
    assert_eq!(received.header().tlvs().authority(), Some("example.com"));
    assert!(received.rest().is_empty());
    assert_eq!(read_to_end(server).await, HTTP);
}

#[tokio::test]
async fn headers_arriving_one_byte_at_a_time() {
    for header in [V1.to_vec(), v2_with_tlvs()] {
        for peek in [false, true] {
            let (mut client, mut server) = pair().await;
            client.set_nodelay(true).unwrap();
            let wire = [&header[..], HTTP].concat();
            let header_len = header.len();
            let writer = tokio::spawn(async move {
                for &byte in &wire[..header_len] {
                    client.write_all(&[byte]).await.unwrap();
                    tokio::task::yield_now().await;
                }
                client.write_all(&wire[header_len..]).await.unwrap();
            });
            let received = if peek {
                patient().read_tcp(&mut server).await.unwrap()
            } else {
                patient().read(&mut server).await.unwrap()
            };
            writer.await.unwrap();
            assert_eq!(received.header().as_bytes(), &header[..]);
            let mut after = received.rest().to_vec();
            after.extend_from_slice(&read_to_end(server).await);
            assert_eq!(after, HTTP, "peek={peek}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_stalling_peer_times_out_after_the_default_3s() {
    for (partial, peek) in [
        (&V1[..20], false),
        (&V1[..20], true),
        (&b""[..], true),
        (&v2_with_tlvs()[..40], false),
    ] {
        let (mut client, mut server) = pair().await;
        client.write_all(partial).await.unwrap();
        let started = tokio::time::Instant::now();
        let reader = HeaderReader::new();
        let result = if peek {
            reader.read_tcp(&mut server).await
        } else {
            reader.read(&mut server).await
        };
        assert!(matches!(result, Err(ReadError::Timeout)), "{result:?}");
        assert!(started.elapsed() >= DEFAULT_TIMEOUT);
        // The peer kept the connection open all along.
        drop(client);
    }
}

#[tokio::test(start_paused = true)]
async fn the_timeout_is_configurable() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"PROXY TCP4 ").await.unwrap();
    let started = tokio::time::Instant::now();
    let result = HeaderReader::new()
        .timeout(Duration::from_millis(500))
        .read_tcp(&mut server)
        .await;
    assert!(matches!(result, Err(ReadError::Timeout)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < DEFAULT_TIMEOUT,
        "{waited:?}"
    );
    drop(client);
}

#[tokio::test]
async fn a_peer_closing_mid_header_is_an_unexpected_eof() {
    for peek in [false, true] {
        let (mut client, mut server) = pair().await;
        client.write_all(&V1[..20]).await.unwrap();
        drop(client);
        let result = if peek {
            patient().read_tcp(&mut server).await
        } else {
            patient().read(&mut server).await
        };
        assert!(
            matches!(result, Err(ReadError::UnexpectedEof { received: 20 })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn garbage_is_rejected_at_once() {
    for peek in [false, true] {
        let (mut client, mut server) = pair().await;
        // The peer keeps the connection open: rejection must not wait for more bytes or EOF.
        client.write_all(HTTP).await.unwrap();
        let result = if peek {
            patient().read_tcp(&mut server).await
        } else {
            patient().read(&mut server).await
        };
        assert!(
            matches!(
                result,
                Err(ReadError::Invalid(Error::NotProxyProtocol { byte: b'G' }))
            ),
            "{result:?}"
        );
        let io: std::io::Error = result.unwrap_err().into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        drop(client);
    }
}

#[tokio::test]
async fn read_works_on_any_async_read() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let wire = [V1, HTTP].concat();
    let writer = tokio::spawn(async move { client.write_all(&wire).await.unwrap() });
    let received = patient().read(&mut server).await.unwrap();
    writer.await.unwrap();
    let mut after = received.rest().to_vec();
    server.read_to_end(&mut after).await.unwrap();
    assert_eq!(after, HTTP);
    let (owned, rest) = received.into_parts();
    assert_eq!(owned.as_bytes(), V1);
    assert!(rest.len() <= HTTP.len());
}
