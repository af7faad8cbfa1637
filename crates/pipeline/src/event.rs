//! The NDJSON events: one JSON object per line, described by
//! `schema/events.schema.json`. Only this module decides their shape.

use crate::document::{Document, Source};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the event shape. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Nanoseconds since the epoch as RFC 3339 UTC (None for 0 = unknown).
pub fn rfc3339_from_ns(ns: i64) -> Option<String> {
    (ns != 0).then(|| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A unique id for event `seq` of this database.
pub fn event_id(seq: i64, kind: &str, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(kind.as_bytes());
    h.update(subject.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn envelope(kind: &str, seq: i64, at: &str, subject: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schema".into(), json!(SCHEMA_VERSION));
    m.insert("type".into(), json!(kind));
    m.insert("seq".into(), json!(seq));
    m.insert("event_id".into(), json!(event_id(seq, kind, subject)));
    m.insert("at".into(), json!(at));
    m
}

fn source_json(source: &Source) -> Value {
    json!({
        "path": source.path.to_string_lossy(),
        "size": source.size,
        "sha256": source.sha256,
        "mtime": rfc3339_from_ns(source.mtime_ns),
    })
}

/// `document.processed` or `document.duplicate`.
pub fn document_event(doc: &Document, seq: i64, at: &str) -> Value {
    let kind = if doc.duplicate.is_some() { "document.duplicate" } else { "document.processed" };
    let mut m = envelope(kind, seq, at, &doc.doc_id);
    m.insert("doc_id".into(), json!(doc.doc_id));
    m.insert("source".into(), source_json(&doc.source));
    m.insert("encoding".into(), json!(doc.decoding.encoding));
    m.insert("title".into(), json!(doc.title));
    m.insert("text".into(), json!(doc.text));
    m.insert("language".into(), json!(doc.language));
    let dates = doc.dates.clone().unwrap_or_default();
    m.insert("published".into(), json!(dates.published));
    m.insert("published_after".into(), json!(dates.published_after));
    m.insert("dates".into(), json!(dates.mentions));
    m.insert("entities".into(), entities_json(doc));
    m.insert(
        "duplicate_of".into(),
        match &doc.duplicate {
            Some(d) => json!({"doc_id": d.doc_id, "path": d.path, "kind": d.kind, "similarity": d.similarity}),
            None => Value::Null,
        },
    );
    if !doc.related.is_empty() {
        m.insert("related".into(), json!(doc.related));
    }
    m.insert("story_id".into(), json!(doc.duplicate.as_ref().map(|d| d.doc_id.as_str()).unwrap_or(&doc.doc_id)));
    m.insert("boilerplate_removed".into(), json!(doc.boilerplate_removed));
    m.insert("warnings".into(), json!(doc.warnings));
    if !doc.extra.is_empty() {
        m.insert("extra".into(), json!(doc.extra));
    }
    let timings: Map<String, Value> =
        doc.timings.iter().map(|(k, v)| (k.clone(), json!((v * 1000.0).round() / 1000.0))).collect();
    m.insert("timings_ms".into(), Value::Object(timings));
    Value::Object(m)
}

/// One entry per distinct (text, type), with its canonical name and every
/// span: `spans` into `text`, `title_spans` into `title`.
fn entities_json(doc: &Document) -> Value {
    struct Entry<'a> {
        canonical: &'a str,
        spans: Vec<[usize; 2]>,
        title_spans: Vec<[usize; 2]>,
    }
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut grouped: BTreeMap<(&str, &str), Entry> = BTreeMap::new();
    for m in &doc.entities {
        let key = (m.text.as_str(), m.kind.as_str());
        let e = grouped.entry(key).or_insert_with(|| {
            order.push(key);
            Entry { canonical: &m.canonical, spans: Vec::new(), title_spans: Vec::new() }
        });
        if m.field == "title" {
            e.title_spans.push([m.start, m.end]);
        } else {
            e.spans.push([m.start, m.end]);
        }
    }
    Value::Array(
        order
            .into_iter()
            .map(|key| {
                let e = &grouped[&key];
                let mut v = json!({"text": key.0, "type": key.1, "canonical": e.canonical, "spans": e.spans});
                if !e.title_spans.is_empty() {
                    v["title_spans"] = json!(e.title_spans);
                }
                v
            })
            .collect(),
    )
}

/// `document.failed`.
pub fn failed_event(path: &Path, source: Option<&Source>, reason: &str, message: &str, seq: i64, at: &str) -> Value {
    let mut m = envelope("document.failed", seq, at, &path.to_string_lossy());
    let src = match source {
        Some(s) => source_json(s),
        None => json!({"path": path.to_string_lossy()}),
    };
    m.insert("source".into(), src);
    m.insert("reason".into(), json!(reason));
    m.insert("message".into(), json!(message));
    Value::Object(m)
}

/// `daemon.started` / `daemon.stopped`, with free-form details.
pub fn daemon_event(kind: &str, seq: i64, at: &str, details: Value) -> Value {
    let mut m = envelope(kind, seq, at, at);
    if let Value::Object(d) = details {
        m.extend(d);
    }
    Value::Object(m)
}
