//! Request bodies of any serializable type, behind one object-safe trait.

use serde::Serialize;

/// A JSON body that can attach itself to a request.
pub trait Body {
    /// Sets the body.
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
}

impl<T: Serialize> Body for T {
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.json(self)
    }
}
