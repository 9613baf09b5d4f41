//! Database URLs shown without their password, for the banner, logs and `check-config`.
//! Pure string work: no parsing beyond finding the user info and the query.

/// Hides the password of a URL (`user:password@`, or a `password=` query parameter) so it
/// can be printed.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the user info: a password may itself contain `@`.
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => rest.to_string(),
    };
    let Some((base, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{scheme}://{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::super::DatabaseUrl;

    #[test]
    fn the_database_is_shown_as_a_url_that_can_be_pasted_back() {
        let sqlite = DatabaseUrl::parse("sqlite:data/h.db").unwrap();
        assert_eq!(sqlite.url_safe(), "sqlite://data/h.db");
        assert_eq!(DatabaseUrl::parse(&sqlite.url_safe()), Ok(sqlite));
        let absolute = DatabaseUrl::Sqlite("/var/lib/h.db".into());
        assert_eq!(absolute.url_safe(), "sqlite:///var/lib/h.db");
        let cases = [
            (
                "postgres://app:s3cret@db:5432/hooks",
                "postgres://app:***@db:5432/hooks",
            ),
            ("postgres://app@db/hooks", "postgres://app@db/hooks"),
            ("postgresql://db/hooks", "postgresql://db/hooks"),
            (
                "postgres://db/hooks?user=app&password=s3cret&sslmode=require",
                "postgres://db/hooks?user=app&password=***&sslmode=require",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(DatabaseUrl::Postgres(url.into()).url_safe(), shown);
        }
    }
}
