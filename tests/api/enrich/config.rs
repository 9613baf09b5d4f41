//! `[enrichment]` through the binary: mistakes stop start-up with exit code 2 naming the key,
//! and `check-config` shows the section with the key hidden.

use std::process::Command;

#[test]
fn enrichment_mistakes_stop_start_up_and_check_config_hides_the_key() {
    let bin = env!("CARGO_BIN_EXE_hookwatch");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookwatch.toml");
    let run = |text: &str| {
        std::fs::write(&config, text).unwrap();
        Command::new(bin)
            .arg("check-config")
            .current_dir(dir.path())
            .env_remove("HOOKWATCH_CONFIG")
            .env("HW_ENRICH_KEY", "sk_live_never_print_me")
            .output()
            .unwrap()
    };
    let base = "[enrichment]\nkind = \"swiftsearch\"\nurl = \"https://www.searchhive.dev/api/v1/swiftsearch\"\n";
    let out = run(&format!(
        "{base}api_key_env = \"HW_ENRICH_KEY\"\nwhen_types = [\"*.failed\"]\n"
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[enrichment]") && stdout.contains("(set, hidden)"),
        "{stdout}"
    );
    assert!(stdout.contains("auto_scrape_top = 0"), "{stdout}");
    assert!(!stdout.contains("sk_live_never_print_me"), "{stdout}");
    for (text, key) in [
        (
            format!("{base}api_key_env = \"HW_ENRICH_UNSET\"\n"),
            "enrichment.api_key_env",
        ),
        (
            "[enrichment]\nkind = \"bing\"\n".to_string(),
            "enrichment.kind",
        ),
        (
            "[enrichment]\nkind = \"http\"\n".to_string(),
            "enrichment.url",
        ),
    ] {
        let out = run(&text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(key) && stderr.contains("hookwatch.toml"),
            "{stderr}"
        );
    }
}
