//! A test process killed with SIGKILL takes the processes it started with `Node::command` along.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use netns_test::{Net, netns_test};

#[netns_test(topology = "a -- b")]
#[ignore = "run by a_killed_test_process_takes_its_commands_along"]
fn victim(net: &Net) {
    #[allow(clippy::zombie_processes)] // never waited for: the test process is killed first
    let child = net.node("b").command("sleep").arg("1000").spawn().unwrap();
    // Straight to the pipe (not captured), then wait to be killed: stdin never delivers.
    let line = format!("PID {}\n", child.id());
    std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes()).unwrap();
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

fn pidfd_open(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: the fd was just returned to us and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[test]
fn a_killed_test_process_takes_its_commands_along() {
    let mut test = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "victim", "--nocapture"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(test.stdout.take().unwrap()).lines();
    let pid: i32 = loop {
        let line = lines
            .next()
            .expect("the victim printed its child's pid")
            .unwrap();
        if let Some(pid) = line.strip_prefix("PID ") {
            break pid.parse().unwrap();
        }
    };
    let sleeper = pidfd_open(pid);
    test.kill().unwrap(); // SIGKILL
    test.wait().unwrap();
    // A pidfd becomes readable when its process exits: wait for that event, bounded.
    let mut fds = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&sleeper),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 5000) };
    assert_eq!(
        ready, 1,
        "`sleep 1000` (pid {pid}) outlived the SIGKILLed test process"
    );
}
