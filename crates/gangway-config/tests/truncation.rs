//! Every line of every seed config (`tests/fixtures/*.cfg`, the seeds' HAProxy configs), cut
//! after each of its words: the parser, the validator and the planner never panic, and every
//! problem they report names the file and a line of it.

use std::path::PathBuf;

use gangway_config::*;

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut configs: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cfg"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    configs.sort();
    assert!(configs.len() >= 6, "seed fixtures missing: {configs:?}");
    configs.push(("every-directive.cfg".to_owned(), EVERY_DIRECTIVE.to_owned()));
    configs
}

/// Every directive the parser knows, with its arguments, so that each one is cut too.
const EVERY_DIRECTIVE: &str = r#"global
    maxconn 1000
    hard-stop-after 30s
    log 127.0.0.1 local0
    tune.bufsize 16384
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 5s
    contimeout 5000
    option http-server-close
    option redispatch
    option httplog clf
    option forwardfor except 127.0.0.0/8 header X-Real-IP if-none
    no option logasap
    retries 3
    maxconn 500
    default-server inter 2s fall 3 rise 2 slowstart 10s
    errorfile 503 /dev/null
frontend fe
    bind 127.0.0.1:0 name main accept-proxy v4v6
    bind 127.0.0.1:8100-8101 backlog 10
    acl api hdr(host) -i "api.example.com" ${GANGWAY_TEST_UNSET-api2.example.com}
    acl ws hdr(Upgrade) -i websocket
    use_backend be_ws if ws { path_beg /ws } || api
    use_backend be unless ws
    default_backend be
    monitor-uri /alive
    monitor fail if { nbsrv(be) lt 1 }
    stats uri /metrics
    stats refresh 5s
    http-request redirect scheme https code 301 drop-query if !api
    http-request deny deny_status 403 if { path_beg /admin }
    http-request set-header X-A "a b" if api
    http-request del-header X-B
    http-response add-header X-C c unless ws
    timeout client-hs 10s
    capture request header Host len 32
backend be
    balance uri
    hash-type consistent sdbm avalanche
    option httpchk GET /health HTTP/1.1\r\nHost:\ svc
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host svc hdr X-A 1 comment c
    http-check expect status 200
    timeout check 2s
    timeout tunnel 1h
    server s1 127.0.0.1:9000 check inter 1s fastinter 500ms downinter 5s rise 2 fall 3 weight 10 maxconn 100 maxqueue 10 port 9001 addr 127.0.0.1 backup send-proxy-v2 on-marked-down shutdown-sessions on-error mark-down error-limit 5 observe layer7 pool-max-conn 10 pool-purge-delay 5s
    server s2 127.0.0.1:9002 disabled no-check no-send-proxy
    http-request set-header X-Backend be
backend be_ws
    balance hdr(Host)
    server w1 127.0.0.1:9003 verify none sni str(ws.local)
listen app
    bind 127.0.0.1:0
    balance url_param user
    server a1 127.0.0.1:9004
"#;

/// The byte offsets where a word of `line` ends and more text follows.
fn word_ends(line: &str) -> Vec<usize> {
    let bytes = line.as_bytes();
    let content_end = line.trim_end().len();
    (1..content_end)
        .filter(|&i| bytes[i].is_ascii_whitespace() && !bytes[i - 1].is_ascii_whitespace())
        .collect()
}

/// Parses (and, when accepted, plans) `text`. Refused, at least one error names a line; any
/// line named is a line of the file (a problem of the whole config, e.g. nothing to listen
/// on, may name none). Returns whether a diagnostic names line `at`.
fn check(text: &str, at: usize, what: &str) -> bool {
    let lines = text.lines().count();
    let mut seen = false;
    let mut look = |d: &Diagnostic| {
        assert_eq!(d.file, "cut.cfg", "{what}: {d}");
        if let Some(line) = d.line {
            assert!(
                (1..=lines).contains(&line),
                "{what}: not a line of the file: {d}"
            );
            seen |= line == at;
        }
    };
    let refused = |error: &Error| {
        assert!(
            error.diagnostics().iter().any(|d| d.line.is_some()),
            "{what}: refused without a line: {error}"
        );
    };
    match parse_haproxy(text, "cut.cfg") {
        Ok(loaded) => {
            loaded.warnings.iter().for_each(&mut look);
            match plan(&loaded, PlanOptions::default()) {
                Ok(planned) => planned.warnings.iter().for_each(&mut look),
                Err(error) => {
                    refused(&error);
                    error.diagnostics().iter().for_each(&mut look);
                }
            }
        }
        Err(error) => {
            refused(&error);
            error.diagnostics().iter().for_each(&mut look);
        }
    }
    seen
}

#[test]
fn every_line_cut_at_every_word_reports_with_file_and_line() {
    let mut cuts = 0;
    for (name, text) in fixtures() {
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            for end in word_ends(line) {
                let mut cut = lines.clone();
                cut[index] = &line[..end];
                let what = format!("{name}:{}: {:?}", index + 1, &line[..end]);
                let cut = cut.join("\n");
                let outcome = std::panic::catch_unwind(|| check(&cut, index + 1, &what));
                match outcome {
                    Ok(true) => {}
                    // Many cuts are valid shorter lines; listed for review with --nocapture.
                    Ok(false) => println!("no diagnostic at its line: {what}"),
                    Err(_) => panic!("{what}: panicked"),
                }
                cuts += 1;
            }
        }
    }
    assert!(cuts > 50, "only {cuts} cuts");
}

#[test]
fn a_directive_cut_to_its_keyword_is_an_error_at_its_line() {
    // Keywords that cannot stand alone: cut to the keyword, the line must be an error there.
    let needs_arguments = [
        "bind",
        "server",
        "acl",
        "use_backend",
        "default_backend",
        "timeout",
        "mode",
        "balance",
        "maxconn",
        "retries",
        "option",
        "contimeout",
        "clitimeout",
        "srvtimeout",
        "errorfile",
        "http-request",
        "http-response",
        "http-check",
        "monitor-uri",
        "hash-type",
    ];
    for (name, text) in fixtures() {
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let keyword = line.split_whitespace().next().unwrap_or("");
            if !needs_arguments.contains(&keyword) {
                continue;
            }
            let mut cut = lines.clone();
            cut[index] = keyword;
            let cut = cut.join("\n");
            let at = format!("cut.cfg:{}: ", index + 1);
            let errors: Vec<String> = match parse_haproxy(&cut, "cut.cfg") {
                Ok(_) => Vec::new(),
                Err(error) => error
                    .diagnostics()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            };
            assert!(
                errors.iter().any(|e| e.starts_with(&at)),
                "{name}:{}: '{keyword}' alone is not an error there: {errors:?}",
                index + 1
            );
        }
    }
}
