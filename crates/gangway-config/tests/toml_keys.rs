//! An unknown key in any TOML table is an error naming the key and its line (docs/config.md:
//! "Unknown keys are errors with their line"), including the tables whose keys belong to two
//! Rust types (servers, `http-request`/`http-response` rules).

use std::path::Path;

use gangway_config::{Error, parse_toml};

/// The TOML reference example of docs/config.md, without its (missing) error file, plus the
/// tables it does not show, so that every kind of table is present.
fn reference() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"))
            .unwrap();
    let block = &doc[doc.find("## TOML").unwrap()..];
    let open = block.find("```toml\n").unwrap() + "```toml\n".len();
    let close = block[open..].find("```").unwrap();
    let text = block[open..open + close]
        .replace("errorfile = { 503 = \"/etc/gangway/503.http\" }\n", "")
        .replace(
            "monitor-uri = \"/alive\"\n",
            "monitor-uri = \"/alive\"\nmonitor-fail = [{ if = \"{ nbsrv(ws) lt 1 }\" }]\n\
             option.forwardfor = { header = \"X-Client\" }\nstats-uri = \"/stats\"\n",
        );
    assert!(
        text.contains("monitor-fail"),
        "the example changed; update this test"
    );
    text
}

fn errors(text: &str) -> Vec<gangway_config::Diagnostic> {
    match parse_toml(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(Error::Invalid { errors, .. }) => errors,
        Err(other) => panic!("{other}"),
    }
}

/// Every table of `value` (tables and tables in arrays), as paths from the root.
fn tables(value: &toml::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        toml::Value::Table(table) => {
            out.push(path.clone());
            for (key, value) in table {
                path.push(key.clone());
                tables(value, path, out);
                path.pop();
            }
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                tables(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn table_at<'v>(value: &'v mut toml::Value, path: &[String]) -> &'v mut toml::Table {
    let mut here = value;
    for step in path {
        here = match here {
            toml::Value::Table(table) => table.get_mut(step).unwrap(),
            toml::Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    here.as_table_mut().unwrap()
}

#[test]
fn a_misspelled_key_in_every_table_is_an_error_at_its_line() {
    let text = reference();
    assert_eq!(errors(&text), Vec::new(), "the reference example loads");
    let document = toml::Value::Table(toml::from_str(&text).unwrap());
    let mut paths = Vec::new();
    tables(&document, &mut Vec::new(), &mut paths);
    let mut checked = 0;
    for path in paths {
        // `errorfile` would be a table of status codes: not in the example, nothing to misspell.
        let mut mutated = document.clone();
        table_at(&mut mutated, &path).insert("misspelt_key".into(), toml::Value::Integer(1));
        let written = toml::to_string(&mutated).unwrap();
        let line = written
            .lines()
            .position(|line| line.contains("misspelt_key"))
            .unwrap()
            + 1;
        let found = errors(&written);
        assert_eq!(found.len(), 1, "{path:?}: {found:?}\n{written}");
        assert!(
            found[0].message.contains("unknown field `misspelt_key`"),
            "{path:?}: {}",
            found[0]
        );
        assert_eq!(
            found[0].line,
            Some(line),
            "{path:?}: {}\n{written}",
            found[0]
        );
        checked += 1;
    }
    // global, defaults (+ timeout, option, default-server), frontend (+ bind x4, acl,
    // use_backend, monitor-fail, option, forwardfor, http-request x3, http-response), backends.
    assert!(checked >= 25, "only {checked} tables");
}

fn rule(rule: &str) -> String {
    format!(
        "[[frontend]]\nname = \"f\"\nbind = [{{ address = \"127.0.0.1:0\" }}]\n\
         default_backend = \"b\"\nhttp-request = [\n  {rule},\n]\n\
         [[backend]]\nname = \"b\"\nserver = [{{ name = \"s1\", address = \"127.0.0.1:1\" }}]\n"
    )
}

#[test]
fn a_misspelled_unless_is_not_an_unconditional_deny() {
    let found = errors(&rule(
        r#"{ action = "deny", unles = "{ src 10.0.0.0/8 }" }"#,
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(6), "{}", found[0]);
    assert!(
        found[0].message.contains("unknown field `unles`"),
        "{}",
        found[0]
    );
}

#[test]
fn haproxy_spelling_deny_status_is_an_error_not_a_403() {
    let found = errors(&rule(r#"{ action = "deny", deny_status = 429 }"#));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(6), "{}", found[0]);
    assert!(
        found[0].message.contains("unknown field `deny_status`"),
        "{}",
        found[0]
    );
}

#[test]
fn a_key_of_another_action_is_an_error() {
    let found = errors(&rule(r#"{ action = "deny", name = "X-A" }"#));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(6), "{}", found[0]);
    assert!(
        found[0].message.contains("unknown field `name`"),
        "{}",
        found[0]
    );
}

#[test]
fn a_misspelled_server_option_is_an_error() {
    let text = "[[backend]]\nname = \"b\"\nserver = [\n  { name = \"s0\", address = \"127.0.0.1:1\" },\n  \
                { name = \"s1\", address = \"127.0.0.1:2\", chek = true },\n]\n";
    let found = errors(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(5), "{}", found[0]);
    assert!(
        found[0].message.contains("unknown field `chek`"),
        "{}",
        found[0]
    );
}

#[test]
fn server_values_and_missing_keys_still_report_their_line() {
    let text = "[[backend]]\nname = \"b\"\nserver = [\n  { name = \"s0\", address = \"127.0.0.1:1\" },\n  \
                { name = \"s1\", address = \"127.0.0.1:2\", inter = \"2x\" },\n  { name = \"s2\" },\n]\n";
    let found = errors(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(5), "{}", found[0]);
    let text = "[[backend]]\nname = \"b\"\nserver = [\n  { name = \"s2\" },\n]\n";
    let found = errors(text);
    assert_eq!(found[0].line, Some(4), "{}", found[0]);
    assert!(found[0].message.contains("address"), "{}", found[0]);
}

#[test]
fn an_argument_beside_an_algorithm_without_arguments_is_an_error() {
    let text =
        "[[backend]]\nname = \"b\"\nbalance = { algorithm = \"leastconn\", name = \"Host\" }\n";
    let found = errors(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(3), "{}", found[0]);
    assert!(
        found[0].message.contains("unknown field `name`"),
        "{}",
        found[0]
    );
    let loaded = parse_toml(&rule("{ action = \"deny\" }"), "t.toml").unwrap();
    assert_eq!(loaded.config.backends[0].balance, None);
    let text = rule("{ action = \"deny\" }").replace(
        "name = \"b\"\n",
        "name = \"b\"\nbalance = { algorithm = \"random\" }\n",
    );
    let loaded = parse_toml(&text, "t.toml").unwrap();
    assert_eq!(
        loaded.config.backends[0].balance,
        Some(gangway_config::Balance::Random { draws: 2 })
    );
}
