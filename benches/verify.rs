//! Verification micro-benchmark: the cost a configurable HMAC scheme adds next to the built-in
//! Stripe check on the same ~2 KB body, and what an `allow_ips` check with 1,000 CIDRs costs
//! per request. Pure functions, timed in a loop on one thread: no server, no I/O.
//!
//! Run: `cargo bench --bench verify` (`BENCH_ITERS=N` to change the iterations per figure).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use hookwatch::model::Header;
use hookwatch::verify::{
    Algorithm, Encoding, HmacScheme, Networks, Outcome, Request, Scheme, Template, Verifier,
    client_address, sign,
};

const SECRET: &str = "whsec_bench_secret";
const NOW: i64 = 1_767_225_600;

fn iterations() -> u32 {
    std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// Nanoseconds per call of `f`, the best of three rounds (the machine is shared).
fn per_call(iters: u32, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iters {
                f();
            }
            started.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

fn signed_request(scheme: &Scheme, body: &[u8]) -> Vec<Header> {
    let unsigned = Request {
        headers: &[],
        body,
        url: None,
        content_type: Some("application/json"),
        query: "",
    };
    sign(scheme, SECRET, &unsigned, NOW).expect("sign").headers
}

fn verify_cost(scheme: Scheme, body: &[u8], iters: u32) -> f64 {
    let headers = signed_request(&scheme, body);
    let verifier = Verifier {
        scheme,
        secrets: vec![SECRET.into()],
        tolerance_secs: 300,
    };
    let req = Request {
        headers: &headers,
        body,
        url: None,
        content_type: Some("application/json"),
        query: "",
    };
    assert_eq!(verifier.verify(&req, NOW), Outcome::Valid);
    per_call(iters, || {
        black_box(verifier.verify(black_box(&req), NOW));
    })
}

fn main() {
    let iters = iterations();
    let body = format!(
        "{{\"id\":\"evt_bench\",\"type\":\"charge.failed\",\"data\":\"{}\"}}",
        "x".repeat(2000)
    );
    let body = body.as_bytes();
    let configured = HmacScheme {
        header: "x-signature".into(),
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Hex,
        prefix: None,
        timestamp_header: Some("x-timestamp".into()),
        signed: Template::parse("{timestamp}.{body}").expect("template"),
    };
    let stripe = verify_cost(Scheme::Stripe, body, iters / 10);
    let hmac = verify_cost(Scheme::Hmac(Box::new(configured)), body, iters / 10);
    println!("stripe check, 2 KB body:              {stripe:8.0} ns");
    println!("configured hmac (same content):       {hmac:8.0} ns");
    println!(
        "ratio configured / stripe:            {:8.2}",
        hmac / stripe
    );

    let cidrs: Vec<String> = (0..1000u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let allow = Networks::parse(&cidrs).expect("cidrs");
    let trusted = Networks::parse(&["127.0.0.1/32"]).expect("trusted");
    let headers: Vec<Header> = vec![("x-forwarded-for".into(), "10.3.200.7".into())];
    let outside = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let direct = per_call(iters, || {
        black_box(allow.contains(black_box(outside)));
    });
    let forwarded = per_call(iters, || {
        let client = client_address(black_box(proxy), black_box(&headers), &trusted);
        black_box(client.is_some_and(|c| allow.contains(c)));
    });
    println!("allow_ips, 1,000 CIDRs, peer:         {direct:8.1} ns");
    println!("allow_ips, 1,000 CIDRs, via proxy:    {forwarded:8.1} ns");
}
