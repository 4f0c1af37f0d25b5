//! OAuth 2.0 flows on top of the `oauth2` crate.
