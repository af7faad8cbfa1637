//! End-to-end tests of the one-shot commands.

mod common;
use common::*;
use std::process::Command;

fn gleaner(ws: &Workspace) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gleaner"));
    c.arg("--config").arg(ws.config());
    c
}

#[test]
fn ingest_commits_in_the_order_given_and_fails_loudly() {
    let ws = Workspace::new();
    let input = ws.samples_folder();
    std::fs::write(input.join("zz-copy.txt"), &samples()[2].1).unwrap();
    std::fs::write(input.join("zz-empty.txt"), b"").unwrap();
    let out = gleaner(&ws).arg("ingest").arg(&input).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a failed file makes ingest exit non-zero");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zz-empty.txt"), "{stderr}");
    let docs = ws.document_events();
    let names: Vec<_> = docs.iter().map(base).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "committed in name order");
    let copy = docs.iter().find(|e| base(e) == "zz-copy.txt").unwrap();
    assert!(copy["duplicate_of"]["path"].as_str().unwrap().ends_with(&samples()[2].0));

    // Same decisions again into a fresh data folder.
    let data2 = ws.dir.path().join("data2");
    let out2 = gleaner(&ws).arg("--data").arg(&data2).arg("ingest").arg(&input).output().unwrap();
    assert_eq!(out2.status.code(), Some(1));
    let text = std::fs::read_to_string(data2.join("events.ndjson")).unwrap();
    let decisions = |evs: Vec<serde_json::Value>| evs.iter().map(|e| (base(e), e["type"].clone())).collect::<Vec<_>>();
    let again: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(decisions(docs), decisions(again));

    // A second ingest of the same files into the same folder changes nothing.
    let out3 = gleaner(&ws).arg("ingest").arg(&input).output().unwrap();
    assert!(String::from_utf8_lossy(&out3.stderr).contains("7 unchanged"), "{}", String::from_utf8_lossy(&out3.stderr));
    assert_eq!(ws.document_events().len(), 7);
}

#[test]
fn config_check_reports_line_and_column() {
    let ws = Workspace::new();
    std::fs::write(ws.config(), "[watch]\nsettle_ms = 10\n\n[[stages]]\ntype = \"clean\"\nmark_onyl = true\n").unwrap();
    let out = gleaner(&ws).args(["config", "check"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gleaner.toml:4:"), "{err}");
    assert!(err.contains("mark_onyl"), "{err}");
}

#[test]
fn embedded_default_config_checks_and_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_gleaner")).args(["config", "check"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_gleaner")).args(["config", "print"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("type = \"dedup\""));
}

#[test]
fn search_finds_cleaned_text() {
    let ws = Workspace::new();
    let input = ws.samples_folder();
    assert!(gleaner(&ws).arg("ingest").arg(&input).status().unwrap().success());
    let out = gleaner(&ws).args(["search", "Izadi AND Lebanon"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("000_"), "{stdout}");
    let out = gleaner(&ws).args(["search", "\"appeared first on\""]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 result(s)"), "footers are not indexed");
}

#[test]
fn exec_stage_adds_the_programs_answers() {
    let ws = Workspace::new();
    let config = format!(
        r#"
[data]
dir = "{data}"

[[stages]]
type = "clean"
[[stages]]
type = "exec"
name = "wordcount"
command = ["sh", "-c", "while read line; do echo '{{\"words\": 42}}'; done"]
"#,
        data = ws.data().display()
    );
    std::fs::write(ws.config(), config).unwrap();
    let input = ws.dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.txt"), report(3)).unwrap();
    let out = gleaner(&ws).arg("ingest").arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = ws.document_events();
    assert_eq!(docs[0]["extra"]["wordcount"]["words"], 42);
    let stored: String = ws.db().query_row("SELECT extra_json FROM documents", [], |r| r.get(0)).unwrap();
    assert!(stored.contains("\"words\":42"), "{stored}");
}

#[test]
fn ingest_finds_reposts_and_partial_reuse_and_decides_the_same_every_run() {
    let ws = Workspace::new();
    let input = ws.samples_folder();
    let text = |i: usize| String::from_utf8(samples()[i].1.clone()).unwrap();
    // An aggregator's repost of sample 2: its own header and footer, straight
    // quotes, the last paragraphs cut.
    let original = text(2);
    let lines: Vec<&str> = original.lines().collect();
    let repost = format!(
        "Izvor: vijesti.example | 22.11.2026.\n\n{}\n\nThe post Hamas Comeback appeared first on Example Aggregator.\nDetaljnije na izvornom linku >>>\n",
        lines[..lines.len() - 4].join("\n").replace(['’', '‘'], "'").replace(['“', '”'], "\"")
    );
    std::fs::write(input.join("zz-repost.txt"), repost).unwrap();
    // A piece that quotes more than half of sample 3 inside as much text of
    // its own: related both ways, not a copy.
    let reused = text(3);
    let reused_lines: Vec<&str> = reused.lines().collect();
    let piece = format!(
        "{}\n\n{}\n\n{}",
        report(3),
        reused_lines[..reused_lines.len() * 3 / 5].join("\n"),
        [report(4), report(5)].join("\n\n")
    );
    std::fs::write(input.join("zz-reuse.txt"), piece).unwrap();

    let out = gleaner(&ws).arg("ingest").arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = ws.document_events();
    let by_name = |n: &str| docs.iter().find(|e| base(e) == n).unwrap().clone();
    let repost = by_name("zz-repost.txt");
    assert_eq!(repost["type"], "document.duplicate", "{repost}");
    assert_eq!(repost["duplicate_of"]["kind"], "near");
    assert!(repost["duplicate_of"]["path"].as_str().unwrap().ends_with(&samples()[2].0));
    let reuse = by_name("zz-reuse.txt");
    assert_eq!(reuse["type"], "document.processed", "partial reuse is not a copy: {reuse}");
    let link = &reuse["related"][0];
    assert!(link["path"].as_str().unwrap().ends_with(&samples()[3].0), "{reuse}");
    assert!(link["other_in_this"].as_f64().unwrap() > 0.5, "{link}");
    // The five samples share a topic (Hamas, Iran) and some names, not text.
    for d in docs.iter().filter(|e| base(e).len() > 20) {
        assert_eq!(d["type"], "document.processed", "{}", base(d));
        assert!(d["related"].as_array().is_none_or(|r| r.is_empty()), "{}: {}", base(d), d["related"]);
    }
    assert_eq!(ws.count("SELECT count(*) FROM related"), 1);

    // Same decisions, similarities and links again into a fresh data folder.
    let data2 = ws.dir.path().join("data2");
    let out2 = gleaner(&ws).arg("--data").arg(&data2).arg("ingest").arg(&input).output().unwrap();
    assert!(out2.status.success());
    let again: Vec<serde_json::Value> =
        std::fs::read_to_string(data2.join("events.ndjson")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decisions = |evs: &[serde_json::Value]| {
        evs.iter()
            .filter(|e| e["type"].as_str().unwrap().starts_with("document."))
            .map(|e| (base(e), e["type"].clone(), e["duplicate_of"]["similarity"].clone(), e["related"].to_string()))
            .collect::<Vec<_>>()
    };
    let first: Vec<serde_json::Value> = ws.events();
    assert_eq!(decisions(&first).len(), 7);
    assert_eq!(decisions(&first), decisions(&again));
}
