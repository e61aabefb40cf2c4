//! Who may connect, and what each client may publish, subscribe to and
//! receive.
//!
//! - [`password`]: the password file (Mosquitto's `$7$` PBKDF2-SHA512 lines).
//! - [`acl`]: the ACL file (Mosquitto's `user` / `topic` / `pattern` lines).
//!
//! Without either file every client is welcome everywhere, as before.

pub mod acl;
pub mod password;

use acl::{AclFile, ClientAcl};
use mqtt_proto::ReasonCode;
use password::{PasswordFile, PasswordHash};
use std::path::PathBuf;

/// Where the files are, from the configuration.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
    /// Whether clients without a user name are let in. Defaults to true
    /// without a password file and false with one.
    pub allow_anonymous: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Acl(#[from] acl::AclError),
    #[error("allow_anonymous = false needs a password_file: otherwise nobody could connect")]
    NobodyAllowed,
}

/// The loaded files.
#[derive(Debug, Default)]
pub struct Auth {
    passwords: Option<PasswordFile>,
    acl: Option<AclFile>,
    allow_anonymous: bool,
}

/// Who a connected client is, as far as access goes.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub username: Option<String>,
    /// `None`: no ACL file, everything allowed.
    pub acl: Option<ClientAcl>,
}

impl Identity {
    pub fn can_write(&self, topic: &str) -> bool {
        self.acl.as_ref().is_none_or(|a| a.can_write(topic))
    }

    pub fn can_read(&self, topic: &str) -> bool {
        self.acl.as_ref().is_none_or(|a| a.can_read(topic))
    }

    pub fn can_subscribe(&self, filter: &str) -> bool {
        let filter = mqtt_proto::topic::parse_shared(filter).map_or(filter, |(_, f)| f);
        self.acl.as_ref().is_none_or(|a| a.can_subscribe(filter))
    }
}

impl Auth {
    pub fn load(config: &AuthConfig) -> Result<Auth, AuthError> {
        let passwords = match &config.password_file {
            Some(path) => Some(PasswordFile::load(path)?),
            None => None,
        };
        let acl = match &config.acl_file {
            Some(path) => Some(AclFile::load(path)?),
            None => None,
        };
        let allow_anonymous = config.allow_anonymous.unwrap_or(passwords.is_none());
        if !allow_anonymous && passwords.is_none() {
            return Err(AuthError::NobodyAllowed);
        }
        Ok(Auth {
            passwords,
            acl,
            allow_anonymous,
        })
    }

    /// Users in the password file, if there is one.
    pub fn users(&self) -> Option<usize> {
        self.passwords.as_ref().map(PasswordFile::len)
    }

    pub fn has_acl(&self) -> bool {
        self.acl.is_some()
    }

    pub fn allows_anonymous(&self) -> bool {
        self.allow_anonymous
    }

    /// Checks CONNECT's credentials. Slow on purpose when there is a
    /// password file (a salted hash per attempt): run it off the async threads.
    pub fn authenticate(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        client_id: &str,
    ) -> Result<Identity, ReasonCode> {
        match (&self.passwords, username) {
            (_, None) if !self.allow_anonymous => return Err(ReasonCode::NotAuthorized),
            (Some(file), Some(user)) => {
                let password = password.unwrap_or_default();
                let known = match file.get(user) {
                    Some(hash) => hash.verify(password),
                    None => {
                        PasswordHash::verify_nobody(password);
                        false
                    }
                };
                if !known {
                    return Err(ReasonCode::BadUserNameOrPassword);
                }
            }
            _ => {}
        }
        Ok(Identity {
            username: username.map(str::to_owned),
            acl: self.acl.as_ref().map(|a| a.for_client(username, client_id)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(users: &[(&str, &str)], acl: Option<&str>, allow_anonymous: Option<bool>) -> Auth {
        let mut passwords = PasswordFile::default();
        for (user, pass) in users {
            passwords.set(user, pass).expect("set");
        }
        Auth {
            passwords: (!users.is_empty()).then_some(passwords),
            acl: acl.map(|text| AclFile::parse(text, "acl").expect("acl")),
            allow_anonymous: allow_anonymous.unwrap_or(users.is_empty()),
        }
    }

    #[test]
    fn a_password_file_refuses_strangers_and_anonymous_clients() {
        let a = auth(&[("alice", "s3cret")], None, None);
        assert!(a.authenticate(Some("alice"), Some(b"s3cret"), "c").is_ok());
        let refused = |u, p| a.authenticate(u, p, "c").expect_err("refused");
        assert_eq!(
            refused(Some("alice"), Some(b"wrong")),
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            refused(Some("alice"), None),
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            refused(Some("bob"), Some(b"s3cret")),
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(refused(None, None), ReasonCode::NotAuthorized);
        let open = auth(&[("alice", "s3cret")], None, Some(true));
        assert!(
            open.authenticate(None, None, "c").is_ok(),
            "allow_anonymous"
        );
    }

    #[test]
    fn identities_carry_their_acl() {
        let a = auth(&[], Some("topic read public/#\nuser u\ntopic u/#"), None);
        let anon = a.authenticate(None, None, "c").expect("anonymous");
        assert!(anon.can_read("public/x") && !anon.can_write("public/x"));
        assert!(anon.can_subscribe("$share/g/public/#"));
        // Without a password file a user name is taken as given.
        let u = a.authenticate(Some("u"), None, "c").expect("u");
        assert!(u.can_write("u/x") && !u.can_read("public/x"));
        let everyone = auth(&[], None, None)
            .authenticate(None, None, "c")
            .expect("ok");
        assert!(everyone.can_write("any/thing") && everyone.can_subscribe("#"));
    }

    #[test]
    fn refusing_everyone_is_a_configuration_error() {
        let config = AuthConfig {
            allow_anonymous: Some(false),
            ..AuthConfig::default()
        };
        assert!(matches!(Auth::load(&config), Err(AuthError::NobodyAllowed)));
    }
}
