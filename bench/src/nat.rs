//! The NAT rows: `fixtures/nat.topo` built and dropped, against the same topology without its
//! `nat` lines, and against an `ip` + `nft` script that builds the same (needs Debian's
//! `iproute2` and `nftables`).

use std::time::Duration;

use netns_test::Net;

use crate::{ms, run_script, versus};

/// Read when the bench runs (from the workspace), so the crate packages on its own.
fn nat_topology() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/nat.topo");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The rule sets netns-test installs in `home` and `isp`, as `nft list ruleset` shows them
/// (two rules given `meta l4proto { tcp, udp }`, which nft's parser wants before a port map).
const HOME_RULES: &str = r#"table ip netns_test_nat {
	map eim {
		type inet_proto . ipv4_addr . inet_service : inet_service
		size 65535
		flags dynamic,timeout
		timeout 2m
	}

	set taken {
		type inet_proto . inet_service
		size 65535
		flags dynamic,timeout
		timeout 2m
	}

	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" meta l4proto { tcp, udp } snat to 198.19.0.2:meta l4proto . ip saddr . th sport map @eim
		oifname "wan" meta l4proto { tcp, udp } meta l4proto . th sport @taken snat to 198.19.0.2:1024-65535 fully-random
		oifname "wan" snat to 198.19.0.2
	}

	chain learn {
		type filter hook postrouting priority srcnat + 1; policy accept;
		oifname "wan" ct direction original ct status snat meta l4proto tcp update @eim { meta l4proto . ct original ip saddr . ct original proto-src : ct reply proto-dst } update @taken { meta l4proto . ct reply proto-dst }
		oifname "wan" ct direction original ct status snat meta l4proto udp update @eim { meta l4proto . ct original ip saddr . ct original proto-src : ct reply proto-dst } update @taken { meta l4proto . ct reply proto-dst }
	}

	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" counter packets 0 bytes 0 drop
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" ct status dnat accept
		iifname "wan" counter packets 0 bytes 0 drop
	}
}
"#;
const ISP_RULES: &str = r#"table ip netns_test_nat {
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "up" meta l4proto tcp snat to 203.0.113.1:1024-65535 fully-random
		oifname "up" meta l4proto udp snat to 203.0.113.1:1024-65535 fully-random
		oifname "up" snat to 203.0.113.1
	}

	chain input {
		type filter hook input priority filter; policy accept;
		iifname "up" ct state established,related accept
		iifname "up" counter packets 0 bytes 0 drop
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "up" ct state established,related accept
		iifname "up" ct status dnat accept
		iifname "up" counter packets 0 bytes 0 drop
	}
}
"#;

/// The same topology built and removed by a script: namespaces, veth pairs, addresses, routes,
/// forwarding, and each NAT's rule set through `nft -f`; per-iteration times in ns.
const NAT_SCRIPT: &str = r#"
set -e
# A tmpfs over /run in this private mount namespace: /run/netns is made there, never on the host.
mount -t tmpfs netns-bench /run && mkdir /run/netns
for i in $(seq "$RUNS"); do
  s=$(date +%s%N)
  for n in laptop home isp server; do ip netns add b-$n; ip -n b-$n link set lo up; done
  ip -n b-laptop link add name eth0 type veth peer name lan netns b-home
  ip -n b-home link add name wan type veth peer name sub netns b-isp
  ip -n b-isp link add name up type veth peer name eth0 netns b-server
  ip -n b-laptop addr add 198.18.1.10/24 dev eth0; ip -n b-home addr add 198.18.1.1/24 dev lan
  ip -n b-home addr add 198.19.0.2/24 dev wan; ip -n b-isp addr add 198.19.0.1/24 dev sub
  ip -n b-isp addr add 203.0.113.1/24 dev up; ip -n b-server addr add 203.0.113.10/24 dev eth0
  ip -n b-laptop link set dev eth0 up; ip -n b-home link set dev lan up; ip -n b-home link set dev wan up
  ip -n b-isp link set dev sub up; ip -n b-isp link set dev up up; ip -n b-server link set dev eth0 up
  ip -n b-laptop route add default via 198.18.1.1; ip -n b-home route add default via 198.19.0.1
  ip netns exec b-home sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip netns exec b-isp sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip netns exec b-home nft -f "$DIR/home.nft"
  ip netns exec b-isp nft -f "$DIR/isp.nft"
  for n in laptop home isp server; do ip netns del b-$n; done
  e=$(date +%s%N)
  echo $((e - s))
done
"#;

/// Prints the NAT table.
pub fn table(runs: usize) {
    let text = nat_topology();
    let plain: String = text
        .lines()
        .filter(|l| !l.starts_with("nat "))
        .map(|l| format!("{l}\n"))
        .collect();
    let (with, without) = versus(
        runs,
        None,
        || Net::build(&text).unwrap(),
        || Net::build(&plain).unwrap(),
    );
    println!("| `fixtures/nat.topo` (4 nodes, 2 NATs), build + drop | median | ratio |");
    println!("|---|---|---|");
    println!(
        "| netns-test, with its two `nat` lines | {} | 1 |",
        ms(with)
    );
    println!(
        "| netns-test, the same without the `nat` lines | {} | the NATs cost {:.2}x |",
        ms(without),
        with.as_secs_f64() / without.as_secs_f64()
    );
    match script(30) {
        Some(s) => println!(
            "| `ip` + `nft -f` script building the same (30 runs) | {} | netns-test is {:.1}x faster |",
            ms(s),
            s.as_secs_f64() / with.as_secs_f64()
        ),
        None => println!("| `ip` + `nft` script | not run (needs `ip`, `nft` and `unshare`) | |"),
    }
}

fn script(runs: usize) -> Option<Duration> {
    let dir = std::env::temp_dir().join(format!("netns-bench-nat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("home.nft"), HOME_RULES).ok()?;
    std::fs::write(dir.join("isp.nft"), ISP_RULES).ok()?;
    let median = run_script(NAT_SCRIPT, runs, &[("DIR", dir.as_os_str())]);
    let _ = std::fs::remove_dir_all(&dir);
    median
}
