use crate::storage;
use leptos::prelude::*;

/// Applies a theme choice to the page: `data-theme` on `<html>`, or none to
/// follow the system; charts redraw in the new colours.
pub fn apply_theme(theme: Option<&str>) {
    if let Some(root) = document().document_element() {
        let _ = match theme {
            Some(t) => root.set_attribute("data-theme", t),
            None => root.remove_attribute("data-theme"),
        };
    }
    if let Ok(event) = web_sys::Event::new("resize") {
        let _ = window().dispatch_event(&event);
    }
}

/// Cycles the theme: system, light, dark. The choice is remembered.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(storage::load_theme());
    apply_theme(theme.get_untracked().as_deref());
    let next = move |_| {
        let chosen = match theme.get_untracked().as_deref() {
            None => Some("light".to_owned()),
            Some("light") => Some("dark".to_owned()),
            _ => None,
        };
        apply_theme(chosen.as_deref());
        storage::save_theme(chosen.as_deref());
        theme.set(chosen);
    };
    let (icon, label) = (
        move || match theme.get().as_deref() {
            Some("light") => "☀",
            Some("dark") => "☾",
            _ => "◐",
        },
        move || match theme.get().as_deref() {
            Some("light") => "Theme: light (click for dark)",
            Some("dark") => "Theme: dark (click to follow the system)",
            _ => "Theme: as the system (click for light)",
        },
    );
    view! {
        <button class="button theme-toggle" aria-label=label title=label on:click=next data-theme-choice=move || theme.get().unwrap_or_else(|| "system".into())>
            {icon}
        </button>
    }
}
