//! Connection settings and the saved profiles (kept in the browser's
//! localStorage as JSON; messages never are).

use serde::{Deserialize, Serialize};

/// The Last Will the broker publishes if the page drops off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WillSettings {
    pub topic: String,
    pub payload: String,
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
    /// `ws://` or `wss://`; empty means the page's own origin at `/mqtt`.
    pub url: String,
    /// Empty: a fresh random id per page.
    pub client_id: String,
    pub username: String,
    /// Kept in memory; saved with the profile only when `remember_password`.
    pub password: String,
    pub remember_password: bool,
    /// 5 for MQTT 5.0, anything else 3.1.1.
    pub protocol: u8,
    pub keep_alive_secs: u16,
    pub clean_start: bool,
    /// MQTT 5.0 Session Expiry Interval.
    pub session_expiry_secs: u32,
    /// Used when its topic is not empty.
    pub will: WillSettings,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            url: String::new(),
            client_id: String::new(),
            username: String::new(),
            password: String::new(),
            remember_password: false,
            protocol: 4,
            keep_alive_secs: 30,
            clean_start: true,
            session_expiry_secs: 0,
            will: WillSettings::default(),
        }
    }
}

impl ConnectionSettings {
    /// Why these settings cannot connect, in words.
    pub fn problem(&self) -> Option<String> {
        let url = self.url.trim();
        if !url.is_empty() && !url.starts_with("ws://") && !url.starts_with("wss://") {
            return Some("The broker URL starts with ws:// or wss://.".to_owned());
        }
        if self.client_id.len() > 256 {
            return Some(
                "A client id longer than 256 bytes is refused by most brokers.".to_owned(),
            );
        }
        let will = self.will.topic.trim();
        if !will.is_empty() && mqtt_proto::topic::validate_topic_name(will).is_err() {
            return Some("The Last Will topic is a topic name, without + or #.".to_owned());
        }
        if self.will.qos > 2 {
            return Some("QoS is 0, 1 or 2.".to_owned());
        }
        None
    }

    pub fn is_v5(&self) -> bool {
        self.protocol == 5
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    pub settings: ConnectionSettings,
    /// The rules and alerts used with this connection.
    pub rules: Vec<super::rules::RuleSpec>,
    /// The custom charts on the page with this connection.
    pub charts: Vec<super::charts::ChartSpec>,
}

/// Saved connection profiles and which one the page uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profiles {
    pub active: String,
    pub list: Vec<Profile>,
}

pub const DEFAULT_PROFILE: &str = "This site's broker";

impl Default for Profiles {
    fn default() -> Self {
        Profiles {
            active: DEFAULT_PROFILE.to_owned(),
            list: vec![Profile {
                name: DEFAULT_PROFILE.to_owned(),
                ..Profile::default()
            }],
        }
    }
}

impl Profiles {
    /// Profiles from their saved JSON; anything unreadable gives the
    /// defaults rather than a broken page (MQTTX #1104).
    pub fn from_json(json: &str) -> Profiles {
        let mut profiles: Profiles = serde_json::from_str(json).unwrap_or_default();
        profiles.list.retain(|p| !p.name.trim().is_empty());
        if profiles.list.is_empty() {
            return Profiles::default();
        }
        if profiles.get(&profiles.active).is_none() {
            profiles.active = profiles.list[0].name.clone();
        }
        profiles
    }

    /// The JSON to save: passwords only where the profile says so.
    pub fn to_json(&self) -> String {
        let mut saved = self.clone();
        for p in &mut saved.list {
            if !p.settings.remember_password {
                p.settings.password.clear();
            }
        }
        serde_json::to_string(&saved).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.list.iter().find(|p| p.name == name)
    }

    pub fn active_settings(&self) -> ConnectionSettings {
        self.get(&self.active)
            .map(|p| p.settings.clone())
            .unwrap_or_default()
    }

