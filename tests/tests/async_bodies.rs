//! `async fn` bodies on both runtime flavors, and `Node::spawn`: every runtime thread is inside
//! its node.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use netns_test::{Net, netns_test};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

async fn echo_once(listener: TcpListener) {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    s.write_all(&buf[..n]).await.unwrap();
}

async fn roundtrip(to: SocketAddr, message: &[u8]) -> Vec<u8> {
    netns_test::assert_not_in_host_netns();
    let mut s = TcpStream::connect(to).await.unwrap();
    s.write_all(message).await.unwrap();
    let mut reply = vec![0u8; message.len()];
    s.read_exact(&mut reply).await.unwrap();
    reply
}

#[netns_test(topology = "a -- b")]
async fn current_thread_body_talks_to_a_server_spawned_in_another_node(net: &Net) {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    let addr = SocketAddr::new(b.ip(), 7100);
    let inode = b.netns_inode();
    let listener = b.run(|| std::net::TcpListener::bind(addr).unwrap());
    listener.set_nonblocking(true).unwrap();
    let server = b.spawn(async move {
        assert_eq!(
            netns_test::current_netns_inode(),
            inode,
            "Node::spawn runs inside the node"
        );
        // A socket made here, on b's runtime, lives in b too.
        let probe = std::net::UdpSocket::bind((addr.ip(), 0)).expect("b's address is local here");
        drop(probe);
        echo_once(TcpListener::from_std(listener).unwrap()).await
    });
    assert_eq!(roundtrip(addr, b"async").await, b"async");
    server.await.unwrap();
}

#[netns_test(topology = "a -- b", flavor = "multi_thread", worker_threads = 3)]
async fn every_worker_and_blocking_thread_is_inside_the_node(net: &Net) {
    let a = net.node("a").netns_inode();
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let on_worker = seen.clone();
        tasks.push(tokio::spawn(async move {
            on_worker.lock().unwrap().insert((
                std::thread::current().id(),
                netns_test::current_netns_inode(),
            ));
            tokio::task::yield_now().await;
        }));
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            tokio::task::spawn_blocking(move || {
                seen.lock().unwrap().insert((
                    std::thread::current().id(),
                    netns_test::current_netns_inode(),
                ));
            })
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "work ran on several threads: {seen:?}");
    assert!(
        seen.iter().all(|&(_, inode)| inode == a),
        "a runtime thread outside node a: {seen:?}"
    );

    let b = net.node("b");
    let listener = b.run(|| std::net::TcpListener::bind((b.ip(), 7101)).unwrap());
    listener.set_nonblocking(true).unwrap();
    let server = b.spawn(echo_once(TcpListener::from_std(listener).unwrap()));
    assert_eq!(
        roundtrip(SocketAddr::new(b.ip(), 7101), b"multi").await,
        b"multi"
    );
    server.await.unwrap();
}

#[netns_test(
    topology = "a 2001:db8::1/64 -- b 2001:db8::2/64",
    flavor = "current_thread"
)]
async fn async_udp_over_ipv6(net: &Net) -> std::io::Result<()> {
    netns_test::assert_not_in_host_netns();
    let b = net.node("b");
    let to = SocketAddr::new(b.ip(), 7102);
    let receiver = b.run(|| std::net::UdpSocket::bind(to))?;
    receiver.set_nonblocking(true)?;
    let receiver = UdpSocket::from_std(receiver)?;
    let sender = UdpSocket::bind("[::]:0").await?;
    sender.send_to(b"v6 async", to).await?;
    let mut buf = [0u8; 32];
    let (n, _) =
        tokio::time::timeout(netns_test_e2e::PATIENCE, receiver.recv_from(&mut buf)).await??;
    assert_eq!(&buf[..n], b"v6 async");
    Ok(())
}
