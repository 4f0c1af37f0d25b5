//! Text from outside (providers, servers, files) made safe to show.

/// Provider text for display: control characters dropped, length capped. The UI renders it
/// as text, never HTML (S9).
pub fn plain_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}
