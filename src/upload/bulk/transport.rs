//! How a bulk upload reaches the API: one POST of a request body for an
//! asset. Behind a trait, so that the scheduling, retries and bookkeeping
//! are tested in-process against an API of the test's own.

use super::super::{Answer, ApiKey, Client, Endpoint, Upload, UploadError};
use crate::Method;

/// Posts request bodies.
pub(crate) trait Transport: Sync {
    /// POSTs `body` for `asset`; the API's 2xx answer, or why not.
    fn post(&self, asset: &str, body: &str) -> Result<Answer, UploadError>;
}

/// The real API, through the HTTP client.
pub(crate) struct Http<'a> {
    pub client: &'a Client,
    pub endpoint: &'a Endpoint,
    pub api_key: &'a ApiKey,
    pub method: Method,
}

impl Transport for Http<'_> {
    fn post(&self, asset: &str, body: &str) -> Result<Answer, UploadError> {
        let upload = Upload {
            endpoint: self.endpoint,
            method: self.method,
            asset_id: asset,
            body,
        };
        self.client.send(&upload, self.api_key)
    }
}
