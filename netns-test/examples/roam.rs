//! A client downloads a file by name while its laptop roams from a Wi-Fi router to a phone's
//! hotspot mid-transfer: the old path dies with the Wi-Fi link, the laptop gets a new address
//! on the new link, and the client notices the silence, reconnects by name and resumes where it
//! stopped (the Wi-Fi runs at 20 Mbit/s, so most of the file is still to come when it goes).
//! What a download manager, a sync client or a QUIC stack must survive.
//!
//! `cargo run --example roam`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netns_test::Net;

const TOTAL: u64 = 4 << 20;

const TOPOLOGY: &str = "
node wifi forward
node cell forward
laptop -- wifi rate=20mbit
wifi 198.51.100.1/24 -- server 198.51.100.10/24
cell 198.18.50.1/24 -- server 198.18.50.10/24
route laptop default via 198.18.0.2
route server 198.18.0.0/24 via 198.51.100.1
route cell 198.51.100.0/24 via 198.18.50.10
hosts files.example.test 198.51.100.10
";

/// The server: each connection names the offset to start from, and gets the rest of the file.
fn serve(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut stream = stream;
            let mut offset = [0u8; 8];
            stream.read_exact(&mut offset)?;
            let mut at = u64::from_be_bytes(offset);
            let chunk = vec![0x5au8; 64 * 1024];
            while at < TOTAL {
                let n = chunk.len().min((TOTAL - at) as usize);
                stream.write_all(&chunk[..n])?;
                at += n as u64;
            }
            Ok(())
        });
    }
}

/// The client: downloads from `files.example.test`, and after two seconds without a byte
/// reconnects (by name, so wherever the laptop now is) and asks for the rest.
fn download(progress: mpsc::Sender<u64>) -> std::io::Result<(u64, u32)> {
    netns_test::assert_not_in_host_netns();
    let (mut received, mut connections) = (0u64, 0u32);
    let mut buf = vec![0u8; 64 * 1024];
    while received < TOTAL {
        let mut stream = TcpStream::connect("files.example.test:8080")?;
        connections += 1;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(&received.to_be_bytes())?;
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    received += n as u64;
                    let _ = progress.send(received);
                }
                // Silence: the path is gone. Start over from where we are.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(e),
            }
            if received == TOTAL {
                break;
            }
        }
    }
    Ok((received, connections))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Net::build(TOPOLOGY)?;
    let server = net.node("server");
    let listener = server.run(|| TcpListener::bind("0.0.0.0:8080"))?;
    std::thread::spawn(move || serve(listener));
    let (progress, arrived) = mpsc::channel();
    let started = Instant::now();
    let (received, connections) = std::thread::scope(|scope| {
        let laptop = net.node("laptop");
        let client = scope.spawn(move || laptop.run(|| download(progress)));
        // A quarter through, the laptop leaves the Wi-Fi for the hotspot.
        while arrived.recv()? < TOTAL / 4 {}
        let before = laptop.ip();
        net.link("laptop", "wifi").remove()?;
        net.apply(
            "laptop -- cell\n\
             route laptop default via 198.18.1.2\n\
             route server 198.18.1.0/24 via 198.18.50.1",
        )?;
        println!(
            "roamed from {before} to {} after {:.2} s",
            laptop.ip(),
            started.elapsed().as_secs_f64()
        );
        for _ in arrived.iter() {}
        let done = client.join().expect("the client thread")?;
        Ok::<_, Box<dyn std::error::Error>>(done)
    })?;
    println!(
        "downloaded {received} of {TOTAL} bytes in {:.2} s over {connections} connections, across a roam",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(received, TOTAL);
    assert_eq!(connections, 2, "one before the roam, one after");
    Ok(())
}