    /// Saves `settings` under `name` (replacing one of that name) and makes
    /// it the active profile.
    pub fn save(&mut self, name: &str, settings: ConnectionSettings) -> Result<(), String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("Give the profile a name.".to_owned());
        }
        if let Some(p) = settings.problem() {
            return Err(p);
        }
        match self.list.iter_mut().find(|p| p.name == name) {
            Some(p) => p.settings = settings,
            None => {
                // A new profile starts with the rules and charts of the one
                // it came from.
                let rules = self.active_rules();
                let charts = self.active_charts();
                self.list.push(Profile {
                    name: name.to_owned(),
                    settings,
                    rules,
                    charts,
                })
            }
        }
        self.active = name.to_owned();
        Ok(())
    }

    pub fn active_rules(&self) -> Vec<super::rules::RuleSpec> {
        self.get(&self.active)
            .map(|p| p.rules.clone())
            .unwrap_or_default()
    }

    /// Replaces the active profile's rules.
    pub fn set_active_rules(&mut self, rules: Vec<super::rules::RuleSpec>) {
        let active = self.active.clone();
        if let Some(p) = self.list.iter_mut().find(|p| p.name == active) {
            p.rules = rules;
        }
    }

    pub fn active_charts(&self) -> Vec<super::charts::ChartSpec> {
        self.get(&self.active)
            .map(|p| p.charts.clone())
            .unwrap_or_default()
    }

    /// Replaces the active profile's custom charts.
    pub fn set_active_charts(&mut self, charts: Vec<super::charts::ChartSpec>) {
        let active = self.active.clone();
        if let Some(p) = self.list.iter_mut().find(|p| p.name == active) {
            p.charts = charts;
        }
    }

    /// Removes a profile; the last one cannot go.
    pub fn delete(&mut self, name: &str) -> bool {
        if self.list.len() <= 1 {
            return false;
        }
        self.list.retain(|p| p.name != name);
        if self.active == name {
            self.active = self.list[0].name.clone();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_user(user: &str, password: &str, remember: bool) -> ConnectionSettings {
        ConnectionSettings {
            url: "wss://broker.example/mqtt".into(),
            username: user.into(),
            password: password.into(),
            remember_password: remember,
            ..ConnectionSettings::default()
        }
    }

    #[test]
    fn save_select_and_round_trip_through_json() {
        let mut profiles = Profiles::default();
        profiles
            .save("Plant", with_user("alice", "s3cret", false))
            .expect("valid");
        profiles
            .save("Lab", with_user("bob", "hunter2", true))
            .expect("valid");
        assert_eq!(profiles.active, "Lab");
        let restored = Profiles::from_json(&profiles.to_json());
        assert_eq!(restored.list.len(), 3);
        assert_eq!(restored.active, "Lab");
        assert_eq!(restored.active_settings().password, "hunter2");
        let plant = restored.get("Plant").expect("saved");
        assert_eq!(plant.settings.username, "alice");
        assert_eq!(plant.settings.password, "", "not remembered");
        // Saving under the same name replaces.
        let mut again = restored.clone();
        again
            .save("Plant", with_user("carol", "", false))
            .expect("valid");
        assert_eq!(again.list.len(), 3);
        assert_eq!(again.active_settings().username, "carol");
    }

    #[test]
    fn rules_and_charts_are_saved_with_the_profile() {
        let mut profiles = Profiles::default();
        let hot = super::super::rules::RuleSpec {
            name: "Hot".into(),
            topic: "sensors/#".into(),
            condition: "temperature > 30".into(),
            notify: true,
        };
        let flow = super::super::charts::ChartSpec {
            filter: "plant/+/flow".into(),
            field: "data.rate".into(),
            unit: "l/min".into(),
        };
        profiles.set_active_rules(vec![hot.clone()]);
        profiles.set_active_charts(vec![flow.clone()]);
        profiles
            .save("Copy", ConnectionSettings::default())
            .expect("valid");
        let restored = Profiles::from_json(&profiles.to_json());
        assert_eq!(restored.active_rules(), std::slice::from_ref(&hot));
        assert_eq!(
            restored.get(DEFAULT_PROFILE).map(|p| p.rules.clone()),
            Some(vec![hot])
        );
        assert_eq!(
            restored.active_charts(),
            std::slice::from_ref(&flow),
            "a new profile starts with them"
        );
        assert_eq!(
            restored.get(DEFAULT_PROFILE).map(|p| p.charts.clone()),
            Some(vec![flow])
        );
        // Profiles saved before charts were read as having none.
        let old = Profiles::from_json(r#"{"active":"A","list":[{"name":"A","rules":[]}]}"#);
        assert!(old.active_charts().is_empty());
    }

    #[test]
    fn unreadable_storage_gives_defaults() {
        assert_eq!(Profiles::from_json("not json"), Profiles::default());
        assert_eq!(Profiles::from_json(r#"{"list":[]}"#), Profiles::default());
        let odd = Profiles::from_json(
            r#"{"active":"gone","list":[{"name":"A","settings":{"url":"ws://a"}}]}"#,
        );
        assert_eq!(odd.active, "A");
        assert_eq!(
            odd.active_settings().keep_alive_secs,
            30,
            "missing fields default"
        );
    }

    #[test]
    fn problems_and_deletion() {
        let bad_url = ConnectionSettings {
            url: "http://x".into(),
            ..ConnectionSettings::default()
        };
        assert!(bad_url.problem().is_some());
        let bad_will = ConnectionSettings {
            will: WillSettings {
                topic: "a/+".into(),
                ..WillSettings::default()
            },
            ..ConnectionSettings::default()
        };
        assert!(bad_will.problem().is_some());
        let mut profiles = Profiles::default();
        assert!(profiles.save("", ConnectionSettings::default()).is_err());
        assert!(!profiles.delete(DEFAULT_PROFILE), "the last one stays");
        profiles
            .save("Other", ConnectionSettings::default())
            .expect("valid");
        assert!(profiles.delete("Other"));
        assert_eq!(profiles.active, DEFAULT_PROFILE);
    }
}
