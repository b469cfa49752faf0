//! The `pluralmatrix` binary: command line, logging, exit codes (0 ok, 2 bad config or
//! usage, 1 anything else), one-line errors.

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use pluralmatrix::{config, registration};

#[derive(Debug, Parser)]
#[command(name = "pluralmatrix", version, about = "A Matrix application service for plural systems")]
struct Cli {
    /// Config file [default: $PLURALMATRIX_CONFIG, then ./config.toml]
    #[arg(short, long, global = true, env = "PLURALMATRIX_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the daemon (the default)
    Run,
    /// Write the appservice registration for the homeserver (fills in missing tokens first)
    GenerateRegistration {
        /// Write here instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Validate the config and print the effective values (secrets masked)
    CheckConfig,
    /// Copy an installation's database to another, empty one (e.g. SQLite to PostgreSQL); stop
    /// the daemon first
    MigrateDb {
        /// The database to copy, e.g. sqlite:///var/lib/pluralmatrix/pluralmatrix.db
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty database to copy into, e.g. postgres://pluralmatrix@localhost/pluralmatrix
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// An error and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

fn bad_config(e: impl std::fmt::Display) -> Failure {
    Failure { code: 2, message: e.to_string() }
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure { code: 1, message: e.to_string() }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = config::config_path(cli.config);
    let result = match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Run => run(&path),
        Cmd::GenerateRegistration { output } => generate_registration(&path, output),
        Cmd::CheckConfig => check_config(&path),
        Cmd::MigrateDb { from, to } => migrate_db(&from, &to),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let one_line = f.message.replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "pluralmatrix: {one_line}");
            ExitCode::from(f.code)
        }
    }
}

fn check_config(path: &std::path::Path) -> Result<(), Failure> {
    let loaded = config::load(path, true).map_err(bad_config)?;
    print!("# {} is valid. Effective configuration:\n{}", loaded.path.display(), loaded.config.masked_toml());
    Ok(())
}

fn generate_registration(path: &std::path::Path, output: Option<PathBuf>) -> Result<(), Failure> {
    let mut loaded = config::load(path, false).map_err(bad_config)?;
    if registration::fill_missing_tokens(&loaded.path, &mut loaded.config).map_err(other)? {
        eprintln!("pluralmatrix: generated new tokens and wrote them to {}", loaded.path.display());
    }
    let yaml = registration::registration_yaml(&loaded.config).map_err(other)?;
    match output {
        None => print!("{yaml}"),
        Some(out) => pluralmatrix::registration::write_private(&out, &yaml)
            .map_err(|e| other(format!("cannot write {}: {e}", out.display())))?,
    }
    Ok(())
}

fn migrate_db(from: &str, to: &str) -> Result<(), Failure> {
    use pluralmatrix::db::redact_url;
    for url in [from, to] {
        pluralmatrix::db::Backend::of(url).map_err(bad_config)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(other)?;
    let report = runtime.block_on(pluralmatrix::db::migrate_db(from, to)).map_err(other)?;
    for (table, rows) in &report.tables {
        println!("{table}: {rows}");
    }
    println!(
        "copied {} rows in {} tables from {} to {}; point database.url at the new database before starting the daemon",
        report.rows(),
        report.tables.len(),
        redact_url(from),
        redact_url(to)
    );
    Ok(())
}

fn run(path: &std::path::Path) -> Result<(), Failure> {
    let loaded = config::load(path, true).map_err(bad_config)?;
    init_logging(loaded.config.logging.json());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(other)?;
    runtime.block_on(pluralmatrix::app::run(loaded.config, Some(loaded.path))).map_err(other)
}

/// Logs to standard error: readable text, or one JSON object per line (`logging.format`).
fn init_logging(json: bool) {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}
