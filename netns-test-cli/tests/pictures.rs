//! `netns-test draw`, checked the way a person sees it: the SVG is well-formed XML naming every
//! node, a browser renders it to a picture that is not blank, and Mermaid gets a flowchart.

use std::path::PathBuf;
use std::process::Command;

fn draw(fixture: &str, format: &str) -> String {
    let file = format!("{}/../fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_netns-test"))
        .args(["draw", &file, "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn nodes(fixture: &str) -> Vec<String> {
    let file = format!("{}/../fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(file).unwrap();
    let topology = netns_test::topology::parse(&text).unwrap();
    topology.nodes().iter().map(|n| n.name.clone()).collect()
}

/// Runs a Python 3 script (stdlib only) on `input`; its stdout.
fn python(script: &str, input: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script, input])
        .output()
        .expect("python3 (Debian's python3) checks what the standard library can read");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn the_svg_is_well_formed_xml_naming_every_node() {
    for fixture in ["nat.topo", "lan.topo", "router.topo"] {
        let svg = scratch(&format!("{fixture}.svg"));
        std::fs::write(&svg, draw(fixture, "svg")).unwrap();
        // Every text element's words, from a real XML parser.
        let texts = python(
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             assert root.tag.endswith('svg'), root.tag\n\
             print('\\n'.join(' '.join(t.itertext()) for t in root.iter() if t.tag.endswith('text')))",
            svg.to_str().unwrap(),
        );
        let words: Vec<&str> = texts.split_whitespace().collect();
        for node in nodes(fixture) {
            assert!(
                words.contains(&node.as_str()),
                "{fixture}: no `{node}` in {texts}"
            );
        }
    }
}

#[test]
fn dot_and_mermaid_name_every_node_and_link() {
    let mermaid = draw("nat.topo", "mermaid");
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert_eq!(mermaid.matches("---|").count(), 3, "{mermaid}");
    let dot = draw("nat.topo", "dot");
    assert!(dot.starts_with("graph topology {"), "{dot}");
    for node in nodes("nat.topo") {
        assert!(mermaid.contains(&node) && dot.contains(&node), "{node}");
    }
    assert!(dot.contains("nat symmetric on up (203.0.113.1)"), "{dot}");
}

/// How the SVG looks: Debian's chromium renders it headless to PNG, and the PNG must hold a
/// drawing, not a blank page. `.ci/run` installs chromium and runs this.
#[test]
#[ignore = "needs chromium (apt-get install chromium); .ci/run runs it"]
fn a_browser_renders_the_svg_to_a_picture_that_is_not_blank() {
    for fixture in ["nat.topo", "lan.topo"] {
        let svg = scratch(&format!("{fixture}.render.svg"));
        std::fs::write(&svg, draw(fixture, "svg")).unwrap();
        let png = scratch(&format!("{fixture}.png"));
        let profile = scratch(&format!("{fixture}.profile"));
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                &format!("--user-data-dir={}", profile.display()),
                &format!("--screenshot={}", png.display()),
                "--window-size=1000,900",
                &format!("file://{}", svg.display()),
            ])
            .output()
            .expect("chromium");
        assert!(png.exists(), "{}", String::from_utf8_lossy(&out.stderr));
        // Decoded with the standard library: how many pixels differ from the page's corner.
        let drawn: f64 = python(PNG_INK, png.to_str().unwrap())
            .trim()
            .parse()
            .unwrap();
        assert!(
            drawn > 0.001,
            "{fixture}: only {drawn} of the picture is drawn"
        );
        let _ = std::fs::remove_dir_all(&profile);
    }
}

/// Prints the share of a PNG's pixels that differ from its top-left one (8-bit RGB or RGBA).
const PNG_INK: &str = r#"
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, width, height, channels = 8, b'', 0, 0, 0
while pos < len(data):
    (length,), kind = struct.unpack('>I', data[pos:pos+4]), data[pos+4:pos+8]
    body = data[pos+8:pos+8+length]
    if kind == b'IHDR':
        width, height, depth, color = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and color in (2, 6), (depth, color)
        channels = 3 if color == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + length
raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
for y in range(height):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b, c = prev[i], prev[i - channels] if i >= channels else 0
        p = a + b - c
        pred = [0, a, b, (a + b) // 2, a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)][f]
        line[i] = (line[i] + pred) & 0xff
    rows.append(line)
    prev = line
corner = bytes(rows[0][:channels])
ink = sum(1 for row in rows for x in range(width) if bytes(row[x*channels:(x+1)*channels]) != corner)
print(ink / (width * height))
"#;

#[test]
fn the_readmes_pictures_are_what_draw_draws_today() {
    for fixture in ["nat", "lan", "router"] {
        let file = format!("{}/../docs/{fixture}.svg", env!("CARGO_MANIFEST_DIR"));
        let checked_in = std::fs::read_to_string(&file).unwrap();
        assert!(
            checked_in == draw(&format!("{fixture}.topo"), "svg"),
            "{file} is stale: `netns-test draw fixtures/{fixture}.topo > docs/{fixture}.svg`"
        );
    }
}
