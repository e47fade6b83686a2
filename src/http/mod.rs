//! HTTP/1 request-head validation with Gunicorn 27's rules and limits.
//!
//! BOOTSTRAP PLACEHOLDER: the validator lands in its own change.
