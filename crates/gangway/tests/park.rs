//! WebSocket tunnels through the gateway park while idle (Linux) and still carry every
//! message, close and shutdown. Its own test binary: it counts the process's parked tunnels.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use gangway::prelude::*;
use tokio_tungstenite::tungstenite::Message;

fn parked_metric(gw: &GatewayHandle) -> usize {
    gw.metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix("gangway_tunnels_parked "))
        .and_then(|v| v.trim().parse().ok())
        .expect("gangway_tunnels_parked in the metrics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websocket_tunnels_park_and_carry_every_message() {
    let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0")
        .await
        .unwrap();
    let ws = Backend::new("ws").server(Server::at(chat.addr()).name("ws1"));
    let gw = start(
        local()
            .default_backend(&ws)
            .grace(Duration::from_secs(1))
            .timeouts(Timeouts::default().tunnel_park(Some(Duration::from_millis(50)))),
    )
    .await;
    let url = format!("ws://{}/ws/echo", gw.local_addr());

    const N: usize = 4;
    let mut clients = Vec::new();
    for _ in 0..N {
        clients.push(tokio_tungstenite::connect_async(&url).await.unwrap().0);
    }
    eventually("every idle tunnel parks", || parked_metric(&gw) == N).await;

    // A message to a broadcast server reaches every client: each tunnel is woken by the
    // server's bytes while parked, the sender's also by the client's.
    for round in 0..3 {
        let text = format!("round {round}");
        clients[round % N]
            .send(Message::text(text.clone()))
            .await
            .unwrap();
        for client in &mut clients {
            assert_eq!(
                next_message(client).await,
                Message::text(format!("Received: {text}"))
            );
        }
        eventually("they park again", || parked_metric(&gw) == N).await;
    }

    // A large message goes back through tokio (and splice), then parks again.
    let big = "y".repeat(1 << 20);
    clients[0].send(Message::text(big.clone())).await.unwrap();
    for client in &mut clients {
        let got = next_message(client).await.into_text().unwrap();
        assert!(
            got.as_str() == format!("Received: {big}"),
            "large message intact"
        );
    }
    eventually("they park again", || parked_metric(&gw) == N).await;

    // A client's close handshake and FIN go through a parked tunnel.
    let mut first = clients.remove(0);
    first.close(None).await.unwrap();
    eventually("the closed tunnel leaves the parker", || {
        parked_metric(&gw) == N - 1
    })
    .await;

    // A shutdown drains parked tunnels: each client sees its connection end.
    let mut rest = clients;
    gw.shutdown().await;
    for client in &mut rest {
        let end = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(Ok(_)) = futures_util::StreamExt::next(client).await {}
        })
        .await;
        assert!(end.is_ok(), "the client sees the end of its tunnel");
    }
    assert_eq!(gangway_tunnel::parked_tunnels(), 0, "nothing stays parked");
}
