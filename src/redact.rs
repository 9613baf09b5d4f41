//! URLs as they may be shown — in logs, API answers, the dashboard, `check-config` — with
//! their credentials hidden: a database URL, a forwarding target. It works on the text itself,
//! so what is shown is exactly what was written, less the secrets. Pure.

/// `to` as it may be shown: the password of `USER:PASS@` and the values of query parameters
/// whose name contains `token`, `key`, `secret`, `password` or `sig` (except the AMQP
/// `routing_key`) become `***`.
pub fn url(to: &str) -> String {
    let (before_query, query) = match to.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (to, None),
    };
    let mut shown = mask_password(before_query);
    if let Some(query) = query {
        shown.push('?');
        let params: Vec<String> = query.split('&').map(mask_param).collect();
        shown.push_str(&params.join("&"));
    }
    shown
}

fn mask_password(head: &str) -> String {
    let Some((scheme, rest)) = head.split_once("://") else {
        return head.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return head.to_string();
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    format!("{scheme}://{user}@{host}{path}")
}

fn mask_param(param: &str) -> String {
    let Some((name, _value)) = param.split_once('=') else {
        return param.to_string();
    };
    let lower = name.to_ascii_lowercase();
    // `routing_key` is hookwatch's own AMQP parameter: a routing key, not a secret.
    let secret = lower != "routing_key"
        && ["token", "key", "secret", "password", "sig"]
            .iter()
            .any(|word| lower.contains(word));
    if secret {
        format!("{name}=***")
    } else {
        param.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_looking_parameters_are_url() {
        assert_eq!(
            url("amqp://guest:s3cret@127.0.0.1:5672/%2f?exchange=x&routing_key=k"),
            "amqp://guest:***@127.0.0.1:5672/%2f?exchange=x&routing_key=k"
        );
        assert_eq!(
            url("https://app.example.com/h?api_key=abc&x=1&access_token=t&sig=s&Password=p"),
            "https://app.example.com/h?api_key=***&x=1&access_token=***&sig=***&Password=***"
        );
        assert_eq!(
            url("redis://:pw@127.0.0.1:6379/0?stream=s"),
            "redis://:***@127.0.0.1:6379/0?stream=s"
        );
        assert_eq!(
            url("nats://user@127.0.0.1:4222/a"),
            "nats://user@127.0.0.1:4222/a"
        );
        assert_eq!(
            url("http://localhost:3000/{source}"),
            "http://localhost:3000/{source}"
        );
    }

    #[test]
    fn a_path_with_an_at_sign_is_not_mistaken_for_credentials() {
        assert_eq!(url("http://host/a:b@c"), "http://host/a:b@c");
    }

    #[test]
    fn a_database_password_is_hidden_wherever_it_is_written() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/hooks",
                "postgres://app:***@db:5432/hooks",
            ),
            (
                "postgres://app:p@ss@db/hooks",
                "postgres://app:***@db/hooks",
            ),
            ("postgres://app@db/hooks", "postgres://app@db/hooks"),
            (
                "postgres://db/hooks?user=app&password=s3cret&sslmode=require",
                "postgres://db/hooks?user=app&password=***&sslmode=require",
            ),
        ];
        for (written, shown) in cases {
            assert_eq!(url(written), shown);
        }
    }
}
