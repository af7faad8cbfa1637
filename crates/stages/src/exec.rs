//! `exec`: the [`ExternalProgram`] stage. Runs a program of the user's
//! (a model in Python, a script in any language) over every document: one
//! JSON line in on its stdin, one JSON line of annotations out on its stdout.
//!
//! In:  `{"doc_id", "path", "title", "text", "language"}`
//! Out: any JSON object. `entities` (`[{text, type, start, end, canonical?}]`,
//! spans in `text`) are added to the document's entities and `language`
//! (`{code, confidence}`) replaces the detected one; every other key is kept
//! under `extra.<stage name>` in the event and in `documents.extra_json`.
//!
//! The program is started once and kept running; documents go to it one at
//! a time. A program that dies or misses the timeout is restarted for the
//! next document; the document it was working on fails with `stage_error`.

use gleaner_pipeline::document::{EntityMention, Language};
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use serde::Deserialize;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// Options of an `exec` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// Name of this stage in timings, errors and `extra` (default `exec`).
    #[serde(default = "default_name")]
    pub name: String,
    /// The program and its arguments, e.g. `["python3", "tagger.py"]`.
    pub command: Vec<String>,
    /// Longest wait for one document's answer, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_name() -> String {
    "exec".into()
}

fn default_timeout() -> u64 {
    10_000
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: ExecConfig = parse_options(table)?;
    if config.command.is_empty() {
        return Err("`command` needs the program to run, e.g. [\"python3\", \"tagger.py\"]".into());
    }
    // Fail at start-up, not on every document, when the program cannot run.
    std::process::Command::new(&config.command[0])
        .args(&config.command[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|mut c| {
            let _ = c.kill();
            let _ = c.wait();
        })
        .map_err(|e| format!("cannot start {:?}: {e}", config.command[0]))?;
    Ok(BuiltStage::Parallel(Arc::new(ExternalProgram { config, process: Mutex::new(None) })))
}

/// The running program and its pipes.
struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The stage.
pub struct ExternalProgram {
    config: ExecConfig,
    /// Started on the first document; `None` again after a failure.
    process: Mutex<Option<Running>>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    entities: Vec<AnswerEntity>,
    #[serde(default)]
    language: Option<Language>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct AnswerEntity {
    text: String,
    #[serde(rename = "type")]
    kind: String,
    start: usize,
    end: usize,
    #[serde(default)]
    canonical: Option<String>,
}

impl ExternalProgram {
    fn fail(&self, message: String) -> StageError {
        StageError::Failed { stage: self.config.name.clone(), message }
    }

    fn spawn(&self) -> Result<Running, StageError> {
        let mut child = Command::new(&self.config.command[0])
            .args(&self.config.command[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.fail(format!("cannot start {:?}: {e}", self.config.command)))?;
        let stdin = child.stdin.take().ok_or_else(|| self.fail("no stdin".into()))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| self.fail("no stdout".into()))?);
        Ok(Running { child, stdin, stdout })
    }

    async fn ask(&self, running: &mut Running, line: &str) -> Result<String, StageError> {
        let written = async {
            running.stdin.write_all(line.as_bytes()).await?;
            running.stdin.write_all(b"\n").await?;
            running.stdin.flush().await
        }
        .await;
        match written {
            Ok(()) => {}
            // A program that has exited may be caught here or at the read
            // below, whichever comes first: one message for both.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Err(self.closed(running, "input")),
            Err(e) => return Err(self.fail(format!("write to the program: {e}"))),
        }
        let mut answer = String::new();
        let n = running.stdout.read_line(&mut answer).await.map_err(|e| self.fail(format!("read from the program: {e}")))?;
        if n == 0 {
            return Err(self.closed(running, "output"));
        }
        Ok(answer)
    }

    fn closed(&self, running: &mut Running, pipe: &str) -> StageError {
        let status = running.child.try_wait().ok().flatten();
        self.fail(format!("the program closed its {pipe} (exit status {status:?}); it is restarted for the next document"))
    }
}

#[async_trait]
impl Stage for ExternalProgram {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let request = serde_json::json!({
            "doc_id": doc.doc_id,
            "path": doc.source.path.to_string_lossy(),
            "title": doc.title,
            "text": doc.text,
            "language": doc.language.as_ref().map(|l| l.code.as_str()),
        })
        .to_string();
        let mut guard = self.process.lock().await;
        if guard.is_none() {
            *guard = Some(self.spawn()?);
        }
        let running = guard.as_mut().expect("just started");
        let timeout = std::time::Duration::from_millis(self.config.timeout_ms);
        let answer = match tokio::time::timeout(timeout, self.ask(running, &request)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                *guard = None; // restarted for the next document
                return Err(e);
            }
            Err(_) => {
                *guard = None;
                return Err(
                    self.fail(format!("no answer within {} ms (timeout_ms); the program is restarted", self.config.timeout_ms))
                );
            }
        };
        drop(guard);
        let answer: Answer = serde_json::from_str(answer.trim())
            .map_err(|e| self.fail(format!("the program's answer is not the expected JSON object: {e}")))?;
        for e in answer.entities {
            let ok = e.start <= e.end
                && e.end <= doc.text.len()
                && doc.text.is_char_boundary(e.start)
                && doc.text.is_char_boundary(e.end);
            if !ok || !matches!(e.kind.as_str(), "PERSON" | "ORG" | "LOCATION") {
                doc.warn(&self.config.name, format!("ignored entity {:?}: bad span or type {:?}", e.text, e.kind));
                continue;
            }
            let canonical = e.canonical.unwrap_or_else(|| e.text.clone());
            doc.entities.push(EntityMention {
                text: e.text,
                kind: e.kind,
                canonical,
                field: "text".into(),
                start: e.start,
                end: e.end,
            });
        }
        if let Some(l) = answer.language {
            doc.language = Some(l);
        }
        if !answer.rest.is_empty() {
            doc.extra.insert(self.config.name.clone(), serde_json::Value::Object(answer.rest));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(script: &str, timeout_ms: u64) -> Arc<dyn Stage> {
        let mut t = toml::Table::new();
        t.insert("command".into(), toml::Value::Array(vec!["sh".into(), "-c".into(), script.into()]));
        t.insert("timeout_ms".into(), toml::Value::Integer(timeout_ms as i64));
        t.insert("name".into(), "mytagger".into());
        match build(t).unwrap() {
            BuiltStage::Parallel(s) => s,
            BuiltStage::Ordered(_) => unreachable!(),
        }
    }

    #[tokio::test]
    async fn annotations_come_back_from_the_program() {
        // Answers every line with a fixed annotation set.
        let s = stage(
            r#"while read line; do echo '{"entities":[{"text":"Gaza","type":"LOCATION","start":0,"end":4}],"sentiment":-0.4}'; done"#,
            5000,
        );
        let mut doc = Document::from_text("a.txt", "Gaza is calm.");
        s.process(&mut doc).await.unwrap();
        s.process(&mut doc).await.unwrap();
        assert_eq!(doc.entities.len(), 2);
        assert_eq!(doc.extra["mytagger"]["sentiment"], -0.4);
    }

    #[tokio::test]
    async fn a_silent_program_times_out_and_a_dead_one_fails_the_document() {
        let s = stage("sleep 5", 200);
        let mut doc = Document::from_text("a.txt", "text");
        let err = s.process(&mut doc).await.unwrap_err().to_string();
        assert!(err.contains("timeout_ms"), "{err}");
        let s = stage("exit 0", 2000);
        let err = s.process(&mut doc).await.unwrap_err().to_string();
        // The program is gone before or after the request is written.
        assert!(err.contains("the program closed its"), "{err}");
    }

    #[test]
    fn a_missing_program_is_a_config_error() {
        let mut t = toml::Table::new();
        t.insert("command".into(), toml::Value::Array(vec!["no-such-program-gleaner".into()]));
        assert!(build(t).is_err());
    }
}
