//! Pictures of a topology: DOT (for Graphviz), a Mermaid flowchart (for Markdown), and SVG drawn
//! in process by layout-rs from the same DOT, so no Graphviz is needed.

use std::fmt::Write as _;

use netns_test_topology::{InterfaceKind, Node, Topology};

/// The topology as a Graphviz graph: a box per node (a switch's drawn round), its NAT and
/// firewall, an edge per link with each end's interface and addresses, and the link's
/// conditions.
///
/// ```
/// let t = netns_test::topology::parse("a -- b delay=5ms").unwrap();
/// let dot = netns_test::picture::dot(&t);
/// assert!(dot.starts_with("graph"));
/// assert!(dot.contains("eth0 198.18.0.1/24"));
/// ```
pub fn dot(topology: &Topology) -> String {
    let mut out = String::from("graph topology {\n");
    for (i, node) in topology.nodes().iter().enumerate() {
        let shape = if node.is_switch { "ellipse" } else { "box" };
        let _ = writeln!(
            out,
            "  n{i} [shape={shape}, label=\"{}\"];",
            escape(&node_label(node).join("\n"))
        );
    }
    for link in topology.links() {
        let [a, b] = link.ends;
        let _ = writeln!(
            out,
            "  n{} -- n{} [label=\"{}\"];",
            a.node,
            b.node,
            escape(&link_label(topology, link).join("\n"))
        );
    }
    out.push_str("}\n");
    out
}

/// The topology as a Mermaid `flowchart`, for Markdown that renders Mermaid (GitHub, mdBook).
///
/// ```
/// let t = netns_test::topology::parse("a -- b").unwrap();
/// assert!(netns_test::picture::mermaid(&t).starts_with("flowchart LR"));
/// ```
pub fn mermaid(topology: &Topology) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, node) in topology.nodes().iter().enumerate() {
        let label = node_label(node).join("<br/>").replace('"', "#quot;");
        let (open, close) = if node.is_switch {
            ("((", "))")
        } else {
            ("[", "]")
        };
        let _ = writeln!(out, "  n{i}{open}\"{label}\"{close}");
    }
    for link in topology.links() {
        let [a, b] = link.ends;
        let label = link_label(topology, link)
            .join("<br/>")
            .replace('"', "#quot;");
        let _ = writeln!(out, "  n{} ---|\"{label}\"| n{}", a.node, b.node);
    }
    out
}

/// The topology drawn as SVG (the picture of [`dot`], laid out by layout-rs).
///
/// ```
/// let t = netns_test::topology::parse("a -- r\nr -- b\nnat r eth1").unwrap();
/// let svg = netns_test::picture::svg(&t);
/// assert!(svg.contains("<svg") && svg.contains(">r<"));
/// ```
pub fn svg(topology: &Topology) -> String {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let text = dot(topology);
    let graph = DotParser::new(&text)
        .process()
        .expect("the DOT written here parses");
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    writer.finalize()
}

/// A node's lines: its name, what it is, its NAT and firewalls.
fn node_label(node: &Node) -> Vec<String> {
    let mut lines = vec![node.name.clone()];
    if node.is_switch {
        let addresses: Vec<String> = node.interfaces[0]
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        lines.push(
            format!("switch {}", addresses.join(" "))
                .trim_end()
                .to_string(),
        );
    }
    if let Some(nat) = &node.nat {
        lines.push(format!(
            "nat {} on {} ({})",
            nat.kind.word(),
            node.interfaces[nat.outside].name,
            nat.address
        ));
    } else if node.forward {
        lines.push("forwards".into());
    }
    for firewall in &node.firewalls {
        let rules: Vec<String> = firewall.rules.iter().map(ToString::to_string).collect();
        let scope = firewall
            .iface
            .map(|i| format!(" in {}", node.interfaces[i].name))
            .unwrap_or_default();
        lines.push(format!("firewall{scope} {}", rules.join(" ")));
    }
    lines
}

/// A link's lines: each end's interface and addresses (a switch port's name alone), and its
/// conditions and MTU.
fn link_label(topology: &Topology, link: &netns_test_topology::Link) -> Vec<String> {
    let mut lines: Vec<String> = link
        .ends
        .iter()
        .map(|end| {
            let iface = &topology.nodes()[end.node].interfaces[end.iface];
            let mut words = vec![iface.name.clone()];
            if !matches!(
                iface.kind,
                InterfaceKind::Veth {
                    bridge: Some(_),
                    ..
                }
            ) {
                words.extend(iface.addresses.iter().map(ToString::to_string));
            }
            words.join(" ")
        })
        .collect();
    let mut options = Vec::new();
    if let Some(mtu) = link.mtu {
        options.push(format!("mtu={mtu}"));
    }
    if let Some(c) = &link.conditions {
        options.push(crate::Conditions::from_topology(c).to_string());
    }
    if !options.is_empty() {
        lines.push(options.join(" "));
    }
    lines
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
