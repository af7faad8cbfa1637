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
///
/// One pass over the bytes: ASCII (most of any page) is classified without
/// Unicode tables, and a capitalised ASCII word is lowercased on the stack.
/// Splitting on a char predicate, then testing each word for letters and
/// capitals, was a third of the clean stage's time under `perf`.
pub(crate) fn count_stopwords(text: &str, is_stopword: impl Fn(&str) -> bool) -> (usize, usize) {
    const STACK_WORD: usize = 48;
    let bytes = text.as_bytes();
    let (mut words, mut stop) = (0usize, 0usize);
    let mut lower = [0u8; STACK_WORD];
    let mut i = 0;
    while i < bytes.len() {
        // One word: [start, i).
        let start = i;
        let (mut alpha, mut upper, mut ascii) = (false, false, true);
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_alphabetic() {
                    alpha = true;
                    upper |= b.is_ascii_uppercase();
                } else if !(b.is_ascii_digit() || b == b'\'') {
                    break;
                }
                i += 1;
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                if c.is_alphabetic() {
                    alpha = true;
                    upper |= c.is_uppercase();
                } else if !(c.is_alphanumeric() || c == '’') {
                    break;
                }
                ascii = false;
                i += c.len_utf8();
            }
        }
        if alpha {
            let w = &text[start..i];
            words += 1;
            let hit = if !upper {
                is_stopword(w)
            } else if ascii && w.len() <= STACK_WORD {
                let l = &mut lower[..w.len()];
                l.copy_from_slice(w.as_bytes());
                l.make_ascii_lowercase();
                is_stopword(std::str::from_utf8(l).unwrap_or(w))
            } else {
                is_stopword(&w.to_lowercase())
            };
            stop += usize::from(hit);
        }
        // Skip the separator that ended the word.
        if i == start {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
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

#[cfg(test)]
mod tests {
    /// The plain definition `count_stopwords` must agree with.
    fn reference(text: &str, is_stopword: impl Fn(&str) -> bool) -> (usize, usize) {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            .filter(|w| w.chars().any(char::is_alphabetic))
            .map(str::to_lowercase)
            .collect();
        (words.len(), words.iter().filter(|w| is_stopword(w)).count())
    }

    #[test]
    fn stopword_count_matches_the_plain_definition_in_every_script() {
        let stop = ["the", "and", "der", "и", "في", "ve", "dog's", "l’état", "ölçü"];
        let texts = [
            "The cat AND the dog's bowl, 42 times",
            "DER Hund und die Katze — Ärger im Haus: 3x täglich!",
            "И в Москве, и в Петербурге; ПРИ ЭТОМ 12 человек",
            "قال الرئيس في بيان إن ... في 2024",
            "L’État et l’ÉTAT; Ölçü VE ölçü, İstanbul",
            "東京では雨、Tokyo 2020 and 大阪",
            "  --- 123 456 ''' ’’ ",
            "",
            "ẞtraße MASSE Straße x\u{0301}y",
        ];
        for t in texts {
            let is_stop = |w: &str| stop.contains(&w);
            assert_eq!(super::count_stopwords(t, is_stop), reference(t, is_stop), "{t}");
        }
    }
}
