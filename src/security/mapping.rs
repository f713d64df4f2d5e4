//! The principal of a TLS client: its certificate's subject distinguished
//! name in RFC 2253 form (as Java's `X500Principal.getName()` prints it:
//! most specific RDN first, `CN=alice,OU=lab,O=home`), mapped through
//! Kafka's `ssl.principal.mapping.rules`:
//! `RULE:<regex>/<replacement>/[LU]` entries and `DEFAULT`, comma-separated,
//! tried in order; the first rule whose pattern matches the whole DN gives
//! the name (`$1` … refer to groups, `L`/`U` lower- or upper-case it), and
//! `DEFAULT` is the DN itself. No matching rule fails the authentication,
//! as in Kafka.

use regex::Regex;

use super::SecurityError;

const KEY: &str = "ssl.principal.mapping.rules";

#[derive(Debug)]
enum Rule {
    Default,
    Pattern {
        regex: Regex,
        replacement: String,
        case: Option<char>,
    },
}

/// Parsed `ssl.principal.mapping.rules`.
#[derive(Debug)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

/// Reads up to the next unescaped `/`, unescaping `\/`.
fn until_slash(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if s[i + 1..].starts_with('/') => {
                out.push('/');
                chars.next();
            }
            '/' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

impl PrincipalMapper {
    /// `DEFAULT`: the DN itself.
    pub fn default_rules() -> PrincipalMapper {
        PrincipalMapper {
            rules: vec![Rule::Default],
        }
    }

    /// Parses the rules (`DEFAULT` when empty).
    pub fn parse(text: &str) -> Result<PrincipalMapper, SecurityError> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = r;
            } else if let Some(r) = rest.strip_prefix("RULE:") {
                let (pattern, r) = until_slash(r).ok_or_else(|| {
                    SecurityError::config(KEY, "a RULE needs RULE:pattern/replacement/")
                })?;
                let (replacement, r) = until_slash(r).ok_or_else(|| {
                    SecurityError::config(KEY, "a RULE needs RULE:pattern/replacement/")
                })?;
                let (case, r) = match r.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &r[1..]),
                    _ => (None, r),
                };
                let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    SecurityError::config(KEY, format!("invalid pattern {pattern:?}: {e}"))
                })?;
                rules.push(Rule::Pattern {
                    regex,
                    replacement,
                    case,
                });
                rest = r;
            } else {
                return Err(SecurityError::config(
                    KEY,
                    format!("expected DEFAULT or RULE:pattern/replacement/[LU] at {rest:?}"),
                ));
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.is_empty() {
                return Err(SecurityError::config(
                    KEY,
                    format!("expected a comma before {rest:?}"),
                ));
            }
        }
        if rules.is_empty() {
            rules.push(Rule::Default);
        }
        Ok(PrincipalMapper { rules })
    }

    /// The principal name for `dn`; `None` when no rule applies.
    pub fn name(&self, dn: &str) -> Option<String> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Some(dn.to_string()),
                Rule::Pattern {
                    regex,
                    replacement,
                    case,
                } => {
                    if !regex.is_match(dn) {
                        continue;
                    }
                    // Java's `$1` is Rust's `${1}`: braces keep `$1abc` meaning group 1.
                    let java = java_replacement(replacement);
                    let name = regex.replace(dn, java.as_str()).into_owned();
                    let name = match case {
                        Some('L') => name.to_lowercase(),
                        Some('U') => name.to_uppercase(),
                        _ => name,
                    };
                    if !name.is_empty() {
                        return Some(name);
                    }
                }
            }
        }
        None
    }
}

/// Java's replacement syntax (`$n`, `\$`) in the regex crate's (`${n}`, `$$`).
fn java_replacement(r: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(c) => out.push(c),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The subject DN of a DER certificate in RFC 2253 form; `None` if it does not parse.
pub fn subject_dn(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.9" => "STREET".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                "0.9.2342.19200300.100.1.25" => "DC".to_string(),
                "0.9.2342.19200300.100.1.1" => "UID".to_string(),
                _ => oid,
            };
            let value = atv.as_str().map(escape_rfc2253).unwrap_or_else(|_| {
                let hex: String = atv.as_slice().iter().map(|b| format!("{b:02x}")).collect();
                format!("#{hex}")
            });
            parts.push(format!("{key}={value}"));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_rule_examples() {
        // From Kafka's documentation of ssl.principal.mapping.rules.
        let m = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.name("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .as_deref(),
            Some("serviceuser")
        );
        assert_eq!(
            m.name("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .as_deref(),
            Some("adminuser@admin")
        );
        assert_eq!(m.name("cn=Host.Lab").as_deref(), Some("host.lab"));
        assert_eq!(m.name("O=x").as_deref(), Some("O=x"));
        let none = PrincipalMapper::parse("RULE:^CN=(.*)$/$1/U").unwrap();
        assert_eq!(none.name("CN=a").as_deref(), Some("A"));
        assert_eq!(none.name("O=a"), None);
        assert_eq!(
            PrincipalMapper::parse("").unwrap().name("CN=a").as_deref(),
            Some("CN=a")
        );
        let slash = PrincipalMapper::parse(r"RULE:^CN=(.*)\/x$/$1\/y/").unwrap();
        assert_eq!(slash.name("CN=a/x").as_deref(), Some("a/y"));
        for bad in ["RULE:abc", "RULE:(/x/", "FOO", "DEFAULT DEFAULT"] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc2253_escapes() {
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(escape_rfc2253("#x "), "\\#x\\ ");
    }
}
