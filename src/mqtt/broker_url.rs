//! Which broker the page talks to.

/// The broker URL for a page at `protocol//host` with query string `search`:
/// `?broker=ws://...` when given, otherwise `/mqtt` on the page's own origin
/// (trunk serve and the bridge both put the broker there), with `wss` on
/// an `https` page.
pub fn resolve(protocol: &str, host: &str, search: &str) -> String {
    let explicit = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("broker="))
        .map(percent_decode)
        .filter(|url| url.starts_with("ws://") || url.starts_with("wss://"));
    explicit.unwrap_or_else(|| {
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        format!("{scheme}://{host}/mqtt")
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_own_origin() {
        assert_eq!(
            resolve("http:", "127.0.0.1:8080", ""),
            "ws://127.0.0.1:8080/mqtt"
        );
        assert_eq!(
            resolve("https:", "site.example", "?x=1"),
            "wss://site.example/mqtt"
        );
    }

    #[test]
    fn query_overrides() {
        assert_eq!(
            resolve("http:", "h", "?broker=ws%3A%2F%2F127.0.0.1%3A9001%2Fmqtt"),
            "ws://127.0.0.1:9001/mqtt"
        );
        assert_eq!(
            resolve("http:", "h", "?a=b&broker=wss://broker.local:8884/mqtt"),
            "wss://broker.local:8884/mqtt"
        );
        // Only WebSocket URLs are taken.
        assert_eq!(
            resolve("http:", "h", "?broker=javascript:alert(1)"),
            "ws://h/mqtt"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
