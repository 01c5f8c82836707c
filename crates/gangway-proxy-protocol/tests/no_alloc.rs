//! Decoding and walking TLVs allocate nothing (a counting global allocator proves it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gangway_proxy_protocol::{Addresses, Command, Status, Tlv, Transport, V2Encoder, decode};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decode_and_tlv_walk_do_not_allocate() {
    let addrs = Addresses::from_pair(
        "[2001:db8::1]:5000".parse().unwrap(),
        "[2001:db8::2]:443".parse().unwrap(),
    );
    let mut v2 = Vec::new();
    let mut enc = V2Encoder::new(&mut v2, Command::Proxy, Transport::Stream, &addrs).unwrap();
    enc.push(Tlv::Alpn(b"h2")).unwrap();
    enc.push(Tlv::Authority("example.com")).unwrap();
    enc.ssl(1, 0, &[gangway_proxy_protocol::SslTlv::Version("TLSv1.3")])
        .unwrap();
    enc.push(Tlv::Crc32c(0)).unwrap();
    enc.finish().unwrap();
    let v1 = b"PROXY TCP6 2001:db8::1 2001:db8::2 5000 443\r\nGET / HTTP/1.1\r\n\r\n".to_vec();

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut checksum = 0usize;
    for _ in 0..100 {
        for bytes in [&v2[..], &v1[..]] {
            let Ok(Status::Complete((header, len))) = decode(bytes) else {
                panic!()
            };
            checksum += len + usize::from(header.source().is_some());
            for tlv in header.tlvs() {
                checksum += usize::from(tlv.kind());
                if let Tlv::Ssl(ssl) = tlv {
                    checksum += ssl.iter().count() + ssl.version().map_or(0, str::len);
                }
            }
            checksum += header.tlvs().authority().map_or(0, str::len);
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(checksum > 0);
    assert_eq!(after - before, 0, "decode allocated");
}
