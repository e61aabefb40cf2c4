//! The password file, in Mosquitto's format so either broker reads the
//! other's: one `user:$7$<iterations>$<salt>$<hash>` line per user, PBKDF2
//! with HMAC-SHA512, salt and hash in standard base64. `mosquitto_passwd`
//! writes 101 iterations; `bridge passwd` writes [`ITERATIONS`] (OWASP's
//! 2023 figure for PBKDF2-HMAC-SHA512). Both are accepted.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::collections::BTreeMap;
use std::path::Path;

pub const ITERATIONS: u32 = 210_000;
const SALT_LEN: usize = 12;
const HASH_LEN: usize = 64;
/// More than this is not a password hash but a way to stall CONNECTs.
const MAX_ITERATIONS: u32 = 10_000_000;

/// One user's salted hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// A new hash of `password` with a random salt.
    pub fn new(password: &str) -> Result<PasswordHash, PasswordError> {
        let mut salt = vec![0; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| PasswordError::Random(e.to_string()))?;
        Ok(PasswordHash::with_salt(password, salt, ITERATIONS))
    }

    fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> PasswordHash {
        let mut hash = vec![0; HASH_LEN];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), &salt, iterations, &mut hash);
        PasswordHash {
            iterations,
            salt,
            hash,
        }
    }

    /// Whether `password` is this one (compared in constant time).
    pub fn verify(&self, password: &[u8]) -> bool {
        let mut computed = vec![0; self.hash.len()];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &self.salt, self.iterations, &mut computed);
        computed
            .iter()
            .zip(&self.hash)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }

    /// Spends as long as a verification would, for a user that does not
    /// exist: how long a refusal takes must not tell which users do.
    pub fn verify_nobody(password: &[u8]) {
        let mut out = [0; HASH_LEN];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &[0; SALT_LEN], ITERATIONS, &mut out);
    }

    fn parse(text: &str) -> Option<PasswordHash> {
        let mut parts = text.strip_prefix("$7$")?.split('$');
        let iterations: u32 = parts.next()?.parse().ok()?;
        let salt = BASE64.decode(parts.next()?).ok()?;
        let hash = BASE64.decode(parts.next()?).ok()?;
        let valid = parts.next().is_none()
            && (1..=MAX_ITERATIONS).contains(&iterations)
            && !salt.is_empty()
            && hash.len() == HASH_LEN;
        valid.then_some(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    fn format(&self) -> String {
        format!(
            "$7${}${}${}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(&self.hash)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Invalid {
        path: String,
        line: usize,
        problem: String,
    },
    #[error("no random numbers for a salt: {0}")]
    Random(String),
    #[error("a user name cannot be empty or contain ':' or a line break")]
    BadUserName,
}

/// Users and their hashes, in name order.
#[derive(Debug, Default, Clone)]
pub struct PasswordFile {
    users: BTreeMap<String, PasswordHash>,
}

impl PasswordFile {
    pub fn load(path: &Path) -> Result<PasswordFile, PasswordError> {
        crate::config::load_text(
            path,
            |path, source| PasswordError::Read { path, source },
            PasswordFile::parse,
        )
    }

    pub fn parse(text: &str, path: &str) -> Result<PasswordFile, PasswordError> {
        let mut users = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |problem: &str| PasswordError::Invalid {
                path: path.to_owned(),
                line: n + 1,
                problem: problem.to_owned(),
            };
            let (user, hash) = line
                .rsplit_once(':')
                .ok_or_else(|| invalid("expected user:$7$iterations$salt$hash"))?;
            let hash = PasswordHash::parse(hash).ok_or_else(|| {
                invalid(
                    "not a $7$ (PBKDF2-SHA512) hash; set the password again with `bridge passwd`",
                )
            })?;
            if user.is_empty() {
                return Err(invalid("empty user name"));
            }
            users.insert(user.to_owned(), hash);
        }
        Ok(PasswordFile { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn get(&self, user: &str) -> Option<&PasswordHash> {
        self.users.get(user)
    }

    /// Adds `user` or changes its password.
    pub fn set(&mut self, user: &str, password: &str) -> Result<(), PasswordError> {
        if user.is_empty() || user.contains([':', '\n', '\r']) {
            return Err(PasswordError::BadUserName);
        }
        self.users
            .insert(user.to_owned(), PasswordHash::new(password)?);
        Ok(())
    }

    pub fn remove(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }

    /// Writes the file whole to a temporary name, then renames it over
    /// `path`: a crash leaves the old file or the new, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), PasswordError> {
        let text: String = self
            .users
            .iter()
            .map(|(user, hash)| format!("{user}:{}\n", hash.format()))
            .collect();
        let write = |source| PasswordError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = std::path::PathBuf::from(temp);
        write_private(&temp, text.as_bytes()).map_err(write)?;
        std::fs::rename(&temp, path).map_err(write)
    }
}

/// Writes `bytes` to a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by `mosquitto_passwd -b` (Mosquitto 2.0.11) for alice/secret.
    const MOSQUITTO_LINE: &str = "alice:$7$101$5cpkaKh9b4W9HYTT$V8czuuhaVyxfonJu12ptzwCBf17aAGSig7wqCvzp8AovNX6ZWLTR7iErxzoingOp9KidSPZBCZLqFhXHzJB51g==";

    #[test]
    fn reads_mosquitto_passwd_output() {
        let file = PasswordFile::parse(MOSQUITTO_LINE, "pw").expect("parses");
        let alice = file.get("alice").expect("alice");
        assert!(alice.verify(b"secret"));
        assert!(!alice.verify(b"Secret"));
        assert!(!alice.verify(b""));
    }

    #[test]
    fn set_save_and_load_round_trip() {
        let mut file = PasswordFile::default();
        file.set("bob", "pa:ss word").expect("set");
        file.set("carol", "x").expect("set");
        let path = std::env::temp_dir().join(format!("bridge-pw-test-{}", std::process::id()));
        file.save(&path).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(&format!("bob:$7${ITERATIONS}$")), "{text}");
        let back = PasswordFile::load(&path).expect("load");
        std::fs::remove_file(&path).ok();
        assert!(back.get("bob").expect("bob").verify(b"pa:ss word"));
        assert_eq!(back.len(), 2);
        // Two users with one password do not share a hash.
        file.set("dave", "x").expect("set");
        assert_ne!(file.get("carol"), file.get("dave"));
    }

    #[test]
    fn bad_lines_are_named() {
        for bad in [
            "eve",
            "eve:plain",
            "eve:$6$abc$def",
            "eve:$7$0$AAAA$AAAA",
            ":$7$101$5cpkaKh9b4W9HYTT$V8czuuhaVyxfonJu12ptzwCBf17aAGSig7wqCvzp8AovNX6ZWLTR7iErxzoingOp9KidSPZBCZLqFhXHzJB51g==",
        ] {
            let text = format!("# users\n\n{bad}\n");
            let e = PasswordFile::parse(&text, "pw").expect_err(bad).to_string();
            assert!(e.starts_with("pw:3: "), "{bad}: {e}");
        }
        let mut file = PasswordFile::default();
        assert!(file.set("a:b", "x").is_err());
        assert!(file.set("", "x").is_err());
    }
}
