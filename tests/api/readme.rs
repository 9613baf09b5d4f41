//! The README's first example, run as written: its commands are read from README.md, so they
//! cannot drift from what this test checks, pointed at a test server, and run by a real shell
//! (curl for HTTP, the built binary for `cargo run --release --`).

use std::path::Path;

use serde_json::Value;

use crate::support::spawn_app;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The commands of the first block under "## Using it".
fn first_example(readme: &str) -> Vec<String> {
    let (_, section) = readme
        .split_once("## Using it")
        .expect("a Using it section");
    section
        .lines()
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| line.starts_with("    "))
        .map(|line| line.trim().to_string())
        .collect()
}

#[test]
fn the_readme_opens_with_the_two_set_up_commands() {
    let readme = readme();
    let first: Vec<&str> = readme.lines().take(3).collect();
    assert!(
        first[0].starts_with("    cargo run --release -- serve "),
        "{first:?}"
    );
    assert!(
        first[1].starts_with("    bash scripts/test.sh "),
        "{first:?}"
    );
    assert_eq!(first[2], "", "{first:?}");
}

#[tokio::test]
async fn the_readme_example_is_received_then_answered_duplicate() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("\n!!! SKIPPING the README example: no curl on this machine !!!\n");
        return;
    }
    let app = spawn_app().await;
    let commands = first_example(&readme());
    assert!(
        commands[0].starts_with("cargo run --release -- serve"),
        "the example starts the server: {commands:?}"
    );
    let empty = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    let mut cli = String::new();
    for command in &commands[1..] {
        let to_test = if command.starts_with("curl ") {
            assert!(command.contains("localhost:8080"), "{command}");
            command.replace("localhost:8080", &app.addr.to_string())
        } else if let Some(rest) = command.strip_prefix("cargo run --release -- ") {
            format!("{BIN} {rest}")
        } else {
            panic!("a command this test cannot run: {command}");
        };
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&to_test)
            .env("HOOKWATCH_DATABASE", &app.database)
            .env_remove("HOOKWATCH_CONFIG")
            .current_dir(empty.path())
            .output()
            .await
            .expect("run sh");
        assert!(output.status.success(), "{to_test}\n{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if command.starts_with("curl ") {
            let answer: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|_| panic!("{to_test}: not JSON: {stdout}"));
            answers.push(answer);
        } else if command.contains(" events ") {
            cli = stdout;
        }
    }
    let [first, again, listed] = &answers[..] else {
        panic!("two deliveries and a query: {answers:?}");
    };
    assert_eq!(first["status"], "received", "{first}");
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(again["id"], first["id"]);
    let events = listed["events"].as_array().expect("a list");
    assert_eq!(events.len(), 1, "stored once: {listed}");
    assert_eq!(events[0]["id"], first["id"]);
    assert_eq!(events[0]["duplicates"], 1, "{listed}");
    let kind = events[0]["event_type"].as_str().expect("a type");
    assert!(cli.contains(kind), "`events` lists it: {cli}");
}
