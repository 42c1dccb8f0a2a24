//! `netns-test`: check topology files, bring a topology up (and ping across it), run a command
//! inside a node. Everything goes through the same library and parser as the tests.

mod blocked;
mod ping;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use netns_test::Net;
use netns_test::topology::Topology;

/// The topology `up` builds when given no file: SPEC's router example.
/// (Written out here, not included from `fixtures/`, so the crate packages on its own; a test
/// checks it is the fixture, word for word.)
const DEFAULT_TOPOLOGY: &str = "\
# Two hosts on two subnets, joined by a router that forwards between them.
node r forward
h1 203.0.113.10/24 -- r 203.0.113.1/24
r 198.51.100.1/24 -- h2 198.51.100.10/24
route h1 default via 203.0.113.1
route h2 default via 198.51.100.1
";

/// Check topology files, bring a topology up and ping across it, run a command inside a node.
/// Everything goes through the same library and parser as the tests.
#[derive(Parser)]
#[command(name = "netns-test", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate topology files; a mistake reads as the attribute prints it at compile time
    Check {
        /// The topology files
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Build a topology, print its nodes, interfaces, addresses, NATs and firewalls and the
    /// build time, then tear it down
    Up {
        /// A topology file (default: the embedded fixtures/router.topo)
        file: Option<String>,
        /// Every node pings every other node's address; exit 1 if a pair fails that no declared
        /// NAT or firewall stops
        #[arg(long)]
        pingall: bool,
    },
    /// Run a command inside a node of a topology; its exit status is ours
    Run {
        /// The topology file
        file: String,
        /// The node (default: the first named)
        #[arg(long)]
        node: Option<String>,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Remove the /run/netns pins (NETNS_TEST_KEEP=1) and the names directories of test processes that are gone
    Clean,
    /// Draw a topology file: nodes, switches, links with interfaces and addresses, NATs,
    /// firewalls and link conditions, to standard output
    Draw {
        /// The topology file
        file: String,
        /// The picture's format
        #[arg(long, value_enum, default_value_t = Format::Svg)]
        format: Format,
    },
}

/// What `draw` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// SVG, laid out here (no Graphviz needed)
    Svg,
    /// Graphviz DOT
    Dot,
    /// A Mermaid flowchart
    Mermaid,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check { files } => check(&files),
        Command::Up { file, pingall } => up(file.as_deref(), pingall),
        Command::Run {
            file,
            node,
            command,
        } => run(&file, node.as_deref(), &command),
        Command::Clean => clean(),
        Command::Draw { file, format } => draw(&file, format),
    };
    result.unwrap_or_else(|message| {
        eprintln!("netns-test: {message}");
        ExitCode::from(2)
    })
}

