//! MariaDB servers for the integration tests: plain `mariadbd` processes on
//! free loopback ports, each with its own data directory and socket, a
//! primary (binary log on) and read-only replicas of it. A server that
//! cannot start fails the test with the reason and its error log.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::services::free_port;

/// The user the tests' stores connect as, and its password (given to the
/// binary through `TOPSELLERS_MYSQL_PASSWORD`).
pub const USER: &str = "topsellers";
pub const PASSWORD: &str = "topsellers-test";

const MARIADBD: &str = "/usr/sbin/mariadbd";

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A data directory made by `mariadb-install-db` once (kept under the
/// target directory), copied for every server: installing takes seconds.
fn template() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        assert!(
            Path::new(MARIADBD).exists(),
            "{MARIADBD} is missing: install mariadb-server (scripts/install-deps.sh does)"
        );
        let done = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mariadb-template");
        if done.join("mysql").is_dir() {
            return done;
        }
        // Built aside, then renamed: test binaries running at once may
        // race to build it.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("mariadb-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("mariadb-install-db");
        cmd.args([
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=16M",
        ])
        .arg(format!("--datadir={}", dir.display()));
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run mariadb-install-db (install mariadb-server): {e}")
        });
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&dir, &done).is_err() {
            // Another process won the race.
            let _ = std::fs::remove_dir_all(&dir);
        }
        done
    })
}

/// One `mariadbd` process, killed when dropped.
pub struct Mariadb {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    server_id: u32,
    replica: bool,
}

impl Mariadb {
    /// A primary with its binary log on, the test user and a replication
    /// user created.
    pub fn primary() -> Self {
        let mut db = Self::start(1, false);
        db.root_sql(&format!(
            "CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\
             GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON *.* TO '{USER}'@'%';\
             CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';\
             GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';"
        ));
        db.replica = false;
        db
    }

    /// A read-only replica of `primary`, replicating from its first event
    /// (both start from the same empty data directory).
    pub fn replica_of(primary: &Mariadb) -> Self {
        let db = Self::start(2 + primary.port as u32, true);
        db.root_sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
             MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;",
            primary.port
        ));
        db
    }

    fn start(server_id: u32, replica: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("topsellers-mariadb-")
            .tempdir()
            .unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", template().display()))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "cannot copy the MariaDB data directory");
        let mut db = Self {
            child: None,
            port: free_port(),
            dir,
            server_id,
            replica,
        };
        db.spawn();
        db
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let mut cmd = Command::new(MARIADBD);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", d.display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", d.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=500",
            ])
            .arg(format!("--server-id={}", self.server_id))
            .arg(format!("--log-bin={}", d.join("binlog").display()))
            .arg("--binlog-format=ROW")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.replica {
            cmd.arg("--read-only");
        }
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {MARIADBD}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.socket().exists()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "mariadbd exited before listening ({status}): {}",
                    self.error_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not listen on port {} within 60 s: {}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("mariadbd.sock")
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// `mysql://topsellers@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("mysql://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` as root through the socket; the output, tab-separated.
    pub fn root_sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-uroot", "-N", "-B", "-e", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Creates database `db`.
    pub fn create_db(&self, db: &str) {
        self.root_sql(&format!("CREATE DATABASE `{db}`"));
    }

    /// A global status counter (`Com_select`).
    pub fn status(&self, name: &str) -> i64 {
        let line = self.root_sql(&format!("SHOW GLOBAL STATUS LIKE '{name}'"));
        line.split('\t').nth(1).unwrap().parse().unwrap()
    }

    /// The binary log position as GTIDs.
    pub fn gtid_pos(&self) -> String {
        self.root_sql("SELECT @@gtid_binlog_pos")
    }

    /// Waits until this replica has applied `primary`'s binary log so far.
    pub fn catch_up(&self, primary: &Mariadb) {
        let pos = primary.gtid_pos();
        let waited = self.root_sql(&format!("SELECT MASTER_GTID_WAIT('{pos}', 60)"));
        assert_eq!(waited, "0", "the replica did not reach {pos} within 60 s");
    }

    /// The standby promoted as an operator would (README, MySQL: Failover).
    pub fn promote(&mut self) {
        self.root_sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF;");
        self.replica = false;
    }

    /// Starts the server again on its data directory and port (after
    /// [`Mariadb::kill`]): InnoDB recovers what was committed.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `TOPSELLERS_MYSQL_PASSWORD` for the binary.
pub fn password_env() -> (&'static str, &'static str) {
    ("TOPSELLERS_MYSQL_PASSWORD", PASSWORD)
}
