//! Which results store a command uses, from its settings: DynamoDB (a
//! table; the default) or MySQL (a URL, an optional standby). The commands
//! see a [`ResultStore`] and nothing of either.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use topsellers_mysql::{MysqlOptions, MysqlStore};
use topsellers_store::dynamo::check_table_name;
use topsellers_store::{DynamoStore, ResultStore};

use super::UsageError;

/// The environment variable holding the MySQL password (never a flag).
pub const PASSWORD_ENV: &str = "TOPSELLERS_MYSQL_PASSWORD";

/// The store settings as given, before checking.
#[derive(Debug, Default, Clone)]
pub struct StoreSettings {
    /// `dynamodb` (default) or `mysql`.
    pub store: Option<String>,
    /// DynamoDB table.
    pub table: Option<String>,
    /// MySQL primary URL.
    pub mysql_url: Option<String>,
    /// MySQL standby URL.
    pub mysql_standby_url: Option<String>,
    /// File holding the MySQL password.
    pub mysql_password_file: Option<PathBuf>,
    /// PEM file of certificate authorities for MySQL TLS.
    pub mysql_ca_file: Option<PathBuf>,
}

/// The results store chosen.
#[derive(Debug, Clone)]
pub enum StoreChoice {
    /// A DynamoDB table (endpoint and credentials from the AWS chain).
    Dynamo {
        /// The table.
        table: String,
    },
    /// A MySQL database.
    Mysql(MysqlOptions),
}

fn missing(flag: &str, key: &str, store: &str) -> UsageError {
    UsageError(format!(
        "--{flag} is required with store = \"{store}\" (or TOPSELLERS_{}, or {key} in the config file)",
        key.to_ascii_uppercase()
    ))
}

impl StoreChoice {
    /// Checks the settings; `password_env` is the value of
    /// [`PASSWORD_ENV`], if set.
    pub fn new(s: StoreSettings, password_env: Option<String>) -> Result<Self, UsageError> {
        let mysql_only = [
            ("mysql-url", s.mysql_url.is_some()),
            ("mysql-standby-url", s.mysql_standby_url.is_some()),
            ("mysql-password-file", s.mysql_password_file.is_some()),
            ("mysql-ca-file", s.mysql_ca_file.is_some()),
        ];
        match s.store.as_deref().unwrap_or("dynamodb") {
            "dynamodb" => {
                if let Some((flag, _)) = mysql_only.iter().find(|(_, given)| *given) {
                    return Err(UsageError(format!(
                        "--{flag} is a MySQL setting: add --store mysql (store = \"mysql\")"
                    )));
                }
                let table = s
                    .table
                    .ok_or_else(|| missing("table", "table", "dynamodb"))?;
                check_table_name(&table).map_err(UsageError)?;
                Ok(Self::Dynamo { table })
            }
            "mysql" => {
                if s.table.is_some() {
                    return Err(UsageError(
                        "--table names a DynamoDB table; with store = \"mysql\" the database is the one of --mysql-url".into(),
                    ));
                }
                let url = s
                    .mysql_url
                    .ok_or_else(|| missing("mysql-url", "mysql_url", "mysql"))?;
                let password = match &s.mysql_password_file {
                    Some(path) => Some(
                        std::fs::read_to_string(path)
                            .map_err(|e| {
                                UsageError(format!("--mysql-password-file {}: {e}", path.display()))
                            })?
                            .trim_end_matches(['\r', '\n'])
                            .to_string(),
                    ),
                    None => password_env,
                };
                let opts = MysqlOptions {
                    standby_url: s.mysql_standby_url,
                    password,
                    ca_file: s.mysql_ca_file,
                    ..MysqlOptions::new(&url)
                };
                opts.check().map_err(UsageError)?;
                Ok(Self::Mysql(opts))
            }
            other => Err(UsageError(format!(
                "store = {other:?}: use \"dynamodb\" or \"mysql\""
            ))),
        }
    }

    /// The store as messages name it: the DynamoDB table's name, or
    /// `MySQL HOST:PORT/DATABASE`.
    pub fn target(&self) -> String {
        match self {
            Self::Dynamo { table } => table.clone(),
            Self::Mysql(o) => format!("MySQL {}", topsellers_mysql::redacted(&o.url)),
        }
    }

    /// The kind of store, as logs name it (`DynamoDB`, `MySQL`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Dynamo { .. } => "DynamoDB",
            Self::Mysql(_) => "MySQL",
        }
    }

    /// The store the jobs publish to: `concurrency` requests in flight,
    /// the schema or table created when `create` is set.
    pub async fn for_jobs(
        &self,
        create: bool,
        concurrency: usize,
    ) -> anyhow::Result<Box<dyn ResultStore>> {
        Ok(match self {
            Self::Dynamo { table } => {
                Box::new(DynamoStore::for_jobs(table, create, concurrency).await)
            }
            Self::Mysql(o) => Box::new(MysqlStore::for_jobs(&MysqlOptions {
                create_table: create,
                concurrency,
                ..o.clone()
            })?),
        })
    }

    /// The store the read API reads, waiting `timeout` at most per attempt.
    pub async fn for_reads(&self, timeout: Duration) -> anyhow::Result<Arc<dyn ResultStore>> {
        Ok(match self {
            Self::Dynamo { table } => Arc::new(DynamoStore::for_reads(table, timeout).await),
            Self::Mysql(o) => Arc::new(MysqlStore::for_reads(&MysqlOptions {
                timeout,
                ..o.clone()
            })?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(store: &str) -> StoreSettings {
        StoreSettings {
            store: Some(store.into()),
            ..StoreSettings::default()
        }
    }

    #[test]
    fn choices_are_checked() {
        let e = StoreChoice::new(settings("mysql"), None).unwrap_err().0;
        assert!(e.contains("--mysql-url is required"), "{e}");
        let e = StoreChoice::new(settings("postgres"), None).unwrap_err().0;
        assert!(e.contains("use \"dynamodb\" or \"mysql\""), "{e}");
        let mut s = settings("dynamodb");
        s.mysql_url = Some("mysql://u@h/db".into());
        let e = StoreChoice::new(s, None).unwrap_err().0;
        assert!(e.contains("--mysql-url is a MySQL setting"), "{e}");
        let mut s = settings("mysql");
        s.mysql_url = Some("mysql://u:pw@h:1/db".into());
        let e = StoreChoice::new(s, None).unwrap_err().0;
        assert!(e.contains("holds a password") && !e.contains("pw"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let mut s = settings("mysql");
        s.mysql_url = Some("mysql://u@h:1/db".into());
        s.mysql_password_file = Some(file);
        let Ok(StoreChoice::Mysql(o)) = StoreChoice::new(s, Some("env".into())) else {
            panic!("a MySQL choice")
        };
        assert_eq!(o.password.as_deref(), Some("s3cret"), "the file wins");
        assert_eq!(
            StoreChoice::Mysql(o).target(),
            "MySQL h:1/db",
            "no user or password"
        );
    }
}
