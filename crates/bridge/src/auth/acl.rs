//! The ACL file, in Mosquitto's format:
//!
//! ```text
//! # topics before the first `user` line are for anonymous clients
//! topic read sensors/#
//! user alice
//! topic readwrite sensors/alice/#
//! topic deny sensors/alice/secret
//! # patterns apply to every client; %c is its client id, %u its user name
//! pattern write sensors/%c/#
//! ```
//!
//! Access is `read`, `write`, `readwrite` (the default) or `deny`, which wins
//! over any grant. A client may publish to a topic some write rule matches,
//! and receives a message only if some read rule matches its topic (retained
//! ones too); it may subscribe to a filter only if one read rule covers every
//! topic the filter matches (Mosquitto 2's rule: `sensors/#` allows
//! `sensors/+/t`, not `#`).

use mqtt_proto::topic::{filter_matches, validate_topic_filter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Access {
    fn allows_read(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    fn allows_write(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    access: Access,
    filter: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Invalid {
        path: String,
        line: usize,
        problem: String,
    },
}

/// The whole file.
#[derive(Debug, Default, Clone)]
pub struct AclFile {
    anonymous: Vec<Rule>,
    users: Vec<(String, Vec<Rule>)>,
    patterns: Vec<Rule>,
}

impl AclFile {
    pub fn load(path: &std::path::Path) -> Result<AclFile, AclError> {
        crate::config::load_text(
            path,
            |path, source| AclError::Read { path, source },
            AclFile::parse,
        )
    }

    pub fn parse(text: &str, path: &str) -> Result<AclFile, AclError> {
        let mut file = AclFile::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |problem: String| AclError::Invalid {
                path: path.to_owned(),
                line: n + 1,
                problem,
            };
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "user" if !rest.is_empty() => file.users.push((rest.to_owned(), Vec::new())),
                "topic" | "pattern" => {
                    let rule = parse_rule(rest, keyword == "pattern").map_err(invalid)?;
                    match (keyword, file.users.last_mut()) {
                        ("pattern", _) => file.patterns.push(rule),
                        (_, Some((_, rules))) => rules.push(rule),
                        (_, None) => file.anonymous.push(rule),
                    }
                }
                "user" => return Err(invalid("`user` needs a name".to_owned())),
                other => {
                    return Err(invalid(format!(
                        "unknown keyword {other:?}; expected user, topic or pattern"
                    )))
                }
            }
        }
        Ok(file)
    }

    /// The rules for one client: its user's (or the anonymous ones) and the
    /// patterns with its client id and user name filled in. A pattern naming
    /// a value that holds a wildcard or `/` is left out: a client must not
    /// widen its own access by its choice of id.
    pub fn for_client(&self, username: Option<&str>, client_id: &str) -> ClientAcl {
        let mut rules: Vec<Rule> = match username {
            None => self.anonymous.clone(),
            Some(user) => self
                .users
                .iter()
                .filter(|(name, _)| name == user)
                .flat_map(|(_, rules)| rules.iter().cloned())
                .collect(),
        };
        let unsafe_value = |v: &str| v.contains(['+', '#', '/']);
        for pattern in &self.patterns {
            let needs_user = pattern.filter.contains("%u");
            let needs_client = pattern.filter.contains("%c");
            let user = match (needs_user, username) {
                (true, None) => continue,
                (true, Some(u)) if unsafe_value(u) => continue,
                (_, u) => u.unwrap_or(""),
            };
            if needs_client && unsafe_value(client_id) {
                continue;
            }
            rules.push(Rule {
                access: pattern.access,
                filter: pattern.filter.replace("%c", client_id).replace("%u", user),
            });
        }
        ClientAcl { rules }
    }
}

fn parse_rule(rest: &str, pattern: bool) -> Result<Rule, String> {
    let (first, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (access, filter) = match first {
        "read" => (Access::Read, after.trim()),
        "write" => (Access::Write, after.trim()),
        "readwrite" => (Access::ReadWrite, after.trim()),
        "deny" => (Access::Deny, after.trim()),
        _ => (Access::ReadWrite, rest),
    };
    if filter.is_empty() {
        return Err("a topic is missing".to_owned());
    }
    let checked = match pattern {
        true => filter.replace("%c", "c").replace("%u", "u"),
        false => filter.to_owned(),
    };
    validate_topic_filter(&checked)
        .map_err(|e| format!("{filter:?} is not a topic filter: {e}"))?;
    Ok(Rule {
        access,
        filter: filter.to_owned(),
    })
}

/// One client's rules, resolved at CONNECT.
#[derive(Debug, Clone, Default)]
pub struct ClientAcl {
    rules: Vec<Rule>,
}

impl ClientAcl {
    fn denied(&self, topic: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.access == Access::Deny && filter_matches(&r.filter, topic))
    }

    /// Whether the client may publish to `topic`.
    pub fn can_write(&self, topic: &str) -> bool {
        !self.denied(topic)
            && self
                .rules
                .iter()
                .any(|r| r.access.allows_write() && filter_matches(&r.filter, topic))
    }

    /// Whether the client may receive a message on `topic`.
    pub fn can_read(&self, topic: &str) -> bool {
        !self.denied(topic)
            && self
                .rules
                .iter()
                .any(|r| r.access.allows_read() && filter_matches(&r.filter, topic))
    }

    /// Whether the client may subscribe to `filter` (a shared subscription's
    /// filter without its `$share/<group>/`).
    pub fn can_subscribe(&self, filter: &str) -> bool {
        let denied = self
            .rules
            .iter()
            .any(|r| r.access == Access::Deny && covers(&r.filter, filter));
        !denied
            && self
                .rules
                .iter()
                .any(|r| r.access.allows_read() && covers(&r.filter, filter))
    }
}

/// Whether every topic `filter` matches is matched by `rule`.
pub fn covers(rule: &str, filter: &str) -> bool {
    // A leading wildcard never matches `$` topics; a rule starting with one
    // cannot cover a filter that names them.
    if filter.starts_with('$') && (rule.starts_with('+') || rule.starts_with('#')) {
        return false;
    }
    let mut rule_levels = rule.split('/');
    let mut filter_levels = filter.split('/');
    loop {
        match (rule_levels.next(), filter_levels.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(f)) if f != "#" => {}
            (Some(r), Some(f)) if r == f && f != "+" && f != "#" => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
# anonymous clients
topic read public/#

user alice
topic readwrite sensors/alice/#
topic deny sensors/alice/secret
topic sensors/shared

user bob
topic write sensors/bob/+

pattern read devices/%c/#
pattern readwrite home/%u/#
";

    fn acl() -> AclFile {
        AclFile::parse(FILE, "acl").expect("parses")
    }

    #[test]
    fn anonymous_rules_are_the_ones_before_the_first_user() {
        let anon = acl().for_client(None, "dev1");
        assert!(anon.can_read("public/news"));
        assert!(!anon.can_write("public/news"));
        assert!(!anon.can_read("sensors/alice/t"));
        assert!(anon.can_read("devices/dev1/x"), "patterns with %c apply");
        assert!(!anon.can_read("home/x"), "%u patterns need a user");
    }

    #[test]
    fn user_rules_patterns_and_deny() {
        let alice = acl().for_client(Some("alice"), "a1");
        assert!(alice.can_write("sensors/alice/t"));
        assert!(alice.can_read("sensors/alice/t"));
        assert!(!alice.can_read("sensors/alice/secret"), "deny wins");
        assert!(!alice.can_write("sensors/alice/secret"));
        assert!(
            alice.can_write("sensors/shared"),
            "no access word: readwrite"
        );
        assert!(
            !alice.can_read("public/news"),
            "anonymous rules are not hers"
        );
        assert!(alice.can_write("home/alice/lamp"));
        assert!(!alice.can_write("home/bob/lamp"));
        assert!(alice.can_read("devices/a1/t"));
        let bob = acl().for_client(Some("bob"), "b1");
        assert!(bob.can_write("sensors/bob/t"));
        assert!(!bob.can_read("sensors/bob/t"), "write only");
        assert!(!bob.can_write("sensors/bob/t/deeper"));
        let stranger = acl().for_client(Some("mallory"), "m");
        assert!(!stranger.can_write("sensors/alice/t"));
    }

    #[test]
    fn ids_with_wildcards_do_not_widen_patterns() {
        let sneaky = acl().for_client(Some("#"), "+");
        assert!(!sneaky.can_read("devices/other/x"));
        assert!(!sneaky.can_write("home/alice/lamp"));
        let slash = acl().for_client(Some("alice/.."), "a/b");
        assert!(!slash.can_read("devices/a/b/x"));
    }

    #[test]
    fn subscriptions_must_be_covered_by_one_read_rule() {
        let alice = acl().for_client(Some("alice"), "a1");
        assert!(alice.can_subscribe("sensors/alice/#"));
        assert!(alice.can_subscribe("sensors/alice/+"));
        assert!(alice.can_subscribe("sensors/alice/t"));
        assert!(!alice.can_subscribe("sensors/#"));
        assert!(!alice.can_subscribe("sensors/+/t"));
        assert!(!alice.can_subscribe("#"));
        assert!(
            !alice.can_subscribe("sensors/alice/secret"),
            "denied outright"
        );
        assert!(
            alice.can_subscribe("sensors/alice/#"),
            "a filter that only overlaps a deny is allowed; the denied topic is not delivered"
        );
    }

    #[test]
    fn covers_level_by_level() {
        for (rule, filter, expected) in [
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("a/+", "a/b", true),
            ("a/+", "a/+", true),
            ("a/+", "a/#", false),
            ("a/b", "a/+", false),
            ("+/b", "a/b", true),
            ("#", "$SYS/x", false),
            ("$SYS/#", "$SYS/broker/uptime", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
        ] {
            assert_eq!(covers(rule, filter), expected, "{rule} covers {filter}");
        }
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, expected) in [
            ("topic\n", "acl:1: a topic is missing"),
            ("topic read\n", "acl:1: a topic is missing"),
            ("\nuser\n", "acl:2: `user` needs a name"),
            (
                "topic read a/#/b\n",
                "acl:1: \"a/#/b\" is not a topic filter",
            ),
            ("toppic read a\n", "acl:1: unknown keyword \"toppic\""),
        ] {
            let e = AclFile::parse(text, "acl").expect_err(text).to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }
}
