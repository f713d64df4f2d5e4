//! Kafka's JAAS configuration syntax, as `sasl.jaas.config` carries it:
//! `<LoginModule class> <flag> key="value" key2=value2;` (one or more
//! modules). Values may be quoted (`\` escapes the next character inside
//! quotes); unquoted values end at whitespace or `;`.

use std::collections::BTreeMap;

/// One login module entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

/// Kafka's PLAIN login module.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// Kafka's SCRAM login module.
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

fn err(reason: impl Into<String>) -> String {
    reason.into()
}

/// Parses a JAAS configuration value; the error says what is wrong (never the value).
pub fn parse(text: &str) -> Result<Vec<LoginModule>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    let word = |i: &mut usize| -> String {
        let start = *i;
        while chars
            .get(*i)
            .is_some_and(|c| !c.is_whitespace() && *c != ';' && *c != '=')
        {
            *i += 1;
        }
        chars[start..*i].iter().collect()
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let class = word(&mut i);
        skip_ws(&mut i);
        let flag = word(&mut i);
        if class.is_empty() || flag.is_empty() {
            return Err(err("expected `<LoginModule> <flag> key=value ...;`"));
        }
        if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
            return Err(err(format!(
                "login module control flag must be required, requisite, sufficient or optional, not `{flag}`"
            )));
        }
        let mut options = BTreeMap::new();
        loop {
            skip_ws(&mut i);
            match chars.get(i) {
                None => return Err(err("the login module entry does not end with `;`")),
                Some(';') => {
                    i += 1;
                    break;
                }
                Some(_) => {}
            }
            let key = word(&mut i);
            skip_ws(&mut i);
            if key.is_empty() || chars.get(i) != Some(&'=') {
                return Err(err(format!("expected key=value after option `{key}`")));
            }
            i += 1;
            skip_ws(&mut i);
            let value = if chars.get(i) == Some(&'"') {
                i += 1;
                let mut v = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(format!("unterminated quoted value of `{key}`"))),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(c) = chars.get(i + 1) {
                                v.push(*c);
                            }
                            i += 2;
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1;
                        }
                    }
                }
                v
            } else {
                word(&mut i)
            };
            options.insert(key, value);
        }
        out.push(LoginModule {
            class,
            flag,
            options,
        });
    }
    if out.is_empty() {
        return Err(err("no login module"));
    }
    Ok(out)
}

/// PLAIN users of a JAAS configuration: its `user_<name>="<password>"` options.
pub fn plain_users(modules: &[LoginModule]) -> BTreeMap<String, String> {
    modules
        .iter()
        .flat_map(|m| m.options.iter())
        .filter_map(|(k, v)| k.strip_prefix("user_").map(|u| (u.to_string(), v.clone())))
        .collect()
}

/// The `username` and `password` options (a client's own credentials).
pub fn username_password(modules: &[LoginModule]) -> Option<(String, String)> {
    modules.iter().find_map(|m| {
        Some((
            m.options.get("username")?.clone(),
            m.options.get("password")?.clone(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafkas_examples() {
        let m = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin" password="admin-secret" user_admin="admin-secret" user_alice="a\"b c";"#,
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].class, PLAIN_LOGIN_MODULE);
        assert_eq!(m[0].flag, "required");
        let users = plain_users(&m);
        assert_eq!(users.get("alice").map(String::as_str), Some("a\"b c"));
        assert_eq!(users.get("admin").map(String::as_str), Some("admin-secret"));
        assert_eq!(
            username_password(&m),
            Some(("admin".into(), "admin-secret".into()))
        );
        let m = parse("org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=p;")
            .unwrap();
        assert_eq!(m[0].options.get("password").map(String::as_str), Some("p"));
        for bad in [
            "",
            "X required a=\"b\"",
            "X maybe a=b;",
            "X required a;",
            "X required a=\"b;",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
