//! Gleaner's built-in stages, one module each. A stage is a config struct
//! (serde, `deny_unknown_fields`, documented fields with defaults), a
//! `build()` that turns its TOML table into a runtime, and the runtime.
//!
//! | name | struct | kind |
//! |---|---|---|
//! | `clean` | [`clean::BoilerplateStripper`] | parallel |
//! | `language` | [`language::LanguageDetector`] | parallel |
//! | `dates` | [`dates::DateExtractor`] | parallel |
//! | `entities` | [`entities::EntityTagger`] | parallel |
//! | `dedup` | [`dedup::DuplicateDetector`] | ordered (needs history) |
//! | `recurring_blocks` | [`recurring::RecurringBlockStripper`] | ordered; cuts edge paragraphs earlier reports carried |
//! | `exec` | [`exec::ExternalProgram`] | parallel; runs the user's program over JSON lines |
#![deny(missing_docs)]

pub mod clean;
pub mod dates;
pub mod dedup;
pub mod entities;
pub mod exec;
pub mod language;
pub mod ner_model;
pub mod recurring;

use gleaner_pipeline::Registry;

/// Every built-in stage by name: the one table `grep` finds them in.
pub fn register_builtin(registry: &mut Registry) {
    registry.register("clean", clean::build);
    registry.register("language", language::build);
    registry.register("dates", dates::build);
    registry.register("entities", entities::build);
    registry.register("dedup", dedup::build);
    registry.register("recurring_blocks", recurring::build);
    registry.register("exec", exec::build);
}

/// A registry with every built-in stage.
pub fn builtin_registry() -> Registry {
    let mut r = Registry::new();
    register_builtin(&mut r);
    r
}

/// Function words per language (`config/lexicons/stopwords.toml`), used by
/// `clean` and `language`.
pub(crate) const BUILTIN_STOPWORDS: &str = include_str!("../../../config/lexicons/stopwords.toml");

/// Words of `text` (letters, digits and apostrophes, with at least one
/// letter) and how many of them `is_stopword` accepts, lowercased. Both the
/// `clean` stage's density and the `language` stage's paragraph shortcut
/// count this way.
pub(crate) fn count_stopwords(text: &str, is_stopword: impl Fn(&str) -> bool) -> (usize, usize) {
    let mut words = 0usize;
    let mut stop = 0usize;
    for w in text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’') {
        if w.is_empty() || !w.chars().any(char::is_alphabetic) {
            continue;
        }
        words += 1;
        // Most words need no lowercasing: skip the allocation for them.
        let hit = if w.chars().any(char::is_uppercase) { is_stopword(&w.to_lowercase()) } else { is_stopword(w) };
        stop += usize::from(hit);
    }
    (words, stop)
}

/// The text of a user's file when the config names one, else the built-in
/// copy embedded from `config/`. `what` names the file in the error.
pub(crate) fn file_or_builtin(path: Option<&std::path::Path>, builtin: &str, what: &str) -> Result<String, String> {
    match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display())),
        None => Ok(builtin.to_string()),
    }
}
