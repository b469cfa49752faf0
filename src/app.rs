//! Wiring for `pluralmatrix run`: database, homeserver client, HTTP intake, start-up, the
//! engine, and a clean shutdown on SIGINT/SIGTERM.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use ruma::UserId;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::{
    bridge::{Bridge, BridgeSettings, SharedAccess},
    config::Config,
    crypto::{Crypto, CryptoSettings, keys::MasterKey},
    db::Db,
    engine::{Engine, EngineSettings, TxnWatch, Wakers},
    homeserver::{Homeserver, RetryPolicy},
    server::{self, IntakeState},
};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Homeserver(#[from] crate::homeserver::HsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error(transparent)]
    Startup(#[from] crate::bridge::StartupError),
    #[error("encryption: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("{0}")]
    Invalid(String),
}

/// Runs the daemon until SIGINT/SIGTERM. `config_path`: where SIGHUP re-reads the access
/// lists and admin users from.
pub async fn run(config: Config, config_path: Option<std::path::PathBuf>) -> Result<(), RunError> {
    // Held until the process ends: no second daemon on this database.
    let database_lock = crate::db::lock_database(&config.database.url).await?;
    let lock_lost = tokio::spawn(database_lock.keep(config.database.url.clone(), Duration::from_secs(15)));
    let db = Db::connect(&config.database.url).await?;
    let retry = RetryPolicy { max_attempts: config.homeserver.retry_attempts, ..RetryPolicy::default() };
    let mut hs = Homeserver::new(&config.homeserver.url, &config.appservice.as_token)?.with_retry(retry);
    let bot = UserId::parse(config.bot_user_id()).map_err(|e| RunError::Invalid(format!("bot user ID: {e}")))?;
    let settings = BridgeSettings {
        appservice_id: config.appservice.id.clone(),
        bot,
        domain: config.homeserver.domain.clone(),
        ghost_prefix: config.appservice.ghost_prefix.clone(),
        command_prefix: config.commands.prefix.clone(),
        latch_timeout_ms: i64::from(config.proxy.latch_timeout_minutes) * 60 * 1000,
        room_key_wait_ms: i64::try_from(config.encryption.room_key_wait_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX),
        access: SharedAccess::new(config.access.policy(&config.admin.users, &config.homeserver.domain)),
        max_members: config.access.max_members,
        max_groups: config.access.max_groups,
        avatar_fetch: config.import.fetch_avatars.then(|| crate::bridge::AvatarFetch {
            max_bytes: config.import.max_avatar_bytes,
            timeout: std::time::Duration::from_secs(config.import.avatar_timeout_seconds),
            allow_private: config.import.allow_private_addresses,
        }),
    };

    // Local problems first, so they fail the start at once: the crypto master key.
    let master_key = if config.encryption.enabled {
        Some(MasterKey::load_or_create(&config.encryption.store_dir).map_err(crate::crypto::CryptoError::from)?)
    } else {
        info!("encryption is switched off: encrypted rooms are left alone");
        None
    };

    // Listen next: the homeserver may push transactions (and answers our ping) right away.
    let listener = tokio::net::TcpListener::bind(&config.appservice.listen)
        .await
        .map_err(|source| RunError::Listen { addr: config.appservice.listen.clone(), source })?;
    info!(addr = %config.appservice.listen, "listening for the homeserver");
    let wakers = Wakers::default();
    let txn_watch = Arc::new(TxnWatch::default());
    if let Some(last) = db.last_txn_id().await? {
        txn_watch.observe(&last);
    }
    let (stop_tx, stop_rx) = watch::channel(false);

    let intake_bridge = Bridge::new(db.clone(), hs.clone(), settings.clone(), None);
    let ready = Arc::new(AtomicBool::new(false));
    let state = Arc::new(IntakeState {
        db: db.clone(),
        hs_token: config.appservice.hs_token.clone(),
        wakers: wakers.clone(),
        bridge: intake_bridge,
        ready: ready.clone(),
        encryption: config.encryption.enabled,
        txn_watch: txn_watch.clone(),
        stall_after_ms: i64::try_from(config.engine.stall_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
        legacy_token_seen: AtomicBool::new(false),
        metrics_here: config.metrics.enabled && config.metrics.listen.is_empty(),
    });
    crate::metrics::uptime_seconds();
    if config.metrics.enabled && !config.metrics.listen.is_empty() {
        let addr = config.metrics.listen.clone();
        let metrics_listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| RunError::Listen { addr: addr.clone(), source })?;
        info!(%addr, "serving /metrics");
        let mut metrics_stop = stop_rx.clone();
        let app = server::metrics_router::<()>(db.clone());
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = metrics_stop.wait_for(|stop| *stop).await;
            };
            axum::serve(metrics_listener, app).with_graceful_shutdown(shutdown).await
        });
    }
    let app = server::router(state, config.appservice.max_body_bytes);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        };
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await
    });

    if let Err(e) = hs.discover_versions().await {
        warn!(error = %e, "could not read the homeserver's versions; assuming v1.11");
    }
    let crypto = master_key.map(|master| {
        let crypto_settings = CryptoSettings {
            store_dir: config.encryption.store_dir.clone(),
            max_open_machines: config.encryption.max_open_machines,
            share_with: config.encryption.share_with,
        };
        Arc::new(Crypto::with_master_key(db.clone(), hs.clone(), crypto_settings, master))
    });
    settings.access.set_bans(&db.bans().await?);
    let reload = tokio::spawn(reload_on_hangup(config_path, settings.access.clone()));
    let bridge = Bridge::new(db.clone(), hs, settings, crypto);
    let signals = tokio::spawn(wait_for_signal());

    tokio::select! {
        result = bridge.startup() => result?,
        _ = wait_for_signal() => {
            let _ = stop_tx.send(true);
            return Ok(());
        }
    }
    ready.store(true, Ordering::Release);
    info!("ready");
    let engine_settings = EngineSettings { rooms_in_flight: config.engine.rooms_in_flight };
    let worker = tokio::spawn(Engine::new(db, bridge, wakers, engine_settings, txn_watch).run(stop_rx));

    let lost = tokio::select! {
        _ = signals => None,
        lost = lock_lost => lost.ok(),
    };
    if let Some(e) = &lost {
        error!(error = %e, "stopping");
    }
    reload.abort();
    info!("shutting down");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(20), worker).await.is_err() {
        warn!("the engine did not finish in 20 s; unfinished work resumes at the next start");
    }
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => error!(error = %e, "HTTP server error"),
        Err(_) => warn!("HTTP server did not stop in 5 s"),
        _ => {}
    }
    lost.map_or(Ok(()), |e| Err(e.into()))
}

/// On SIGHUP, reads the config file again and puts its access lists and admin users in
/// place; a config that no longer loads changes nothing (and says why).
async fn reload_on_hangup(path: Option<std::path::PathBuf>, access: SharedAccess) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Some(path), Ok(mut hangups)) = (path, signal(SignalKind::hangup())) else { return };
        while hangups.recv().await.is_some() {
            match crate::config::load(&path, true) {
                Ok(loaded) => {
                    let c = loaded.config;
                    access.replace(c.access.policy(&c.admin.users, &c.homeserver.domain));
                    info!(path = %path.display(), "SIGHUP: access lists and admin users reloaded");
                }
                Err(e) => warn!(error = %e, "SIGHUP: the config does not load; keeping the access lists in use"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, access);
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
