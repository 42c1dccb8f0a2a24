//! A client keeps a TCP upload going over a link that delays, jitters and loses packets, rides
//! out a second with no link at all, and finishes over a slower one: what a phone sees on a bad
//! network.
//!
//! `cargo run --example lossy_link`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netns_test::{Conditions, Net};

const TOTAL: usize = 1 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Net::build("phone -- server delay=10ms jitter=2ms loss=1% seed=7")?;
    let server = net.node("server");
    let listener = server.run(|| TcpListener::bind((server.ip(), 8080)))?;
    // The server counts what arrives and says so as it goes.
    let (progress, arrived) = mpsc::channel();
    let sink = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut stream, _) = listener.accept()?;
        let (mut buf, mut received) = (vec![0u8; 64 * 1024], 0);
        loop {
            match stream.read(&mut buf)? {
                0 => return Ok(received),
                n => received += n,
            }
            let _ = progress.send(received);
        }
    });
    let stream = net.node("phone").run(|| {
        netns_test::assert_not_in_host_netns();
        TcpStream::connect((server.ip(), 8080))
    })?;
    let started = Instant::now();
    let upload = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stream = stream;
        stream.write_all(&vec![7u8; TOTAL])
    });
    // A quarter through, the phone goes into a tunnel for a second.
    while arrived.recv()? < TOTAL / 4 {}
    let link = net.link("phone", "server");
    link.down()?;
    std::thread::sleep(Duration::from_secs(1));
    link.up()?;
    link.set(Conditions {
        delay: Duration::from_millis(40),
        loss_percent: 0.5,
        ..Default::default()
    })?;
    upload.join().expect("the upload thread")?;
    let received = sink.join().expect("the server thread")?;
    println!(
        "uploaded {received} of {TOTAL} bytes in {:.2} s, through loss, a 1 s cut and a slower link",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(received, TOTAL);
    Ok(())
}
