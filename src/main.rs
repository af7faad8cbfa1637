//! The `gleaner` binary: command line, logging, signals. Everything else is
//! in `gleaner-pipeline` (the engine) and `gleaner-stages` (the stages).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use gleaner_pipeline::{Committed, Config, Engine};
use std::path::PathBuf;

const DEFAULT_CONFIG: &str = include_str!("../config/gleaner.toml");

/// Gleaner: cleans, dates, tags and deduplicates the news reports you drop
/// into a folder, into SQLite and NDJSON.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: the embedded config/gleaner.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Watch this folder instead of the configured one.
    #[arg(long, global = true, value_name = "DIR")]
    watch: Option<PathBuf>,
    /// Write gleaner.db and events.ndjson into this folder.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Log format on stderr. Levels: RUST_LOG (default info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground: watch the folder until SIGTERM/SIGINT.
    Run,
    /// Process files and folders once, in the order given (folders sorted by name), and exit.
    Ingest {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Check or print the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Full-text search of the cleaned text (SQLite FTS5 syntax: 'Izadi AND Lebanon').
    Search {
        /// The query.
        query: String,
        /// Most results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Parse the configuration and build every stage; report errors with line and column.
    Check,
    /// Print the configuration text in use.
    Print,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, matches!(cli.command, Command::Ingest { .. }));
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(cli: &Cli) -> Result<(Config, String)> {
    let (mut config, text) = match &cli.config {
        Some(path) => {
            let c = Config::load(path)?;
            let t = c.text.clone();
            (c, t)
        }
        None => (Config::parse(DEFAULT_CONFIG, "<embedded config/gleaner.toml>")?, DEFAULT_CONFIG.to_string()),
    };
    if let Some(w) = &cli.watch {
        config.watch.dir = w.clone();
    }
    if let Some(d) = &cli.data {
        config.data.dir = d.clone();
    }
    Ok((config, text))
}

fn real_main(cli: Cli) -> Result<std::process::ExitCode> {
    let (config, text) = load_config(&cli)?;
    let registry = gleaner_stages::builtin_registry();
    match &cli.command {
        Command::Config { action: ConfigAction::Print } => {
            print!("{text}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Config { action: ConfigAction::Check } => {
            let stages = registry.build(&config)?;
            let names: Vec<&str> =
                stages.parallel.iter().map(|s| s.name()).chain(stages.ordered.iter().map(|s| s.name())).collect();
            println!("{}: ok; stages: {}", config.origin, names.join(" -> "));
            println!("watch: {}  data: {}", config.watch.dir.display(), config.data.dir.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Run => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let shutdown = shutdown_signal(&runtime)?;
            let stages = registry.build(&config)?;
            let summary = runtime.block_on(Engine::new(config, stages).run_daemon(shutdown))?;
            tracing::info!(processed = summary.processed, duplicates = summary.duplicates, failed = summary.failed, "stopped");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Ingest { paths } => ingest(config, registry, paths),
        Command::Search { query, limit } => search(&config, query, *limit),
    }
}

/// Installs the SIGTERM/SIGINT handlers now (a signal that arrives before
/// installation would kill the process outright) and returns a future that
/// resolves on the first of them.
fn shutdown_signal(runtime: &tokio::runtime::Runtime) -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = runtime.enter();
        let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = runtime;
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn ingest(config: Config, registry: gleaner_pipeline::Registry, paths: &[PathBuf]) -> Result<std::process::ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        // Absolute, as the daemon records paths: one file, one identity.
        let p = &std::path::absolute(p).with_context(|| format!("{}: cannot resolve the path", p.display()))?;
        if p.is_dir() {
            files.extend(gleaner_pipeline::watcher::scan(p, &config.watch.extensions));
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    let stages = registry.build(&config)?;
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  eta {eta}  {msg}")
            .expect("progress template"),
    );
    let (tx, rx) = std::sync::mpsc::channel::<Committed>();
    let bar_thread = {
        let bar = bar.clone();
        std::thread::spawn(move || {
            let mut failed = Vec::new();
            let mut summary = gleaner_pipeline::Summary::default();
            for c in rx {
                summary.add(&c);
                if let Committed::Failed(p, reason) = &c {
                    failed.push(format!("{}: {reason}", p.display()));
                    bar.set_message(format!("{} failed", failed.len()));
                }
                bar.inc(1);
            }
            (failed, summary)
        })
    };
    let total = files.len();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let started = std::time::Instant::now();
    runtime.block_on(Engine::new(config.clone(), stages).run_ingest(files, tx))?;
    // Counted from the progress reports: they include files skipped as
    // unchanged before they reached the committer.
    let (failed, summary) = bar_thread.join().unwrap_or_default();
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for f in &failed {
        eprintln!("failed: {f}");
    }
    eprintln!(
        "{total} files in {secs:.2}s ({:.0}/s): {} processed, {} duplicates, {} failed, {} unchanged -> {}",
        total as f64 / secs.max(1e-9),
        summary.processed,
        summary.duplicates,
        summary.failed,
        summary.unchanged,
        config.events_path().display()
    );
    if summary.failed > 0 {
        eprintln!("see the `failures` table or the document.failed events for what to do about each");
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn search(config: &Config, query: &str, limit: usize) -> Result<std::process::ExitCode> {
    let db = config.db_path();
    if !db.exists() {
        bail!("{}: no database yet; run `gleaner run` or `gleaner ingest` first (or pass --data)", db.display());
    }
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", db.display()))?;
    let mut st = conn.prepare(
        "SELECT d.doc_id, d.path, coalesce(d.published, ''), coalesce(d.title, ''),
                snippet(documents_fts, 2, '[', ']', '…', 16)
         FROM documents_fts f JOIN documents d ON d.doc_id = f.doc_id
         WHERE documents_fts MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows = st
        .query_map(rusqlite::params![query, limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("search {query:?} failed (FTS5 syntax: words, \"phrases\", AND, OR, NOT, prefix*)"))?;
    for (doc_id, path, published, title, snippet) in &rows {
        println!("{doc_id}  {published:10}  {path}\n    {title}\n    {snippet}\n");
    }
    eprintln!("{} result(s)", rows.len());
    Ok(std::process::ExitCode::SUCCESS)
}
