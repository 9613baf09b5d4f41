use std::time::Instant;
fn main() {
    let body = std::fs::read("tests/fixtures/payloads/stripe/charge.failed.json").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let body = serde_json::to_vec(&v).unwrap();
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("stripe-signature".to_string(), "t=1,v1=00".to_string()),
    ];
    let n = 100_000;
    let t = Instant::now();
    for _ in 0..n {
        let parsed = hookwatch::provider::parse_body(Some("application/json"), &body);
        let f = hookwatch::provider::facts(&Default::default(), &headers, parsed.as_ref());
        std::hint::black_box(f);
    }
    println!(
        "parse+facts: {:.1} us/op",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        let ok: serde::de::IgnoredAny = serde_json::from_slice(&body).unwrap();
        std::hint::black_box(ok);
    }
    println!(
        "validate only: {:.1} us/op",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
