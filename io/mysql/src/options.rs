//! Where the MySQL store is and how to reach it: URLs checked before
//! anything connects, the password from outside the URL, TLS settings.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::{Opts, OptsBuilder, PoolConstraints, PoolOpts};

/// Where and how to reach the MySQL (or MariaDB) results store.
#[derive(Debug, Clone)]
pub struct MysqlOptions {
    /// The primary: `mysql://USER@HOST:PORT/DATABASE[?PARAMS]`, without a
    /// password. Parameters are the client's (`require_ssl=true`,
    /// `verify_ca`, `verify_identity`, `built_in_roots`, `socket`, …).
    pub url: String,
    /// The standby (a read-only replica) reads fall back to.
    pub standby_url: Option<String>,
    /// The password (from `TOPSELLERS_MYSQL_PASSWORD` or a file).
    pub password: Option<String>,
    /// PEM file of the certificate authorities TLS trusts, beside the
    /// built-in roots (implies TLS).
    pub ca_file: Option<PathBuf>,
    /// Create the schema when it is missing (`publish --create-table`).
    pub create_table: bool,
    /// Connections writing at once.
    pub concurrency: usize,
    /// Longest wait for one read attempt (the read API), connecting included.
    pub timeout: Duration,
}

impl MysqlOptions {
    /// Options for `url` with the defaults: no standby, no password, no
    /// schema creation, 8 connections, 1 s per read.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            standby_url: None,
            password: None,
            ca_file: None,
            create_table: false,
            concurrency: 8,
            timeout: Duration::from_secs(1),
        }
    }

    /// Checks both URLs (the usage errors: a URL the client cannot read, no
    /// database, a password written in it).
    pub fn check(&self) -> Result<(), String> {
        check_url(&self.url)?;
        if let Some(u) = &self.standby_url {
            check_url(u)?;
        }
        Ok(())
    }

    /// The client's options for `url` (already checked).
    pub(crate) fn client_opts(&self, url: &str, connections: usize) -> Result<Opts, String> {
        let parsed = parse(url)?;
        let pool = PoolOpts::default()
            // A connection returned to the pool keeps its prepared
            // statements: resetting it would cost a round trip per read.
            .with_reset_connection(false)
            .with_constraints(
                PoolConstraints::new(0, connections.max(1))
                    .ok_or_else(|| format!("{connections} connections"))?,
            );
        let mut builder = OptsBuilder::from_opts(parsed.clone())
            .pass(self.password.clone())
            .pool_opts(pool)
            // Affected rows count changed rows only: publish relies on it.
            .client_found_rows(false)
            // A new connection asks the server nothing (no `SELECT @@…`):
            // the read API's queries are its reads alone.
            .max_allowed_packet(Some(parsed.max_allowed_packet().unwrap_or(64 << 20)))
            .wait_timeout(Some(parsed.wait_timeout().unwrap_or(28_800)));
        if !url.contains("prefer_socket=") {
            builder = builder.prefer_socket(false);
        }
        if let Some(ca) = &self.ca_file {
            let ssl = parsed
                .ssl_opts()
                .cloned()
                .unwrap_or_default()
                .with_root_certs(vec![ca.clone().into()]);
            builder = builder.ssl_opts(ssl);
        }
        Ok(builder.into())
    }
}

fn parse(url: &str) -> Result<Opts, String> {
    Opts::from_url(url).map_err(|e| format!("{}: {e}", redacted(url)))
}

fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("mysql://") {
        return Err(format!(
            "{}: a MySQL URL looks like mysql://USER@HOST:PORT/DATABASE",
            redacted(url)
        ));
    }
    let opts = parse(url)?;
    if opts.pass().is_some() {
        return Err(format!(
            "{}: the URL holds a password; give it in TOPSELLERS_MYSQL_PASSWORD or a file (--mysql-password-file) instead",
            redacted(url)
        ));
    }
    if opts.db_name().is_none_or(str::is_empty) {
        return Err(format!(
            "{}: name the database, mysql://USER@HOST:PORT/DATABASE",
            redacted(url)
        ));
    }
    Ok(())
}

/// `url` as messages show it: `HOST:PORT/DATABASE`, without user, password
/// or parameters.
pub fn redacted(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['?', '#']).next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        assert_eq!(
            redacted("mysql://u:secret@db:3306/shop?require_ssl=true"),
            "db:3306/shop"
        );
        let ok = MysqlOptions::new("mysql://u@127.0.0.1:3306/shop");
        assert!(ok.check().is_ok());
        for (url, why) in [
            ("postgres://u@h/db", "looks like mysql://"),
            ("mysql://u:pw@h:3306/shop", "holds a password"),
            ("mysql://u@h:3306", "name the database"),
            ("mysql://u@h:3306/shop?colour=red", "colour"),
        ] {
            let e = MysqlOptions::new(url).check().unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
    }
}
