//! docs/config.md stays true: its TOML example loads, and its seed examples are the fixtures.

use std::path::Path;

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"))
        .unwrap()
}

#[test]
fn toml_reference_example_parses() {
    let doc = doc();
    let start = doc.find("## TOML").unwrap();
    let block = &doc[start..];
    let open = block.find("```toml\n").unwrap() + "```toml\n".len();
    let close = block[open..].find("```").unwrap();
    let text = &block[open..open + close];
    // The example's error file does not exist here; everything else must load.
    match gangway_config::parse_toml(text, "CONFIG.md") {
        Ok(_) => panic!("expected only the errorfile error"),
        Err(error) => {
            let errors = error.diagnostics();
            assert_eq!(errors.len(), 1, "{error}");
            assert_eq!(errors[0].keyword, "errorfile", "{error}");
        }
    }
    let without_errorfile = text.replace("errorfile = { 503 = \"/etc/gangway/503.http\" }\n", "");
    let loaded = gangway_config::parse_toml(&without_errorfile, "CONFIG.md").unwrap();
    let ws = loaded.config.backend("ws").unwrap();
    assert_eq!(
        ws.server[1].options.send_proxy,
        Some(gangway_config::ProxyVersion::V2)
    );
    assert_eq!(
        ws.server[0].options.inter,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        ws.server[1].options.inter,
        Some(std::time::Duration::from_secs(3)),
        "default-server from [defaults]"
    );
}

#[test]
fn seed_examples_are_the_fixtures() {
    let doc = doc();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            doc.contains(&text),
            "docs/config.md lacks {}",
            path.display()
        );
    }
}
