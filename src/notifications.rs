//! Browser notifications for rules, only once the person allowed them.

use crate::state::rules::Notify;
use web_sys::{Notification, NotificationOptions, NotificationPermission};

pub fn permission() -> NotificationPermission {
    Notification::permission()
}

/// Shows a notification if the person allowed them; otherwise nothing (the
/// alert badge and list still show the alert).
pub fn show(note: &Notify) {
    if permission() != NotificationPermission::Granted {
        return;
    }
    let options = NotificationOptions::new();
    options.set_body(&note.body);
    // Repeats of a rule replace its notification instead of stacking.
    options.set_tag(&note.title);
    let _ = Notification::new_with_options(&note.title, &options);
}

/// Asks for permission; `done` gets whether it was granted.
pub fn request(done: impl FnOnce(bool) + 'static) {
    let Ok(promise) = Notification::request_permission() else {
        done(false);
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let granted = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .is_some_and(|v| v == "granted");
        done(granted);
    });
}