fn check(files: &[String]) -> Result<ExitCode, String> {
    let mut failed = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        match netns_test::topology::parse(&text) {
            Ok(t) => println!(
                "{file}: ok ({} nodes, {} links)",
                t.nodes().len(),
                t.links().len()
            ),
            Err(e) => {
                // The same words the attribute prints at compile time.
                eprintln!("error: invalid topology in {file}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn load(file: Option<&str>) -> Result<(String, Topology), String> {
    let (name, text) = match file {
        Some(file) => (
            file.to_string(),
            std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?,
        ),
        None => (
            "fixtures/router.topo (embedded)".to_string(),
            DEFAULT_TOPOLOGY.to_string(),
        ),
    };
    let topology = netns_test::topology::parse(&text)
        .map_err(|e| format!("invalid topology in {name}: {e}"))?;
    Ok((name, topology))
}

fn up(file: Option<&str>, pingall: bool) -> Result<ExitCode, String> {
    let (name, topology) = load(file)?;
    let links = topology.links().len();
    let started = Instant::now();
    let net = Net::from_topology(topology).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    println!(
        "{name}: built {} nodes and {links} links in {:.2} ms",
        net.nodes().count(),
        elapsed.as_secs_f64() * 1e3
    );
    print_nodes(&net);
    let mut code = ExitCode::SUCCESS;
    if pingall && !pingall_matrix(&net) {
        code = ExitCode::FAILURE;
    }
    let started = Instant::now();
    drop(net);
    println!(
        "torn down in {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(code)
}

fn print_nodes(net: &Net) {
    let width = net.nodes().map(|n| n.name().len()).max().unwrap_or(0);
    for (spec, node) in net.topology().nodes().iter().zip(net.nodes()) {
        let kind = if spec.is_switch {
            " (switch)"
        } else if spec.forward {
            " (forwards)"
        } else {
            ""
        };
        println!("{:width$}{kind}", node.name());
        for iface in &spec.interfaces {
            let addrs: Vec<String> = iface.addresses.iter().map(|a| a.to_string()).collect();
            let mtu = iface.mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
            println!(
                "  {:<15} {}{mtu}",
                iface.name,
                if addrs.is_empty() {
                    "-".into()
                } else {
                    addrs.join(" ")
                }
            );
        }
        if let Some(nat) = &spec.nat {
            let mut options = String::new();
            if nat.hairpin {
                options.push_str(" hairpin");
            }
            if let Some(secs) = nat.timeout_secs {
                options.push_str(&format!(" timeout={secs}s"));
            }
            println!(
                "  nat {} on {} ({}){options}",
                nat.kind.word(),
                spec.interfaces[nat.outside].name,
                nat.address
            );
        }
        for firewall in &spec.firewalls {
            let scope = firewall
                .iface
                .map(|i| format!(" in {}", spec.interfaces[i].name))
                .unwrap_or_default();
            let rules: Vec<String> = firewall.rules.iter().map(|r| r.to_string()).collect();
            println!("  firewall{scope} {}", rules.join(" "));
        }
        for route in &spec.routes {
            let via = match route.via {
                netns_test::topology::RouteVia::Gateway(gw) => format!("via {gw}"),
                netns_test::topology::RouteVia::Dev(i) => {
                    format!("dev {}", spec.interfaces[i].name)
                }
            };
            println!("  route {} {via}", route.dest);
        }
    }
    for link in net.links() {
        if let (Some(conditions), Some(seed)) = (link.conditions(), link.seed()) {
            println!("link {link}: {conditions} seed={seed}");
        }
    }
}

/// Every node with an address pings every other such node's `ip()`; prints the matrix. A pair
/// the topology's own NATs and firewalls stop is shown as such and expected to stay silent;
/// false if any other pair fails, or a stopped pair answers.
fn pingall_matrix(net: &Net) -> bool {
    let nodes: Vec<_> = net.nodes().filter(|n| !n.ips().is_empty()).collect();
    let width = nodes
        .iter()
        .map(|n| n.name().len())
        .max()
        .unwrap_or(0)
        .max(8);
    println!("pingall (rows ping columns; `nat`, `firewall`: stopped by declaration):");
    print!("{:width$}", "");
    for n in &nodes {
        print!(" {:>width$}", n.name());
    }
    println!();
    let index = |n: &netns_test::Node| net.topology().node_index(n.name()).expect("its node");
    let (mut answered, mut total, mut failed) = (0, 0, 0);
    let mut stopped: Vec<String> = Vec::new();
    for (i, from) in nodes.iter().enumerate() {
        print!("{:width$}", from.name());
        for (j, to) in nodes.iter().enumerate() {
            if i == j {
                print!(" {:>width$}", "-");
                continue;
            }
            total += 1;
            let target: IpAddr = to.ip();
            let id = (i * nodes.len() + j) as u16;
            let by = blocked::blocked(net.topology(), index(from), index(to));
            // A ping that should be stopped is given less time to prove it is.
            let wait = Duration::from_millis(if by.is_some() { 200 } else { 1000 });
            let outcome = from.run(move || ping::ping(target, id, wait));
            let cell = match (outcome, by) {
                (Ok(rtt), None) => {
                    answered += 1;
                    format!("{:.2}ms", rtt.as_secs_f64() * 1e3)
                }
                (Err(_), None) => {
                    failed += 1;
                    "FAIL".to_string()
                }
                (Err(_), Some(by)) => {
                    let cell = by.split(' ').next().unwrap_or("").to_string();
                    stopped.push(format!("{} -> {} ({by})", from.name(), to.name()));
                    cell
                }
                (Ok(_), Some(_)) => {
                    failed += 1;
                    "LEAK".to_string()
                }
            };
            print!(" {cell:>width$}");
        }
        println!();
    }
    println!(
        "{answered}/{total} pairs answered, {} stopped by a declared NAT or firewall, {failed} failed",
        stopped.len()
    );
    for pair in &stopped {
        println!("  stopped by declaration: {pair}");
    }
    failed == 0
}

fn draw(file: &str, format: Format) -> Result<ExitCode, String> {
    let (_, topology) = load(Some(file))?;
    let picture = match format {
        Format::Svg => netns_test::picture::svg(&topology),
        Format::Dot => netns_test::picture::dot(&topology),
        Format::Mermaid => netns_test::picture::mermaid(&topology),
    };
    print!("{picture}");
    Ok(ExitCode::SUCCESS)
}

fn clean() -> Result<ExitCode, String> {
    let dir = std::path::Path::new(netns_test::PIN_DIR);
    let removed = netns_test::clean_stale_pins(dir)
        .map_err(|e| format!("cannot clean {}: {e}", dir.display()))?;
    for pin in &removed {
        println!("removed {}", pin.display());
    }
    if removed.is_empty() {
        println!("no stale pins in {}", dir.display());
    }
    let temp = std::env::temp_dir();
    let names = netns_test::clean_stale_names(&temp)
        .map_err(|e| format!("cannot clean {}: {e}", temp.display()))?;
    for dir in &names {
        println!("removed {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run(file: &str, node: Option<&str>, command: &[String]) -> Result<ExitCode, String> {
    let (_, topology) = load(Some(file))?;
    if let Some(n) = node
        && topology.node(n).is_none()
    {
        let known: Vec<&str> = topology.nodes().iter().map(|n| n.name.as_str()).collect();
        return Err(format!(
            "no node `{n}` in {file} (nodes: {})",
            known.join(", ")
        ));
    }
    let net = Net::from_topology(topology).map_err(|e| e.to_string())?;
    let target = match node {
        Some(n) => net.node(n),
        None => net.nodes().next().expect("a topology has a node"),
    };
    let status = target
        .command(&command[0])
        .args(&command[1..])
        .status()
        .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    drop(net);
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_topology_is_the_router_fixture() {
        assert_eq!(
            super::DEFAULT_TOPOLOGY,
            include_str!("../../fixtures/router.topo")
        );
    }
}
