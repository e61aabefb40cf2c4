//! The browser's localStorage: settings and profiles only, never messages
//! (MQTTX #1104 corrupted stores by writing every message).

use crate::state::Profiles;

const PROFILES_KEY: &str = "mqtt-dashboard.profiles";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load_profiles() -> Profiles {
    local_storage()
        .and_then(|s| s.get_item(PROFILES_KEY).ok().flatten())
        .map(|json| Profiles::from_json(&json))
        .unwrap_or_default()
}

/// Saves the profiles; returns whether the browser kept them (private
/// windows and full quotas refuse).
pub fn save_profiles(profiles: &Profiles) -> bool {
    local_storage().is_some_and(|s| s.set_item(PROFILES_KEY, &profiles.to_json()).is_ok())
}

const THEME_KEY: &str = "mqtt-dashboard.theme";

/// "light", "dark", or `None` to follow the system.
pub fn load_theme() -> Option<String> {
    local_storage()
        .and_then(|s| s.get_item(THEME_KEY).ok().flatten())
        .filter(|t| t == "light" || t == "dark")
}

pub fn save_theme(theme: Option<&str>) {
    if let Some(s) = local_storage() {
        let _ = match theme {
            Some(t) => s.set_item(THEME_KEY, t),
            None => s.remove_item(THEME_KEY),
        };
    }
}
