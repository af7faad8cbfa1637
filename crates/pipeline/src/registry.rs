//! The stage registry: stage names to builders. The engine builds the stage
//! list from config through this table and knows no stage by name.

use crate::config::{Config, ConfigError};
use crate::stage::{OrderedStage, Stage};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A built stage, ready to run.
pub enum BuiltStage {
    /// Runs on many documents at once.
    Parallel(Arc<dyn Stage>),
    /// Runs in the committer, in arrival order.
    Ordered(Arc<dyn OrderedStage>),
}

/// Builds a stage from its TOML table (without the `type` key).
pub type StageBuilder = fn(toml::Table) -> Result<BuiltStage, String>;

/// The stage list of a configuration.
#[derive(Clone, Default)]
pub struct Stages {
    /// Stateless stages, in config order.
    pub parallel: Vec<Arc<dyn Stage>>,
    /// Stages with history, in config order, after all parallel ones.
    pub ordered: Vec<Arc<dyn OrderedStage>>,
}

/// Name -> builder.
#[derive(Default)]
pub struct Registry {
    builders: BTreeMap<String, StageBuilder>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a stage type under `name`.
    pub fn register(&mut self, name: &str, builder: StageBuilder) {
        self.builders.insert(name.to_string(), builder);
    }

    /// Names of every registered stage type.
    pub fn names(&self) -> Vec<&str> {
        self.builders.keys().map(String::as_str).collect()
    }

    /// Builds the configured stages, in order.
    pub fn build(&self, config: &Config) -> Result<Stages, ConfigError> {
        let mut stages = Stages::default();
        for spanned in &config.stages {
            let offset = spanned.span().start;
            let mut table = spanned.get_ref().clone();
            let kind = match table.remove("type") {
                Some(toml::Value::String(s)) => s,
                _ => return Err(config.error_at(offset, "every [[stages]] table needs `type = \"<stage name>\"`")),
            };
            let builder = self.builders.get(&kind).ok_or_else(|| {
                config.error_at(offset, format!("unknown stage type `{kind}`; known types: {}", self.names().join(", ")))
            })?;
            let built = builder(table).map_err(|m| config.error_at(offset, format!("stage `{kind}`: {m}")))?;
            match built {
                BuiltStage::Parallel(s) => {
                    if !stages.ordered.is_empty() {
                        return Err(config.error_at(
                            offset,
                            format!("stage `{kind}` must come before stages that need history (such as dedup)"),
                        ));
                    }
                    stages.parallel.push(s)
                }
                BuiltStage::Ordered(s) => stages.ordered.push(s),
            }
        }
        Ok(stages)
    }
}

/// Deserialises a stage's options table into its config struct. Use with
/// `#[serde(deny_unknown_fields)]` so a misspelt option is an error.
pub fn parse_options<T: DeserializeOwned>(table: toml::Table) -> Result<T, String> {
    T::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string().trim().to_string())
}
