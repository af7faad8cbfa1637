//! `language`: the [`LanguageDetector`], backed by the lingua crate.
//!
//! Models load lazily, once per process, on the first document. By default
//! lingua runs in low-accuracy mode (trigram models only), which keeps the
//! daemon's memory small; documents are long enough for it. Set
//! `accuracy = "high"` for short texts, at the cost of far more memory.

use gleaner_pipeline::document::Language as LanguageSlot;
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use lingua::{IsoCode639_1, LanguageDetectorBuilder};
use serde::Deserialize;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// Options of the `language` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanguageConfig {
    /// ISO 639-1 codes to choose from; empty = every language lingua knows.
    /// Restricting the set is faster, smaller and avoids confusions with
    /// languages you never receive.
    pub languages: Vec<String>,
    /// `low` (trigram models, small and fast) or `high` (1- to 5-gram models).
    pub accuracy: String,
    /// Characters of cleaned text looked at; language is stable long before
    /// the end of a report.
    pub max_chars: usize,
    /// Below this confidence the runner-up languages are reported too.
    pub alternatives_below: f64,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig { languages: Vec::new(), accuracy: "low".into(), max_chars: 3000, alternatives_below: 0.9 }
    }
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: LanguageConfig = parse_options(table)?;
    Ok(BuiltStage::Parallel(Arc::new(LanguageDetector::new(config)?)))
}

/// The language stage.
pub struct LanguageDetector {
    config: LanguageConfig,
    languages: Vec<lingua::Language>,
    detector: OnceLock<lingua::LanguageDetector>,
}

impl LanguageDetector {
    /// Validates the configuration; models load on first use.
    pub fn new(config: LanguageConfig) -> Result<LanguageDetector, String> {
        if config.accuracy != "low" && config.accuracy != "high" {
            return Err(format!("accuracy must be \"low\" or \"high\", not {:?}", config.accuracy));
        }
        let mut languages = Vec::new();
        for code in &config.languages {
            let iso = IsoCode639_1::from_str(&code.to_lowercase())
                .map_err(|_| format!("unknown language code {code:?} in `languages` (use ISO 639-1, e.g. \"en\")"))?;
            languages.push(lingua::Language::from_iso_code_639_1(&iso));
        }
        if languages.len() == 1 {
            return Err("`languages` needs at least two languages to choose from (or none for all)".into());
        }
        Ok(LanguageDetector { config, languages, detector: OnceLock::new() })
    }

    fn detector(&self) -> &lingua::LanguageDetector {
        self.detector.get_or_init(|| {
            let mut builder = if self.languages.is_empty() {
                LanguageDetectorBuilder::from_all_languages()
            } else {
                LanguageDetectorBuilder::from_languages(&self.languages)
            };
            if self.config.accuracy == "low" {
                builder.with_low_accuracy_mode();
            }
            builder.build()
        })
    }

    /// Detects the language of a text.
    pub fn detect(&self, text: &str) -> Option<LanguageSlot> {
        let sample: String = text.chars().take(self.config.max_chars).collect();
        let values = self.detector().compute_language_confidence_values(sample);
        let (best, confidence) = *values.first()?;
        if confidence <= 0.0 {
            return None;
        }
        let alternatives = if confidence < self.config.alternatives_below {
            values.iter().skip(1).take(3).filter(|(_, c)| *c >= 0.05).map(|(l, c)| (code(*l), round3(*c))).collect()
        } else {
            Vec::new()
        };
        Some(LanguageSlot { code: code(best), confidence: round3(confidence), alternatives })
    }
}

fn code(l: lingua::Language) -> String {
    // Norwegian Bokmål/Nynorsk: our users (and ISO 639-1 `no`) mean Norwegian.
    match l {
        lingua::Language::Bokmal | lingua::Language::Nynorsk => "no".into(),
        _ => l.iso_code_639_1().to_string(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[async_trait]
impl Stage for LanguageDetector {
    fn name(&self) -> &str {
        "language"
    }

    async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let text = if doc.text.trim().is_empty() { doc.raw.as_str() } else { doc.text.as_str() };
        match self.detect(text) {
            Some(l) => doc.language = Some(l),
            None => doc.warn("language", "the language could not be determined (too little text)"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_languages() {
        let d = LanguageDetector::new(LanguageConfig { languages: vec!["en".into(), "de".into(), "fr".into()], ..Default::default() }).unwrap();
        assert_eq!(d.detect("The government said on Tuesday that it would not change its plans.").unwrap().code, "en");
        assert_eq!(d.detect("Die Regierung sagte am Dienstag, sie werde ihre Pläne nicht ändern.").unwrap().code, "de");
        assert_eq!(d.detect("Le gouvernement a déclaré mardi qu'il ne changerait pas ses plans.").unwrap().code, "fr");
    }

    #[test]
    fn bad_codes_are_config_errors() {
        assert!(LanguageDetector::new(LanguageConfig { languages: vec!["xx".into(), "en".into()], ..Default::default() }).is_err());
        assert!(LanguageDetector::new(LanguageConfig { accuracy: "best".into(), ..Default::default() }).is_err());
    }
}
