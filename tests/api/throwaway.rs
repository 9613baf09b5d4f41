//! A throwaway PostgreSQL cluster the test owns (initdb + pg_ctl on a spare port in a temp
//! dir), for tests that stop and start the database; the shared server is never touched.
//!
//! As root, PostgreSQL refuses to run, so the commands run as the `postgres` user through
//! `runuser`, in a directory it owns.
//!
//! `start_with(Setup { tls: Some(…) })` makes a cluster that speaks TLS with the given
//! certificate and refuses plain TCP (`hostssl` only in `pg_hba.conf`).

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;
use tokio::process::Command;

/// A private cluster; stopped (immediately) when dropped.
pub struct Throwaway {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

/// How a cluster is set up beyond the defaults (trust auth, plain TCP on loopback).
#[derive(Debug, Default)]
pub struct Setup {
    /// TLS on, and only TLS accepted over TCP (the Unix socket stays open for admin checks).
    pub tls: Option<ServerTls>,
}

/// The server certificate (chain, PEM) and its private key (PEM).
#[derive(Debug)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The newest `/usr/lib/postgresql/*/bin` that has `initdb`.
fn find_bin() -> Option<PathBuf> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    bins.sort_by_key(|p| {
        let version = p
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str());
        version.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    bins.pop()
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

impl Throwaway {
    /// Creates and starts a cluster, or `None` (skipped loudly; a failure under CI).
    pub async fn start_new() -> Option<Throwaway> {
        Throwaway::start_with(Setup::default()).await
    }

    /// As `start_new`, set up as `setup` says before the first start.
    pub async fn start_with(setup: Setup) -> Option<Throwaway> {
        let Some(bin) = find_bin() else {
            let message = "no initdb under /usr/lib/postgresql/*/bin";
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
                panic!("{message}; CI is set, so this test may not be skipped");
            }
            eprintln!("SKIPPED (PostgreSQL fault test): {message}");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .await
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_root {
            run(Command::new("chown").arg("postgres:").arg(dir.path())).await;
        }
        let cluster = Throwaway {
            dir,
            bin,
            port: free_port(),
            as_root,
        };
        let data = cluster.data();
        cluster
            .pg([
                "initdb",
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .await;
        if let Some(tls) = &setup.tls {
            cluster.require_tls(tls).await;
        }
        cluster.start().await;
        Some(cluster)
    }

    /// Installs the certificate, turns `ssl` on and lets TCP clients in over TLS only.
    async fn require_tls(&self, tls: &ServerTls) {
        let data = Path::new(&self.data()).to_path_buf();
        std::fs::copy(&tls.cert, data.join("server.crt")).expect("copy the certificate");
        std::fs::copy(&tls.key, data.join("server.key")).expect("copy the key");
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).expect("conf");
        conf += "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
        std::fs::write(data.join("postgresql.conf"), conf).expect("write conf");
        let hba = "local all all trust\n\
                   hostssl all all 127.0.0.1/32 trust\n\
                   hostssl all all ::1/128 trust\n";
        std::fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        let key = data.join("server.key");
        run(Command::new("chmod").arg("600").arg(&key)).await;
        if self.as_root {
            run(Command::new("chown")
                .arg("postgres:")
                .arg(&key)
                .arg(data.join("server.crt")))
            .await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the cluster's Unix socket (reachable whatever `pg_hba.conf` says
    /// about TCP), for a test's own checks.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub async fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg([
            "pg_ctl",
            "-D",
            &self.data(),
            "-l",
            &log,
            "-o",
            &options,
            "-w",
            "-t",
            "60",
            "start",
        ])
        .await;
    }

    /// Stops with `-m fast`: open sessions are terminated, as when an operator stops it.
    pub async fn stop(&self) {
        self.pg(["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"])
            .await;
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command<const N: usize>(&self, args: [&str; N]) -> std::process::Command {
        let program = self.bin.join(args[0]);
        let mut command = match self.as_root {
            true => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            }
            false => std::process::Command::new(program),
        };
        command.args(&args[1..]).current_dir(self.dir.path());
        command
    }

    async fn pg<const N: usize>(&self, args: [&str; N]) {
        run(&mut Command::from(self.command(args))).await;
    }
}

async fn run(command: &mut Command) -> Output {
    let output = command.output().await.expect("run command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self
            .command([
                "pg_ctl",
                "-D",
                &self.data(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
